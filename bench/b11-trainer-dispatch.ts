/**
 * B11: what trainset's dispatch adds to a real trainer. The PyTorch reference trainer run through trainModel (the
 * activity as a worker runs it: the job directory written from the stored dataset version, a GPU lease, each
 * checkpoint copied to the blob store, the ONNX model checked, stored, described and scored on train and
 * validation) against the same trainer run directly (`/usr/bin/python3 trainers/pytorch/train.py <dir>`) on an
 * identical job directory, interleaved. The figure is median(through trainset) ÷ median(direct); the absolute
 * times go to stderr. Each trainset round uses a new job key, so the cache never answers.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { readVersionSplit } from '../src/datasets/manifest';
import { createTrainingActivities } from '../src/activities/training';
import { createDirSpecSource, specHashOf } from '../src/datasets/spec-source';
import type { DatasetSpec } from '../src/shared/spec';
import { createBlobStore } from '../src/storage';
import { createGpuLeases } from '../src/training/gpu-inventory';
import { writeJobDir } from '../src/training/job-dir';
import { createBuiltinBackend, createProcessBackend } from '../src/training/process-backend';
import { storeTicketsVersion } from '../test/helpers/stored-version';
import type { Bench } from './harness';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';
const VERSION = 'dv-bench-b11';

function runDirect(jobDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [path.join(ROOT, 'trainers/pytorch/train.py'), jobDir], {
      cwd: jobDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CUDA_VISIBLE_DEVICES: '', PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`direct trainer exited ${code}: ${err.slice(-500)}`))));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** B11: trainer through trainset ÷ trainer direct, median of interleaved rounds. */
export const b11: Bench = {
  id: 'B11',
  name: 'trainer_dispatch_overhead_ratio',
  op: '<=',
  target: 1.1,
  async run() {
    const rounds = Number(process.env.B11_ROUNDS ?? 3);
    const records = Number(process.env.B11_RECORDS ?? 4000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-b11-'));
    try {
      const blobs = createBlobStore({ kind: 'fs', dir: path.join(dir, 'blobs') });
      await storeTicketsVersion(blobs, VERSION, records);
      const { spec: base } = await createDirSpecSource(path.join(ROOT, 'specs')).load('tickets');
      const spec: DatasetSpec = {
        ...base,
        trainer: {
          ...base.trainer,
          backend: 'process',
          command: [PYTHON, 'trainers/pytorch/train.py'],
          features: 4096,
          epochs: Number(process.env.B11_EPOCHS ?? 6),
          hyperparameters: {},
        },
      };
      const specs = { load: async () => ({ spec, specHash: specHashOf(spec) }) };
      const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
      const { trainModel } = createTrainingActivities({
        blobs,
        specs,
        trainers: { builtin: createBuiltinBackend(), process: createProcessBackend({ trainersRoot: ROOT }) },
        gpus: createGpuLeases([]),
        workDir: path.join(dir, 'work'),
        trainersRoot: ROOT,
        logger,
      });
      // The direct runs' job directory: the same inputs trainModel writes.
      const split = await readVersionSplit(blobs, spec, 'tickets', VERSION);
      const template = path.join(dir, 'template');
      await writeJobDir(template, {
        jobKey: 'bench/direct',
        model: 'tickets-classifier',
        datasetVersion: VERSION,
        spec,
        splits: split,
        shuffleLabels: false,
        gpus: 0,
        resumeFrom: null,
      });
      const viaTrainset: number[] = [];
      const direct: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const copy = path.join(dir, `direct-${i}`);
        await cp(template, copy, { recursive: true });
        const t0 = performance.now();
        await runDirect(copy);
        const t1 = performance.now();
        await new MockActivityEnvironment().run(trainModel, {
          dataset: 'tickets',
          versionId: VERSION,
          jobKey: `bench/${i}`,
        });
        const t2 = performance.now();
        direct.push((t1 - t0) / 1000);
        viaTrainset.push((t2 - t1) / 1000);
        await rm(copy, { recursive: true, force: true });
      }
      const ratio = median(viaTrainset) / median(direct);
      console.error(
        `B11 ${records} records, ${spec.trainer.epochs} epochs, ${rounds} rounds: through trainset median ${median(viaTrainset).toFixed(2)} s ` +
          `[${viaTrainset.map((s) => s.toFixed(2)).join(', ')}], direct median ${median(direct).toFixed(2)} s [${direct.map((s) => s.toFixed(2)).join(', ')}]`,
      );
      return ratio;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
