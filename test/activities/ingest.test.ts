/** ingestPartition in MockActivityEnvironment over an in-memory blob store and the real tickets spec. */
import { gzipSync } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/activity';
import { beforeAll, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../../src/activities/ingest';
import { workStampKey } from '../../src/datasets/work-files';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { ErrorType } from '../../src/shared/errors';
import type { IngestResult } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const partition = '2024-03-01';
const rawKey = `raw/tickets/${partition}/part-0000.jsonl`;
let specHash: string;

beforeAll(async () => {
  specHash = (await createDirSpecSource(SPECS_DIR).load('tickets')).specHash;
});

/** Run ingestPartition and return its failure (fails the test when it succeeds). */
async function ingestFailure(blobs: MemoryBlobStore, p = partition): Promise<ApplicationFailure> {
  const { ingestPartition } = createIngestActivities(cpuDeps(blobs));
  const err = await new WorkerActivityEnvironment()
    .run(ingestPartition, { dataset: 'tickets', partition: p, specHash })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('ingestPartition', () => {
  it('accounts for every line: accepted to the work area, quarantined with their reasons', async () => {
    const lines = generateTicketLines({ date: partition, count: 300, seed: 11, badLineFraction: 0.05 });
    const blobs = new MemoryBlobStore();
    await blobs.put(rawKey, `${lines.map((l) => l.line).join('\n')}\n`);
    const { ingestPartition } = createIngestActivities(cpuDeps(blobs));
    const r: IngestResult = await new WorkerActivityEnvironment().run(ingestPartition, { dataset: 'tickets', partition, specHash });

    const bad = lines.filter((l) => l.kind === 'bad').length;
    expect(bad).toBeGreaterThan(0);
    expect(r).toMatchObject({ recordsIn: 300, accepted: 300 - bad, quarantined: bad, files: 1 });
    expect(Object.values(r.byReason).reduce((a, b) => a + b, 0)).toBe(bad);
    expect(blobs.jsonl(r.stagedKey).trim().split('\n')).toHaveLength(300 - bad);

    // The quarantine object holds one line per rejected line, with its reason and location.
    expect(r.quarantineKey).toMatch(new RegExp(`^quarantine/tickets/${partition}/`));
    const quarantined = blobs
      .jsonl(r.quarantineKey!)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; line: number; reason: string });
    expect(quarantined).toHaveLength(bad);
    const reasons: Record<string, number> = {};
    for (const q of quarantined) {
      expect(q.file).toBe(rawKey);
      expect(q.line).toBeGreaterThan(0);
      reasons[q.reason] = (reasons[q.reason] ?? 0) + 1;
    }
    expect(reasons).toEqual(r.byReason);
  });

  it('returns the stored summary on a retry without reading the partition again', async () => {
    const blobs = new MemoryBlobStore();
    await blobs.put(
      rawKey,
      `${generateTicketLines({ date: partition, count: 50, seed: 3 })
        .map((l) => l.line)
        .join('\n')}\n`,
    );
    const { ingestPartition } = createIngestActivities(cpuDeps(blobs));
    const input = { dataset: 'tickets', partition, specHash };
    const first = await new WorkerActivityEnvironment().run(ingestPartition, input);
    expect(blobs.reads.get(rawKey)).toBe(1);
    const again = await new WorkerActivityEnvironment({ attempt: 2 }).run(ingestPartition, input);
    expect(again).toEqual(first);
    expect(blobs.reads.get(rawKey)).toBe(1);
  });

  it('fails non-retryably with QuarantineRateExceeded, naming the top reasons but no record content', async () => {
    const secret = 'jane.quarantined@example.org';
    const good = generateTicketLines({ date: partition, count: 10, seed: 5, badLineFraction: 0, duplicateFraction: 0 }).map((l) => l.line);
    const truncated = Array.from({ length: 6 }, (_, i) => `{"id":"T-${i}","body":"write to ${secret} about`);
    const wrongChannel = Array.from({ length: 2 }, (_, i) => JSON.stringify({ ...JSON.parse(good[i]!), id: `W-${i}`, channel: 'fax' }));
    const blobs = new MemoryBlobStore();
    await blobs.put(rawKey, [...good, ...truncated, ...wrongChannel].join('\n'));

    const err = await ingestFailure(blobs);
    expect(err.type).toBe(ErrorType.QuarantineRateExceeded);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/44\.4% of 18 lines quarantined, above the spec's 20\.0%/);
    expect(err.message).toMatch(/top reasons: invalid_json \(6\), invalid_enum:channel \(2\)/);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain('write to');
    // The quarantine object the message points at exists; nothing is staged for the next stage.
    const quarantineKey = blobs.keys().find((k) => k.startsWith('quarantine/'));
    expect(quarantineKey).toBeDefined();
    expect(err.message).toContain(quarantineKey!.replace(/\.part-\d+\.jsonl$/, '.part-*.jsonl'));
    // Only the stamp that keeps a sweep off the partition while its run works on it.
    expect(blobs.keys().filter((k) => k.startsWith('work/'))).toEqual([workStampKey('tickets', partition)]);
  });

  it('fails non-retryably with PartitionNotFound when the partition has no files', async () => {
    const blobs = new MemoryBlobStore();
    await blobs.put(`raw/tickets/2024-03-02/part-0000.jsonl`, '{}\n');
    await blobs.put(`raw/tickets/${partition}/README.txt`, 'not data');
    const err = await ingestFailure(blobs);
    expect(err.type).toBe(ErrorType.PartitionNotFound);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(`memory://test/raw/tickets/${partition}/`);
  });

  it('fails non-retryably with InvalidSpec when the spec changed since the run resolved it', async () => {
    const blobs = new MemoryBlobStore();
    await blobs.put(rawKey, '{}\n');
    const { ingestPartition } = createIngestActivities(cpuDeps(blobs));
    const err = (await new WorkerActivityEnvironment()
      .run(ingestPartition, { dataset: 'tickets', partition, specHash: 'stale' })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.type).toBe(ErrorType.InvalidSpec);
    expect(err.nonRetryable).toBe(true);
  });

  it('reads gzipped JSONL and CSV files of one partition through the same contract', async () => {
    const lines = generateTicketLines({ date: partition, count: 100, seed: 5, badLineFraction: 0 }).map((l) => l.line);
    const blobs = new MemoryBlobStore();
    await blobs.put(`raw/tickets/${partition}/part-0000.jsonl.gz`, gzipSync(`${lines.slice(0, 60).join('\n')}\n`));
    const header = 'id,created_at,channel,subject,body,queue';
    const csvRows = lines.slice(60).map((l) => {
      const r = JSON.parse(l) as Record<string, string | undefined>;
      const cell = (v: string | undefined): string => `"${String(v ?? '').replace(/"/g, '""')}"`;
      return [r.id, r.created_at, r.channel, r.subject, r.body, r.queue].map(cell).join(',');
    });
    await blobs.put(`raw/tickets/${partition}/part-0001.csv`, `${header}\n${csvRows.join('\n')}\n`);
    await blobs.put(`raw/tickets/${partition}/_SUCCESS`, '');
    const { ingestPartition } = createIngestActivities(cpuDeps(blobs));
    const r: IngestResult = await new WorkerActivityEnvironment().run(ingestPartition, { dataset: 'tickets', partition, specHash });
    expect(r).toMatchObject({ files: 2, recordsIn: 100, quarantined: 0, accepted: 100 });
  });

  it('fails the partition non-retryably, naming the file, when a gzip input decompresses past the cap', async () => {
    const blobs = new MemoryBlobStore();
    // 64 MiB of zeros compresses to ~64 KiB; the spec's cap is lowered below to keep the test small.
    await blobs.put(`raw/tickets/${partition}/bomb.jsonl.gz`, gzipSync(Buffer.alloc(64 * 1024 * 1024)));
    const deps = cpuDeps(blobs);
    const loaded = await deps.specs.load('tickets');
    deps.specs = {
      load: async () => ({ ...loaded, spec: { ...loaded.spec, ingest: { ...loaded.spec.ingest, maxDecompressedBytes: 1024 * 1024 } } }),
    };
    const { ingestPartition } = createIngestActivities(deps);
    const err = await new WorkerActivityEnvironment()
      .run(ingestPartition, { dataset: 'tickets', partition, specHash })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(ErrorType.InputFileUnreadable);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).message).toContain('bomb.jsonl.gz');
  });
});
