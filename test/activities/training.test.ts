/**
 * trainModel in MockActivityEnvironment with the real local trainer (a child process) over a small dataset
 * version written with the manifest helpers: heartbeats per epoch, the artifact, a retry after upload, and
 * cancellation killing the child.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_FIELD, manifestKey, objectKey, sha256, type Manifest } from '../../src/activities/manifest';
import { artifactKeyFor, createTrainingActivities } from '../../src/activities/training';
import { canonicalJson } from '../../src/data/jsonl';
import { writeRecordsParquet } from '../../src/data/parquet';
import { createDirSpecSource } from '../../src/data/spec-source';
import { generateTicketLines } from '../../src/data/sample-tickets';
import { ErrorType } from '../../src/shared/errors';
import type { TrainResult } from '../../src/shared/types';
import { createLocalTrainer, type TrainerBackend } from '../../src/training/local-trainer';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, gpuDeps, specsWith } from './activity-fixtures';

const versionId = 'dv-test-training';
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-train-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A one-partition dataset version of labeled sample tickets, stored as the versioning activity stores it. */
async function storeVersion(
  blobs: MemoryBlobStore,
  count: number,
  labelOf = (i: number, trueQueue?: string): unknown => trueQueue,
): Promise<void> {
  const rows = generateTicketLines({ date: '2024-03-01', count, seed: 21, badLineFraction: 0, duplicateFraction: 0 })
    .map((g, i) => ({ ...(JSON.parse(g.line) as Record<string, unknown>), queue: labelOf(i, g.trueQueue) }))
    .map((r) => ({ ...r, [HASH_FIELD]: sha256(canonicalJson(r)) }));
  const { spec } = await createDirSpecSource(SPECS_DIR).load('tickets');
  const content = writeRecordsParquet(
    rows.map(({ [HASH_FIELD]: h, ...record }) => ({ record, hash: h })),
    spec,
  );
  const hash = sha256(content);
  await blobs.put(objectKey('tickets', hash), content);
  const manifest: Manifest = {
    format: 'trainset-manifest-v2',
    versionId,
    dataset: 'tickets',
    specHash: 'test',
    logicalDate: '2024-03-01',
    partitions: [{ partition: '2024-03-01', object: hash, rows: rows.length, bytes: content.length }],
    rows: rows.length,
    labelDistribution: {},
  };
  await blobs.put(manifestKey('tickets', versionId), JSON.stringify(manifest));
}

/** A trainer that counts its runs. */
function counting(inner: TrainerBackend): TrainerBackend & { runs: number } {
  const t = {
    runs: 0,
    run: (job: Parameters<TrainerBackend['run']>[0], hooks: Parameters<TrainerBackend['run']>[1]) => (t.runs++, inner.run(job, hooks)),
  };
  return t;
}

/** Command lines of live processes that mention a path (the trainer child gets its job dir as an argument). */
async function processesMentioning(p: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(p)) found.push(cmd.replace(/\0/g, ' '));
  }
  return found;
}

describe('trainModel', () => {
  it('heartbeats every epoch, uploads the artifact, and returns the cached result on a retry', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 240);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 8 } }));
    const trainer = counting(createLocalTrainer());
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, trainer, workDir, specs));
    const input = { dataset: 'tickets', versionId, jobKey: 'tickets-classifier/dv-test-training', shuffleLabels: false };

    const env = new MockActivityEnvironment();
    const beats: Array<{ epoch: number; epochs: number }> = [];
    env.on('heartbeat', (d: { epoch: number; epochs: number }) => beats.push(d));
    const r: TrainResult = await env.run(trainModel, input);

    expect(beats.map((b) => b.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(beats.every((b) => b.epochs === 8)).toBe(true);
    expect(r.epochs).toBe(8);
    expect(r.artifactKey).toBe(artifactKeyFor(input.jobKey));
    expect(await blobs.head(r.artifactKey)).toBeDefined();
    expect(r.validationMetrics.n).toBeGreaterThan(0);
    expect(r.validationMetrics.accuracy).toBeGreaterThan(0.5); // the sample tickets are learnable
    expect(trainer.runs).toBe(1);

    const again = await new MockActivityEnvironment({ attempt: 2 }).run(trainModel, input);
    expect(again).toEqual(r);
    expect(trainer.runs).toBe(1);
  });

  it('kills the trainer process and throws CancelledFailure when the activity is cancelled', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 400);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 500 } }));
    const cancelDir = await mkdtemp(path.join(workDir, 'cancel-'));
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, createLocalTrainer({ killGraceMs: 2000 }), cancelDir, specs));

    const env = new MockActivityEnvironment();
    let beats = 0;
    let childWhileRunning: string[] = [];
    env.on('heartbeat', () => {
      beats += 1;
      if (beats === 2) {
        void processesMentioning(cancelDir).then((p) => {
          childWhileRunning = p;
          env.cancel();
        });
      }
    });
    const started = Date.now();
    const err = await env
      .run(trainModel, { dataset: 'tickets', versionId, jobKey: 'tickets-classifier/cancel-me', shuffleLabels: false })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(CancelledFailure);
    expect(childWhileRunning.length).toBeGreaterThan(0); // the child really was running...
    expect(await processesMentioning(cancelDir)).toEqual([]); // ...and is gone once the activity has thrown
    expect(beats).toBeLessThan(500);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(blobs.keys().filter((k) => k.startsWith('models/'))).toEqual([]);
  });

  it('fails non-retryably with TrainingFailed when the trainer rejects its input', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 120, (i, q) => (i === 3 ? 'sales' : q)); // a label outside the spec's classes
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, createLocalTrainer(), workDir));
    const err = (await new MockActivityEnvironment()
      .run(trainModel, { dataset: 'tickets', versionId, jobKey: 'tickets-classifier/bad-input', shuffleLabels: false })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.TrainingFailed);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/has a label that is not one of the job's classes/);
  });
});
