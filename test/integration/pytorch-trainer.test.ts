import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import type { DatasetSpec } from '../../src/shared/spec';
import {
  CONTRACT_VERSION,
  EXIT_BAD_INPUT,
  ONNX_INPUT,
  ONNX_OUTPUT,
  parseTrainerLine,
  type TrainerMessage,
} from '../../src/training/contract';
import { writeJobDir } from '../../src/training/job-dir';
import { requirePythonTorch } from '../helpers/torch-available';
import { readCsr } from '../unit/job-dir-fixtures';

const REPO = resolve(__dirname, '../..');
const TRAIN_PY = join(REPO, 'trainers/pytorch/train.py');
const EPOCHS = 3;
const DIMENSION = 1024;

const hasTorch = requirePythonTorch();
const root = mkdtempSync(join(tmpdir(), 'trainset-pytorch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshCopy = (from: string): string => {
  const dir = join(root, `job-${++n}`);
  cpSync(from, dir, { recursive: true });
  return dir;
};

interface TrainerRun {
  status: number | null;
  stdout: string;
  stderr: string;
  messages: TrainerMessage[];
}

/** Run train.py on a CPU, with the environment the process backend gives a trainer. */
function runTrainer(dir: string): TrainerRun {
  const r = spawnSync('/usr/bin/python3', [TRAIN_PY, dir], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      CUDA_VISIBLE_DEVICES: '',
      PYTHONUNBUFFERED: '1',
      TRAINSET_JOB_DIR: dir,
      OMP_NUM_THREADS: '2',
    },
  });
  // Every line that looks like JSON must be a valid contract message (parseTrainerLine throws on a malformed one).
  const messages = r.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const m = parseTrainerLine(line);
      if (!m) throw new Error(`stdout line is JSON but not a contract message: ${line}`);
      return m;
    });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, messages };
}

function editJob(dir: string, edit: (job: Record<string, unknown>) => void): void {
  const path = join(dir, 'job.json');
  const job = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(job);
  writeFileSync(path, JSON.stringify(job, null, 2));
}

/** Probabilities of the validation split under the job directory's out/model.onnx, row-major [rows, classes]. */
async function scoreValidation(
  dir: string,
): Promise<{ probabilities: Float32Array; labels: number[]; classes: number; session: InferenceSession }> {
  const csr = readCsr(dir, 'validation');
  const rows = csr.labels.length;
  const dense = new Float32Array(rows * DIMENSION);
  for (let i = 0; i < rows; i++)
    for (let t = csr.indptr[i]!; t < csr.indptr[i + 1]!; t++) dense[i * DIMENSION + csr.indices[t]!] = csr.values[t]!;
  const session = await InferenceSession.create(readFileSync(join(dir, 'out/model.onnx')));
  const out = await session.run({ [ONNX_INPUT]: new Tensor('float32', dense, [rows, DIMENSION]) });
  const probs = out[ONNX_OUTPUT];
  if (!probs) throw new Error(`the model has no ${ONNX_OUTPUT} output`);
  const classes = probs.dims[1]!;
  expect(probs.dims).toEqual([rows, classes]);
  return { probabilities: probs.data as Float32Array, labels: csr.labels, classes, session };
}

describe.runIf(hasTorch)('PyTorch reference trainer (trainers/pytorch/train.py) on CPU', () => {
  let spec: DatasetSpec;
  let base: string;
  let full: string;
  let fullRun: TrainerRun;
  let bodies: string[];

  beforeAll(async () => {
    const loaded = (await createDirSpecSource(join(REPO, 'specs')).load('tickets')).spec;
    spec = {
      ...loaded,
      trainer: {
        ...loaded.trainer,
        backend: 'process',
        command: ['/usr/bin/python3', TRAIN_PY],
        features: DIMENSION,
        epochs: EPOCHS,
        seed: 5,
        hyperparameters: { hidden: 32 },
      },
    };
    const rows = generateTicketLines({ date: '2024-03-01', count: 400, seed: 3, badLineFraction: 0, duplicateFraction: 0 }).map(
      (g): Record<string, unknown> => ({ ...(JSON.parse(g.line) as Record<string, unknown>), queue: g.trueQueue }),
    );
    bodies = rows.map((r) => String(r.body));
    base = join(root, 'base');
    await writeJobDir(base, {
      jobKey: 'tickets-pytorch/dv-test',
      model: 'tickets-pytorch',
      datasetVersion: 'dv-test',
      spec,
      splits: { train: rows.slice(0, 280), validation: rows.slice(280, 340), test: rows.slice(340) },
      shuffleLabels: false,
      gpus: 0,
      resumeFrom: null,
    });
    full = freshCopy(base);
    fullRun = runTrainer(full);
  });

  it('trains on the CPU, prints contract lines with each checkpoint on disk after its progress line, and exits 0', () => {
    expect(fullRun.status, fullRun.stderr.slice(-2000)).toBe(0);
    expect(fullRun.stdout).toMatch(/^device: cpu/m);
    const types = fullRun.messages.map((m) => m.type);
    expect(types).toEqual([...Array.from({ length: EPOCHS }, () => ['progress', 'checkpoint']).flat(), 'done']);
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      const p = fullRun.messages.findIndex((m) => m.type === 'progress' && m.epoch === epoch);
      const c = fullRun.messages.findIndex((m) => m.type === 'checkpoint' && m.epoch === epoch);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(c).toBeGreaterThan(p);
      const progress = fullRun.messages[p]!;
      if (progress.type !== 'progress') throw new Error('unreachable');
      expect(progress.epochs).toBe(EPOCHS);
      expect(Number.isFinite(progress.loss)).toBe(true);
      expect(progress.metrics?.valAccuracy).toBeGreaterThanOrEqual(0);
      const cp = fullRun.messages[c]!;
      if (cp.type !== 'checkpoint') throw new Error('unreachable');
      expect(cp.path).toBe(`checkpoints/epoch-${String(epoch).padStart(4, '0')}.pt`);
      expect(statSync(join(full, cp.path)).size).toBeGreaterThan(0);
    }
    const metrics = JSON.parse(readFileSync(join(full, 'out/metrics.json'), 'utf8')) as Record<string, unknown>;
    expect(metrics).toMatchObject({ epochs: EPOCHS, device: 'cpu' });
    expect(typeof metrics.loss).toBe('number');
    expect(typeof metrics.secondsPerEpoch).toBe('number');
  });

  it('never prints record content', () => {
    const printed = fullRun.stdout + fullRun.stderr;
    expect(bodies.length).toBeGreaterThan(0);
    expect(bodies.filter((b) => printed.includes(b))).toEqual([]);
  });

  it('exports an ONNX model with input features and output probabilities whose rows sum to 1 and beat chance', async () => {
    const { probabilities, labels, classes, session } = await scoreValidation(full);
    expect(session.inputNames).toEqual([ONNX_INPUT]);
    expect(session.outputNames).toEqual([ONNX_OUTPUT]);
    expect(classes).toBe(spec.labels.classes.length);
    let correct = 0;
    labels.forEach((y, i) => {
      const row = Array.from(probabilities.subarray(i * classes, (i + 1) * classes));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      if (row.indexOf(Math.max(...row)) === y) correct++;
    });
    const accuracy = correct / labels.length;
    expect(accuracy).toBeGreaterThan(1 / classes + 0.15);
    const metrics = JSON.parse(readFileSync(join(full, 'out/metrics.json'), 'utf8')) as { valAccuracy: number };
    expect(metrics.valAccuracy).toBeCloseTo(accuracy, 1);
  });

  it('resumed from the epoch-1 checkpoint, trains epochs 2.. and ends with the same model as the uninterrupted run', async () => {
    const dir = freshCopy(base);
    copyFileSync(join(full, 'checkpoints/epoch-0001.pt'), join(dir, 'resume/epoch-0001.pt'));
    editJob(dir, (job) => (job.resumeFrom = { epoch: 1, path: 'resume/epoch-0001.pt' }));
    const run = runTrainer(dir);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    expect(run.messages.filter((m) => m.type === 'progress').map((m) => m.epoch)).toEqual([2, 3]);
    expect(existsSync(join(dir, 'checkpoints/epoch-0001.pt'))).toBe(false);
    const resumed = await scoreValidation(dir);
    const uninterrupted = await scoreValidation(full);
    expect(resumed.probabilities.length).toBe(uninterrupted.probabilities.length);
    const maxDiff = resumed.probabilities.reduce((m, p, i) => Math.max(m, Math.abs(p - uninterrupted.probabilities[i]!)), 0);
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('resumed from the last epoch, only exports the model', async () => {
    const dir = freshCopy(base);
    copyFileSync(join(full, `checkpoints/epoch-000${EPOCHS}.pt`), join(dir, `resume/epoch-000${EPOCHS}.pt`));
    editJob(dir, (job) => (job.resumeFrom = { epoch: EPOCHS, path: `resume/epoch-000${EPOCHS}.pt` }));
    const run = runTrainer(dir);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    expect(run.messages.map((m) => m.type)).toEqual(['done']);
    const exported = await scoreValidation(dir);
    const uninterrupted = await scoreValidation(full);
    const maxDiff = exported.probabilities.reduce((m, p, i) => Math.max(m, Math.abs(p - uninterrupted.probabilities[i]!)), 0);
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('reports steps within an epoch when stepReportSeconds allows, before the epoch line', () => {
    const dir = freshCopy(base);
    editJob(dir, (job) => {
      job.epochs = 1;
      job.hyperparameters = { ...(job.hyperparameters as object), batchSize: 64, stepReportSeconds: 0 };
    });
    const trainRows = (JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as { splits: { train: { rows: number } } }).splits.train
      .rows;
    const batches = Math.ceil(trainRows / 64);
    const run = runTrainer(dir);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const progress = run.messages.filter((m) => m.type === 'progress');
    // A step line after every batch but the last, whose report is the epoch's own line (no step).
    expect(progress.map((m) => m.step)).toEqual([...Array.from({ length: batches - 1 }, (_, i) => i + 1), undefined]);
    for (const m of progress) {
      expect(m.epoch).toBe(1);
      expect(Number.isFinite(m.loss)).toBe(true);
    }
    expect(progress.at(-1)?.metrics?.valAccuracy).toBeGreaterThanOrEqual(0);
    expect(run.messages.map((m) => m.type).slice(-2)).toEqual(['checkpoint', 'done']);
  });

  it('exits 2 on a contract version it does not know, saying so', () => {
    const dir = freshCopy(base);
    editJob(dir, (job) => (job.contract = 'trainset-trainer-v0'));
    expect(CONTRACT_VERSION).not.toBe('trainset-trainer-v0');
    const run = runTrainer(dir);
    expect(run.status).toBe(EXIT_BAD_INPUT);
    expect(run.stderr).toContain('"trainset-trainer-v0"');
    expect(run.stderr).toContain(CONTRACT_VERSION);
    expect(existsSync(join(dir, 'out/model.onnx'))).toBe(false);
  });

  it('exits 2 when a features file is missing, naming it', () => {
    const dir = freshCopy(base);
    rmSync(join(dir, 'features/train.values.npy'));
    const run = runTrainer(dir);
    expect(run.status).toBe(EXIT_BAD_INPUT);
    expect(run.stderr).toContain('features/train.values.npy is missing');
  });

  it('exits 2 when resumeFrom names a checkpoint that is not there', () => {
    const dir = freshCopy(base);
    editJob(dir, (job) => (job.resumeFrom = { epoch: 1, path: 'resume/epoch-0001.pt' }));
    const run = runTrainer(dir);
    expect(run.status).toBe(EXIT_BAD_INPUT);
    expect(run.stderr).toContain('resume/epoch-0001.pt');
  });

  it.each([
    ['hidden', -1],
    ['hidden', 1.5],
    ['learningRate', 'fast'],
    ['learningRate', 0],
    ['dropout', 1],
    ['batchSize', true],
    ['weightDecay', -0.1],
    ['stepReportSeconds', -1],
  ])('exits 2 on hyperparameter %s = %j, naming it', (key, value) => {
    const dir = freshCopy(base);
    editJob(dir, (job) => (job.hyperparameters = { ...(job.hyperparameters as object), [key]: value }));
    const run = runTrainer(dir);
    expect(run.status).toBe(EXIT_BAD_INPUT);
    expect(run.stderr).toContain(`hyperparameters.${key}`);
  });
});

describe.runIf(hasTorch)('GPU check (scripts/gpu-check.sh) on a machine without CUDA', () => {
  it('prepares a job directory through the contract, trains it twice and says plainly that CUDA was not used', () => {
    const dir = join(root, 'gpu-check');
    const prepare = spawnSync('bash', [join(REPO, 'scripts/gpu-check.sh'), 'prepare', dir, '200'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(prepare.status, prepare.stderr.slice(-2000)).toBe(0);
    const job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as {
      contract: string;
      epochs: number;
      splits: { train: { rows: number } };
    };
    expect(job.contract).toBe(CONTRACT_VERSION);
    expect(job.splits.train.rows).toBeGreaterThan(0);

    const run = spawnSync('bash', [join(REPO, 'scripts/gpu-check.sh'), 'run', dir], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, OMP_NUM_THREADS: '2' },
    });
    // Exit 3: the check ran but could not use CUDA (this machine's torch is a CPU build), so it is not a pass.
    expect(run.status, run.stderr.slice(-2000)).toBe(3);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^gpu-check: CUDA used: no \(CUDA is not available/);
    expect(lines[0]).toContain(`${job.epochs} epochs each`);
    expect(lines[0]).toMatch(/seconds per epoch: CPU \d+\.\d{3}/);
    expect(run.stderr).toContain("training with CUDA_VISIBLE_DEVICES='0'");
    expect(run.stderr).toContain("training with CUDA_VISIBLE_DEVICES=''");
  });
});
