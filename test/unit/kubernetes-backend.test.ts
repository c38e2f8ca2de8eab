/**
 * The kubernetes trainer backend against a scripted fake of the BatchV1Api and CoreV1Api methods it calls (no
 * Kubernetes API server can run here): the fake records every call and plays the Job, its pod and the trainer's
 * log as each test scripts them; the blob store is a real local-folder one, with the sidecar's uploads scripted.
 * Time is a fake clock, so polling and the hang timeout run without real waits.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainerSpecSchema, type TrainerSpec } from '../../src/shared/trainer-spec';
import { createFsBlobStore } from '../../src/storage';
import type { BlobStore } from '../../src/storage/blob-store';
import { TrainerAbortedError, TrainerHungError, TrainerProcessError, TrainerProtocolError } from '../../src/training/backend-errors';
import type { TrainerMessage } from '../../src/training/contract';
import { jobBlobPrefix, jobSyncKeys } from '../../src/training/job-sync';
import { createKubernetesBackend, LogCursor } from '../../src/training/kubernetes-backend';
import { JOB_KEY_ANNOTATION, trainerJobName } from '../../src/training/kubernetes-manifest';
import { FakeCluster, fakeClock } from '../helpers/fake-kubernetes';

const root = mkdtempSync(join(tmpdir(), 'trainset-k8s-backend-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

interface Setup {
  cluster: FakeCluster;
  blobs: BlobStore;
  jobDir: string;
  jobKey: string;
  trainer: TrainerSpec;
  keys: ReturnType<typeof jobSyncKeys>;
  clock: ReturnType<typeof fakeClock>;
  messages: TrainerMessage[];
  run(over?: { signal?: AbortSignal; onMessage?: (m: TrainerMessage) => void | Promise<void> }): Promise<{ seconds: number }>;
}

function setup(trainerOver: Record<string, unknown> = {}): Setup {
  const id = ++n;
  const jobDir = join(root, `job-${id}`);
  mkdirSync(join(jobDir, 'features'), { recursive: true });
  writeFileSync(join(jobDir, 'job.json'), '{"contract":"trainset-trainer-v1"}');
  writeFileSync(join(jobDir, 'features', 'train.values.npy'), 'npy');
  const blobs = createFsBlobStore(join(root, `blobs-${id}`));
  const cluster = new FakeCluster();
  const clock = fakeClock();
  const jobKey = `reviews-model/v-2026-01-01/t-${id}`;
  const trainer = TrainerSpecSchema.parse({
    backend: 'kubernetes',
    gpus: 1,
    progressTimeoutSeconds: 30,
    kubernetes: { image: 'trainer@sha256:abc', namespace: 'ml', s3CredentialsSecret: 'trainset-s3' },
    ...trainerOver,
  });
  const backend = createKubernetesBackend({
    batch: cluster.batch,
    core: cluster.core,
    blobs,
    blobEnv: { S3_BUCKET: 'trainset' },
    clock,
    pollMs: 2000,
    startTimeoutMs: 60_000,
    outputWaitMs: 20_000,
  });
  const messages: TrainerMessage[] = [];
  return {
    cluster,
    blobs,
    jobDir,
    jobKey,
    trainer,
    clock,
    messages,
    keys: jobSyncKeys(jobBlobPrefix(jobKey)),
    run: (over = {}) =>
      backend.run({
        jobDir,
        jobKey,
        trainer,
        devices: [],
        signal: over.signal,
        onMessage: async (m) => {
          messages.push(m);
          await over.onMessage?.(m);
        },
      }),
  };
}

/** Script of a trainer that trains two epochs, with the sidecar's uploads, ending with exit 0. */
function happyScript(s: Setup): (poll: number) => Promise<void> {
  const { cluster, blobs, keys } = s;
  return async (poll) => {
    if (poll === 1) cluster.trainer({ waiting: { reason: 'PodInitializing' } }, 'Pending');
    if (poll === 2) {
      cluster.trainer({ running: {} });
      cluster.log('loading data', { type: 'progress', epoch: 1, epochs: 2, loss: 0.9 });
      await blobs.put(`${keys.outputs}checkpoints/epoch-0001.pt`, 'weights after epoch 1');
      cluster.log({ type: 'checkpoint', epoch: 1, path: 'checkpoints/epoch-0001.pt' });
    }
    if (poll === 4) {
      cluster.log({ type: 'progress', epoch: 2, epochs: 2, loss: 0.4 }, { type: 'done' });
      cluster.trainer({ terminated: { exitCode: 0, reason: 'Completed' } }, 'Succeeded');
      cluster.finish('Complete');
      await blobs.put(`${keys.outputs}out/model.onnx`, 'onnx');
      await blobs.put(`${keys.outputs}out/metrics.json`, '{"valAccuracy":0.9}');
      await blobs.put(keys.pushed, JSON.stringify({ files: ['checkpoints/epoch-0001.pt', 'out/metrics.json', 'out/model.onnx'], at: '' }));
    }
  };
}

const expectedMessages: TrainerMessage[] = [
  { type: 'progress', epoch: 1, epochs: 2, loss: 0.9 },
  { type: 'checkpoint', epoch: 1, path: 'checkpoints/epoch-0001.pt' },
  { type: 'progress', epoch: 2, epochs: 2, loss: 0.4 },
  { type: 'done' },
];

describe('kubernetes backend (scripted API)', () => {
  it('creates the Job after uploading the job directory, delivers each line once in order with the checkpoint on disk, and brings the outputs home', async () => {
    const s = setup();
    const inputsAtCreate: string[] = [];
    const create = s.cluster.batch.createNamespacedJob;
    s.cluster.batch.createNamespacedJob = async (p) => {
      inputsAtCreate.push(...(await s.blobs.list(s.keys.inputs)).map((b) => b.key.slice(s.keys.inputs.length)));
      return await create(p);
    };
    s.cluster.onPoll = happyScript(s);
    const checkpointOnDisk: string[] = [];
    const result = await s.run({
      onMessage: (m) => {
        if (m.type === 'checkpoint') checkpointOnDisk.push(readFileSync(join(s.jobDir, m.path), 'utf8'));
      },
    });

    expect(s.messages).toEqual(expectedMessages);
    expect(checkpointOnDisk).toEqual(['weights after epoch 1']);
    expect(readFileSync(join(s.jobDir, 'out', 'model.onnx'), 'utf8')).toBe('onnx');
    expect(readFileSync(join(s.jobDir, 'out', 'metrics.json'), 'utf8')).toBe('{"valAccuracy":0.9}');
    expect(inputsAtCreate.sort()).toEqual(['features/train.values.npy', 'job.json']);
    expect(await s.blobs.list(jobBlobPrefix(s.jobKey))).toEqual([]); // prefix cleared once the outputs are home
    expect(result.seconds).toBeGreaterThan(0);

    const creates = s.cluster.calls.filter((c) => c.method === 'createNamespacedJob');
    expect(creates).toHaveLength(1);
    const body = creates[0]!.param.body as V1Job;
    expect(creates[0]!.param.namespace).toBe('ml');
    expect(body.metadata?.name).toBe(trainerJobName(s.jobKey));
    expect(body.spec?.backoffLimit).toBe(0);
    expect(body.spec?.template.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect(s.cluster.methods()).not.toContain('deleteNamespacedJob');
    const logReads = s.cluster.calls.filter((c) => c.method === 'readNamespacedPodLog');
    expect(logReads.length).toBeGreaterThanOrEqual(2);
    for (const c of logReads) expect(c.param).toMatchObject({ namespace: 'ml', container: 'trainer', timestamps: true });
    const selectors = s.cluster.calls.filter((c) => c.method === 'listNamespacedPod').map((c) => c.param.labelSelector);
    expect(new Set(selectors)).toEqual(new Set(['batch.kubernetes.io/controller-uid=uid-1']));
  });

  it('attaches to a running Job with the same name instead of starting a second one (a retried submit)', async () => {
    const s = setup();
    const { buildTrainerJob } = await import('../../src/training/kubernetes-manifest');
    s.cluster.addJob(buildTrainerJob({ jobKey: s.jobKey, trainer: s.trainer, gpus: 1, blobPrefix: jobBlobPrefix(s.jobKey), blobEnv: {} }));
    s.cluster.onPoll = happyScript(s);
    await s.run();
    expect(s.messages).toEqual(expectedMessages);
    expect(s.cluster.methods()).not.toContain('createNamespacedJob');
    expect(s.cluster.methods()).not.toContain('deleteNamespacedJob');
    expect(s.cluster.jobs.size).toBe(1);
  });

  it('attaches when another attempt creates the Job between our read and our create (409 AlreadyExists)', async () => {
    const s = setup();
    const { buildTrainerJob } = await import('../../src/training/kubernetes-manifest');
    const theirs = buildTrainerJob({ jobKey: s.jobKey, trainer: s.trainer, gpus: 1, blobPrefix: jobBlobPrefix(s.jobKey), blobEnv: {} });
    s.cluster.raceJob = {
      ...theirs,
      metadata: { ...theirs.metadata, uid: 'theirs' },
      spec: { ...theirs.spec!, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'theirs' } } },
      status: { active: 1 },
    };
    s.cluster.onPoll = happyScript(s);
    await s.run();
    expect(s.messages).toEqual(expectedMessages);
    expect(s.cluster.methods().filter((m) => m === 'createNamespacedJob')).toHaveLength(1);
    expect(s.cluster.job().metadata?.uid).toBe('theirs');
  });

  it("replaces a Job that failed in an earlier attempt: deleted (Background) and created again, its old pod's log never read", async () => {
    const s = setup();
    const { buildTrainerJob } = await import('../../src/training/kubernetes-manifest');
    s.cluster.addJob(buildTrainerJob({ jobKey: s.jobKey, trainer: s.trainer, gpus: 1, blobPrefix: jobBlobPrefix(s.jobKey), blobEnv: {} }), {
      failed: 1,
      conditions: [{ type: 'Failed', status: 'True' }] as never,
    });
    s.cluster.trainer({ terminated: { exitCode: 1 } }, 'Failed');
    s.cluster.log({ type: 'progress', epoch: 7 });
    await s.blobs.put(`${s.keys.outputs}out/model.onnx`, 'stale model of the failed Job');
    s.cluster.onPoll = happyScript(s);
    await s.run();
    expect(s.messages).toEqual(expectedMessages);
    const lifecycle = s.cluster.calls.filter((c) => c.method !== 'listNamespacedPod' && c.method !== 'readNamespacedPodLog');
    expect(lifecycle.slice(0, 4).map((c) => [c.method, c.param.propagationPolicy])).toEqual([
      ['readNamespacedJob', undefined],
      ['deleteNamespacedJob', 'Background'],
      ['readNamespacedJob', undefined],
      ['createNamespacedJob', undefined],
    ]);
    expect(s.cluster.methods().filter((m) => m === 'createNamespacedJob')).toHaveLength(1);
    expect(s.cluster.job().metadata?.uid).toBe('uid-2');
    expect(readFileSync(join(s.jobDir, 'out', 'model.onnx'), 'utf8')).toBe('onnx');
  });

  it('collects the outputs of a Job that already succeeded without creating another', async () => {
    const s = setup();
    const { buildTrainerJob } = await import('../../src/training/kubernetes-manifest');
    s.cluster.addJob(buildTrainerJob({ jobKey: s.jobKey, trainer: s.trainer, gpus: 1, blobPrefix: jobBlobPrefix(s.jobKey), blobEnv: {} }), {
      succeeded: 1,
      conditions: [{ type: 'Complete', status: 'True' }] as never,
    });
    await s.blobs.put(`${s.keys.outputs}out/model.onnx`, 'model of the finished Job');
    await s.blobs.put(s.keys.pushed, JSON.stringify({ files: ['out/model.onnx'], at: '' }));
    await s.run(); // its pod is gone (no script): nothing to read, the outputs are in the blob store
    expect(readFileSync(join(s.jobDir, 'out', 'model.onnx'), 'utf8')).toBe('model of the finished Job');
    expect(s.cluster.methods()).not.toContain('createNamespacedJob');
    expect(s.cluster.methods()).not.toContain('deleteNamespacedJob');
  });

  it.each([
    [2, true],
    [1, false],
    [137, false],
  ])(
    'reports exit code %i as TrainerProcessError (permanent: %s) with the termination message, and leaves the finished Job',
    async (exitCode, permanent) => {
      const s = setup();
      s.cluster.onPoll = (poll) => {
        if (poll === 1) {
          s.cluster.trainer({ running: {} });
          s.cluster.log({ type: 'progress', epoch: 1 });
        }
        if (poll === 2) {
          s.cluster.trainer(
            { terminated: { exitCode, reason: exitCode === 137 ? 'OOMKilled' : 'Error', message: 'job.json: unknown contract' } },
            'Failed',
          );
          s.cluster.finish('Failed');
        }
      };
      const err = await s.run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrainerProcessError);
      const e = err as TrainerProcessError;
      expect(e.exitCode).toBe(exitCode);
      expect(e.permanent).toBe(permanent);
      expect(e.message).toContain(`exited with code ${exitCode}`);
      expect(e.stderrTail).toBe('job.json: unknown contract');
      if (exitCode === 137) expect(e.message).toContain('OOMKilled');
      expect(s.messages).toEqual([{ type: 'progress', epoch: 1 }]);
      expect(s.cluster.methods()).not.toContain('deleteNamespacedJob');
    },
  );

  it('on abort deletes the Job with its pods (Foreground) and rejects only once it is gone', async () => {
    const s = setup();
    const abort = new AbortController();
    s.cluster.onPoll = (poll) => {
      if (poll === 1) {
        s.cluster.trainer({ running: {} });
        s.cluster.log({ type: 'progress', epoch: 1, epochs: 5 });
      }
      if (poll === 3) abort.abort(new Error('cancelled by the workflow'));
    };
    const err = await s.run({ signal: abort.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerAbortedError);
    const deletes = s.cluster.calls.filter((c) => c.method === 'deleteNamespacedJob');
    expect(deletes.map((c) => c.param)).toEqual([{ name: trainerJobName(s.jobKey), namespace: 'ml', propagationPolicy: 'Foreground' }]);
    expect(s.cluster.jobs.size).toBe(0);
    expect(s.cluster.pods.size).toBe(0);
    const afterDelete = s.cluster.methods().slice(s.cluster.methods().indexOf('deleteNamespacedJob') + 1);
    expect(afterDelete.filter((m) => m === 'readNamespacedJob').length).toBe(s.cluster.foregroundReads + 1);
  });

  it('stops a trainer silent for progressTimeoutSeconds as hung and deletes its Job', async () => {
    const s = setup({ progressTimeoutSeconds: 30 });
    const started = s.clock.t;
    let lastLineAt = 0;
    s.cluster.onPoll = (poll) => {
      if (poll === 1) {
        s.cluster.trainer({ running: {} });
        s.cluster.log({ type: 'progress', epoch: 1 });
      }
      if (poll === 3) {
        s.cluster.log('still alive');
        lastLineAt = s.clock.t;
      }
    };
    const err = await s.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerHungError);
    expect((err as TrainerHungError).silentSeconds).toBe(30);
    expect(s.clock.t - lastLineAt).toBeGreaterThanOrEqual(30_000); // free text counts as a sign of life
    expect(lastLineAt).toBeGreaterThan(started);
    expect(s.cluster.calls.filter((c) => c.method === 'deleteNamespacedJob').map((c) => c.param.propagationPolicy)).toEqual(['Foreground']);
    expect(s.cluster.jobs.size).toBe(0);
  });

  it('stops the Job on a malformed contract line (TrainerProtocolError) and when onMessage throws (that error)', async () => {
    const bad = setup();
    bad.cluster.onPoll = (poll) => {
      if (poll === 1) {
        bad.cluster.trainer({ running: {} });
        bad.cluster.log({ type: 'progress', epoch: 'one' });
      }
    };
    await expect(bad.run()).rejects.toBeInstanceOf(TrainerProtocolError);
    expect(bad.cluster.jobs.size).toBe(0);

    const throwing = setup();
    throwing.cluster.onPoll = happyScript(throwing);
    const boom = new Error('blob store down');
    await expect(
      throwing.run({
        onMessage: (m) => {
          if (m.type === 'checkpoint') throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(throwing.cluster.methods()).toContain('deleteNamespacedJob');
    expect(throwing.cluster.jobs.size).toBe(0);
  });

  it('stops the Job when a checkpoint is reported outside checkpoints/ (the sidecar would never carry it)', async () => {
    const s = setup();
    s.cluster.onPoll = (poll) => {
      if (poll === 1) {
        s.cluster.trainer({ running: {} });
        s.cluster.log({ type: 'checkpoint', epoch: 1, path: 'state/epoch-1.pt' });
      }
    };
    await expect(s.run()).rejects.toThrow(
      /checkpoint state\/epoch-1\.pt; the kubernetes backend carries checkpoints only from checkpoints\//,
    );
    expect(s.messages).toEqual([]);
    expect(s.cluster.jobs.size).toBe(0);
  });

  it('fails a run that exits 0 without out/model.onnx as a contract breach', async () => {
    const s = setup();
    s.cluster.onPoll = async (poll) => {
      if (poll === 1) {
        s.cluster.trainer({ terminated: { exitCode: 0 } }, 'Succeeded');
        s.cluster.finish('Complete');
        await s.blobs.put(s.keys.pushed, JSON.stringify({ files: ['out/metrics.json'], at: '' }));
      }
    };
    await expect(s.run()).rejects.toThrow(/exited 0 without writing out\/model\.onnx/);
    expect(existsSync(join(s.jobDir, 'out', 'model.onnx'))).toBe(false);
  });

  it('stops a Job whose pod never starts, saying why (unschedulable)', async () => {
    const s = setup();
    s.cluster.onPoll = (poll) => {
      if (poll === 1) {
        s.cluster.trainer({ waiting: { reason: 'PodInitializing' } }, 'Pending');
        const entry = [...s.cluster.pods.values()][0]!;
        entry.pod.status!.conditions = [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes have nvidia.com/gpu' },
        ] as never;
      }
    };
    await expect(s.run()).rejects.toThrow(/did not start within 60 s: not scheduled: Unschedulable 0\/3 nodes have nvidia\.com\/gpu/);
    expect(s.cluster.jobs.size).toBe(0);
  });

  it('refuses a Job of the same name that belongs to another job key', async () => {
    const s = setup();
    const { buildTrainerJob } = await import('../../src/training/kubernetes-manifest');
    const job = buildTrainerJob({ jobKey: s.jobKey, trainer: s.trainer, gpus: 1, blobPrefix: 'x/', blobEnv: {} });
    job.metadata!.annotations![JOB_KEY_ANNOTATION] = 'someone-else';
    s.cluster.addJob(job);
    await expect(s.run()).rejects.toThrow(/belongs to job key "someone-else"/);
    expect(s.cluster.methods()).not.toContain('deleteNamespacedJob');
  });

  it('rejects at once, creating nothing, when aborted before it starts', async () => {
    const s = setup();
    const abort = new AbortController();
    abort.abort();
    await expect(s.run({ signal: abort.signal })).rejects.toBeInstanceOf(TrainerAbortedError);
    expect(s.cluster.calls).toEqual([]);
  });
});

describe('LogCursor', () => {
  const at = (sec: string, text: string): string => `2026-01-01T00:00:${sec}Z ${text}`;

  it('hands out each line once across refetches of the whole log, lines sharing a timestamp included', () => {
    const c = new LogCursor();
    const log = [at('01.5', 'a'), at('01.5', 'b')];
    expect(c.take(log.join('\n') + '\n')).toEqual(['a', 'b']);
    log.push(at('01.5', 'c'), at('02', 'd'));
    expect(c.take(log.join('\n') + '\n')).toEqual(['c', 'd']);
    expect(c.take(log.join('\n') + '\n')).toEqual([]);
  });

  it('orders fractions by value, not by text (.5 after .45), and survives a rotation that drops old lines', () => {
    const c = new LogCursor();
    expect(c.take(`${at('01.45', 'a')}\n${at('01.5', 'b')}\n`)).toEqual(['a', 'b']);
    expect(c.take(`${at('01.5', 'b')}\n${at('01.5000001', 'c')}\n`)).toEqual(['c']);
    expect(c.take(`${at('03', 'e')}\n`)).toEqual(['e']);
  });

  it('holds back a last line without its newline until it is complete or the container has exited', () => {
    const c = new LogCursor();
    expect(c.take(`${at('01', 'a')}\n${at('02', '{"type":')}`)).toEqual(['a']);
    expect(c.take(`${at('01', 'a')}\n${at('02', '{"type":"done"}')}`, true)).toEqual(['{"type":"done"}']);
  });
});
