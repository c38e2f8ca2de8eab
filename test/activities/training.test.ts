/**
 * trainModel in MockActivityEnvironment with the real trainer backends (child processes) over a small dataset
 * version written with the manifest helpers: heartbeats per epoch, the ONNX artifact, the cached result on a
 * retry, checkpoints in the blob store and a resume on another worker, the trainer identity in the cache key,
 * GPU leases, and cancellation killing the trainer.
 */
import { chmod, mkdir, readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactKeyFor, checkpointPrefix, createTrainingActivities, type TrainHeartbeat } from '../../src/activities/training';
import { ErrorType } from '../../src/shared/errors';
import type { TrainResult } from '../../src/shared/types';
import type { TrainerBackend } from '../../src/training/backend';
import { createGpuLeases } from '../../src/training/gpu-inventory';
import { loadModel } from '../../src/training/onnx-model';
import { createBuiltinBackend, createProcessBackend } from '../../src/training/process-backend';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { storeTicketsVersion } from '../helpers/stored-version';
import { gpuDeps, specsWith, WorkerActivityEnvironment } from './activity-fixtures';

const versionId = 'dv-test-training';
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-train-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The test's dataset version of `count` sample tickets. */
const storeVersion = (blobs: MemoryBlobStore, count: number, labelOf?: (i: number, trueQueue?: string) => unknown): Promise<void> =>
  storeTicketsVersion(blobs, versionId, count, labelOf);

/** A trainer backend that counts its runs. */
function counting(inner: TrainerBackend): TrainerBackend & { runs: number } {
  const t = { name: inner.name, runs: 0, run: (r: Parameters<TrainerBackend['run']>[0]) => (t.runs++, inner.run(r)) };
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

/** Fixture trainer (process backend): records its CUDA_VISIBLE_DEVICES, waits for a go file, then runs the builtin trainer. */
async function gatedTrainer(dir: string): Promise<{ command: string[]; env: Record<string, string> }> {
  await mkdir(dir, { recursive: true });
  const script = path.join(dir, 'gated.sh');
  await writeFile(
    script,
    [
      '#!/bin/bash',
      'echo "$CUDA_VISIBLE_DEVICES" >> "$LOG"',
      'while [ ! -f "$GO" ]; do echo \'{"type":"progress","epoch":0}\'; sleep 0.2; done',
      'exec "$NODE" --import "$TSX" "$ENTRY" "$1"',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  const tsx = pathToFileURL(createRequire(__filename).resolve('tsx')).href;
  return {
    command: ['/bin/bash', script],
    env: {
      NODE: process.execPath,
      TSX: tsx,
      ENTRY: path.resolve(__dirname, '../../src/training/trainer-process.ts'),
      LOG: path.join(dir, 'devices.log'),
      GO: path.join(dir, 'go'),
    },
  };
}

/** What the builtin trainer behind gatedTrainer needs in job.json's hyperparameters (a process backend passes only these). */
const BUILTIN_HYPER = { kind: 'logreg-hashed', learningRate: 0.5, l2: 1e-4 };

const input = (jobKey: string) => ({ dataset: 'tickets', versionId, jobKey });

describe('trainModel', () => {
  it('heartbeats every epoch, stores an ONNX model, and returns the cached result on a retry', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 240);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 8 } }));
    const trainer = counting(createBuiltinBackend());
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, { workDir, specs, trainers: { builtin: trainer } }));
    const job = input('tickets-classifier/dv-test-training');

    const env = new WorkerActivityEnvironment();
    const beats: TrainHeartbeat[] = [];
    env.on('heartbeat', (d: TrainHeartbeat) => beats.push(d));
    const r: TrainResult = await env.run(trainModel, job);

    const epochsBeaten = [...new Set(beats.map((b) => b.epoch).filter((e) => e !== undefined))];
    expect(epochsBeaten).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(beats.at(-1)?.checkpoint?.epoch).toBe(8);
    expect(r.epochs).toBe(8);
    expect(r.jobKey).toMatch(/^tickets-classifier\/dv-test-training\/t-[0-9a-f]{12}$/);
    expect(r.artifactKey).toBe(artifactKeyFor(r.jobKey!));
    const predictor = await loadModel(blobs, r.artifactKey);
    expect(predictor.classes).toEqual((await specs.load('tickets')).spec.labels.classes);
    await predictor.release();
    expect(r.validationMetrics.n).toBeGreaterThan(0);
    expect(r.validationMetrics.accuracy).toBeGreaterThan(0.5); // the sample tickets are learnable
    expect(r.experiment?.trainer.backend).toBe('builtin');
    expect(r.experiment?.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.experiment?.epochs.every((e) => typeof e.loss === 'number')).toBe(true);
    expect(r.experiment?.hyperparameters).toMatchObject({ kind: 'logreg-hashed' });
    expect(trainer.runs).toBe(1);
    // Done: its checkpoints are gone from the blob store.
    expect(blobs.keys().filter((k) => k.startsWith(checkpointPrefix(r.jobKey!)))).toEqual([]);

    const again = await new WorkerActivityEnvironment({ attempt: 2 }).run(trainModel, job);
    expect(again).toEqual(r);
    expect(trainer.runs).toBe(1);
  });

  it('trains on permuted labels when the spec sets trainer.hyperparameters.shuffleLabels, under a key of its own', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 240);
    const train = async (hyperparameters: Record<string, unknown>): Promise<TrainResult> => {
      const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 8, hyperparameters } }));
      const { trainModel } = createTrainingActivities(gpuDeps(blobs, { workDir, specs, trainers: { builtin: createBuiltinBackend() } }));
      return new WorkerActivityEnvironment().run(trainModel, input('tickets-classifier/labels'));
    };
    const sound = await train({});
    const shuffled = await train({ shuffleLabels: true });
    expect(shuffled.jobKey).not.toBe(sound.jobKey);
    expect(shuffled.experiment?.hyperparameters).toMatchObject({ shuffleLabels: true });
    // Validation labels are not permuted: a model fit to permuted train labels scores far below the sound one.
    expect(shuffled.validationMetrics.accuracy).toBeLessThan(sound.validationMetrics.accuracy - 0.2);
  });

  it('stores each checkpoint as reported; a retry on another worker resumes from the newest and ends with the same model', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 240);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 6 } }));
    // Attempt 1 on worker A: dies after its third checkpoint is stored (a crash the backend reports as an error).
    const dying: TrainerBackend = {
      name: 'builtin',
      run: (r) =>
        createBuiltinBackend().run({
          ...r,
          onMessage: async (m) => {
            await r.onMessage(m);
            if (m.type === 'checkpoint' && m.epoch === 3) throw new Error('worker lost');
          },
        }),
    };
    const workerA = await mkdtemp(path.join(workDir, 'worker-a-'));
    const workerB = await mkdtemp(path.join(workDir, 'worker-b-'));
    const job = input('tickets-classifier/resume-me');
    const first = createTrainingActivities(gpuDeps(blobs, { workDir: workerA, specs, trainers: { builtin: dying } }));
    const beats: TrainHeartbeat[] = [];
    const envA = new WorkerActivityEnvironment();
    envA.on('heartbeat', (d: TrainHeartbeat) => beats.push(d));
    await expect(envA.run(first.trainModel, job)).rejects.toThrow('worker lost');
    const stored = blobs.keys().filter((k) => k.startsWith('checkpoints/'));
    expect(stored.map((k) => /epoch-(\d+)/.exec(k)?.[1])).toEqual(['000001', '000002', '000003']);
    expect(beats.at(-1)?.checkpoint?.epoch).toBe(3);

    // Attempt 2 on worker B (its own empty work folder): resumes at epoch 4 from the blob store.
    const second = createTrainingActivities(gpuDeps(blobs, { workDir: workerB, specs }));
    const resumed: TrainResult = await new WorkerActivityEnvironment({ attempt: 2, heartbeatDetails: beats.at(-1) }).run(
      second.trainModel,
      job,
    );
    expect(resumed.experiment?.resumedFromEpoch).toBe(3);
    expect(resumed.experiment?.epochs.map((e) => e.epoch)).toEqual([4, 5, 6]);

    // The same job uninterrupted (another job key prefix, same data) gives the same ONNX model.
    const whole: TrainResult = await new WorkerActivityEnvironment().run(
      createTrainingActivities(gpuDeps(blobs, { workDir: await mkdtemp(path.join(workDir, 'whole-')), specs })).trainModel,
      input('tickets-classifier/uninterrupted'),
    );
    const onnxOf = (r: TrainResult): Promise<Buffer> => blobs.get(r.artifactKey.replace(/model\.json$/, 'model.onnx'));
    expect((await onnxOf(resumed)).equals(await onnxOf(whole))).toBe(true);
  });

  it('retrains when the trainer changes (a process trainer file edited, a hyperparameter) and not otherwise', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 160);
    const dir = await mkdtemp(path.join(workDir, 'identity-'));
    const t = await gatedTrainer(dir);
    await writeFile(t.env.GO!, '');
    const processTrainer = counting(createProcessBackend({ trainersRoot: dir }));
    const specFor = (hyperparameters: Record<string, unknown>) =>
      specsWith((s) => ({
        ...s,
        trainer: {
          ...s.trainer,
          backend: 'process',
          epochs: 2,
          command: t.command,
          env: t.env,
          hyperparameters: { ...BUILTIN_HYPER, ...hyperparameters },
        },
      }));
    const run = async (hyper: Record<string, unknown>): Promise<TrainResult> =>
      new WorkerActivityEnvironment().run(
        createTrainingActivities(
          gpuDeps(blobs, { workDir, specs: await specFor(hyper), trainers: { process: processTrainer }, trainersRoot: dir }),
        ).trainModel,
        input('tickets-classifier/identity'),
      );
    const a = await run({});
    const same = await run({});
    expect(same.jobKey).toBe(a.jobKey);
    expect(processTrainer.runs).toBe(1);
    await writeFile(path.join(dir, 'gated.sh'), `${await readFile(path.join(dir, 'gated.sh'), 'utf8')}\n# v2\n`);
    const edited = await run({});
    expect(edited.jobKey).not.toBe(a.jobKey);
    expect(processTrainer.runs).toBe(2);
    const tuned = await run({ dropout: 0.1 });
    expect(tuned.jobKey).not.toBe(edited.jobKey);
    expect(processTrainer.runs).toBe(3);
    expect(tuned.experiment?.hyperparameters).toMatchObject({ dropout: 0.1 });
    expect(tuned.experiment?.trainer).toMatchObject({ backend: 'process', identity: `/bin/bash ${path.join(dir, 'gated.sh')}` });
  });

  it('gives two jobs at once distinct GPUs from TRAINSET_GPUS=0,1; a third waits until one is freed', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 120);
    const dir = await mkdtemp(path.join(workDir, 'leases-'));
    const t = await gatedTrainer(dir);
    const specs = await specsWith((s) => ({
      ...s,
      trainer: { ...s.trainer, backend: 'process', epochs: 1, gpus: 1, command: t.command, env: t.env, hyperparameters: BUILTIN_HYPER },
    }));
    const gpus = createGpuLeases([{ id: '0' }, { id: '1' }]);
    const deps = gpuDeps(blobs, { workDir, specs, gpus, trainersRoot: dir });
    const { trainModel } = createTrainingActivities(deps);
    const waiting: string[] = [];
    const start = (name: string) => {
      const env = new WorkerActivityEnvironment();
      env.on('heartbeat', (d: TrainHeartbeat) => {
        if (d.waitingForGpus) waiting.push(name);
      });
      return env.run(trainModel, input(`tickets-classifier/${name}`)) as Promise<TrainResult>;
    };
    const devicesLog = async (): Promise<string[]> =>
      (await readFile(t.env.LOG!, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
    const until = async (cond: () => Promise<boolean>): Promise<void> => {
      while (!(await cond())) await new Promise((r) => setTimeout(r, 50));
    };
    const jobs = [start('one'), start('two')];
    await until(async () => (await devicesLog()).length === 2);
    expect((await devicesLog()).sort()).toEqual(['0', '1']);
    jobs.push(start('three'));
    await until(async () => waiting.includes('three'));
    expect(await devicesLog()).toHaveLength(2); // the third has not started its trainer
    expect(gpus.inUse()).toBe(2);
    await writeFile(t.env.GO!, ''); // let the first two finish; the third gets a freed device
    const results: TrainResult[] = await Promise.all(jobs);
    const log = await devicesLog();
    expect(log).toHaveLength(3);
    expect(['0', '1']).toContain(log[2]);
    expect(results.every((r) => r.experiment?.gpus === 1 && r.experiment.gpuSeconds > 0)).toBe(true);
    expect(gpus.inUse()).toBe(0);
  });

  it('fails at once, not retried, when the job asks for more GPUs than the worker has', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 60);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, gpus: 3 } }));
    const trainer = counting(createBuiltinBackend());
    const deps = gpuDeps(blobs, { workDir, specs, gpus: createGpuLeases([{ id: '0' }, { id: '1' }]), trainers: { builtin: trainer } });
    const err = (await new WorkerActivityEnvironment()
      .run(createTrainingActivities(deps).trainModel, input('tickets-classifier/too-many'))
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.GpuRequestTooLarge);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toBe('the training job asks for 3 GPUs; this worker has 2');
    expect(trainer.runs).toBe(0);
  });

  it('rejects a trainer whose model is not a usable ONNX classifier, without retrying', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 60);
    const dir = await mkdtemp(path.join(workDir, 'garbage-'));
    await writeFile(path.join(dir, 'garbage.sh'), '#!/bin/bash\ncd "$1"; mkdir -p out; echo "not onnx" > out/model.onnx\n');
    const specs = await specsWith((s) => ({
      ...s,
      trainer: { ...s.trainer, backend: 'process', gpus: 1, command: ['/bin/bash', 'garbage.sh'] },
    }));
    const spent: Array<[string, number]> = [];
    const deps = {
      ...gpuDeps(blobs, { workDir, specs, trainersRoot: dir, gpus: createGpuLeases([{ id: '0' }]) }),
      onGpuSeconds: (m: string, s: number) => void spent.push([m, s]),
    };
    const err = (await new WorkerActivityEnvironment()
      .run(createTrainingActivities(deps).trainModel, input('tickets-classifier/garbage'))
      .catch((e: unknown) => e)) as ApplicationFailure;
    // The failed attempt's GPU time is counted all the same.
    expect(spent).toHaveLength(1);
    expect(spent[0]![0]).toBe('tickets-classifier');
    expect(spent[0]![1]).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.TrainingFailed);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/the trainer's model is not usable/);
    expect(blobs.keys().filter((k) => k.startsWith('models/'))).toEqual([]);
  });

  it('kills the trainer process and throws CancelledFailure when the activity is cancelled', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 400);
    const specs = await specsWith((s) => ({ ...s, trainer: { ...s.trainer, epochs: 500 } }));
    const cancelDir = await mkdtemp(path.join(workDir, 'cancel-'));
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, { workDir: cancelDir, specs }));

    const env = new WorkerActivityEnvironment();
    let beats = 0;
    let childWhileRunning: string[] = [];
    env.on('heartbeat', (d: TrainHeartbeat) => {
      if (d.epoch === undefined) return;
      beats += 1;
      if (beats === 2) {
        void processesMentioning(cancelDir).then((p) => {
          childWhileRunning = p;
          env.cancel();
        });
      }
    });
    const err = await env.run(trainModel, input('tickets-classifier/cancel-me')).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(CancelledFailure);
    expect(childWhileRunning.length).toBeGreaterThan(0); // the child really was running...
    expect(await processesMentioning(cancelDir)).toEqual([]); // ...and is gone once the activity has thrown
    expect(blobs.keys().filter((k) => k.startsWith('models/'))).toEqual([]);
  });

  it('fails non-retryably with TrainingFailed when a record carries a label outside the classes', async () => {
    const blobs = new MemoryBlobStore();
    await storeVersion(blobs, 120, (i, q) => (i === 3 ? 'sales' : q));
    const { trainModel } = createTrainingActivities(gpuDeps(blobs, { workDir }));
    const err = (await new WorkerActivityEnvironment()
      .run(trainModel, input('tickets-classifier/bad-input'))
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.TrainingFailed);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/not one of the spec's classes|not one of the job's classes|label/);
    expect(err.message).not.toContain('sales');
  });
});
