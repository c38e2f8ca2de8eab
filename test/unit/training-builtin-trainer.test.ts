import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../../src/training/checkpoint';
import { EXIT_BAD_INPUT, parseTrainerLine, type SplitName, type TrainerMessage } from '../../src/training/contract';
import type { TrainingMetrics } from '../../src/training/job';
import { writeJobDir, type JobDirInput } from '../../src/training/job-dir';
import { argmax } from '../../src/training/logreg';
import { predictProbabilities, readSplitExamples, runTrainingJob, TrainingInputError } from '../../src/training/run-job';
import { readCsr, smallSpec, versionTickets } from './job-dir-fixtures';

const root = mkdtempSync(join(tmpdir(), 'trainset-builtin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `job-${++n}`);

const EPOCHS = 4;
let splits: Record<SplitName, Array<Record<string, unknown>>>;
beforeAll(async () => {
  const spec = smallSpec();
  splits = {
    train: await versionTickets(spec, 240, 11, 9),
    validation: await versionTickets(spec, 80, 12),
    test: await versionTickets(spec, 40, 13),
  };
});

const input = (overrides: Partial<JobDirInput> = {}, epochs = EPOCHS): JobDirInput => ({
  jobKey: 'tickets-classifier/dv-1',
  model: 'tickets-classifier',
  datasetVersion: 'dv-1',
  spec: smallSpec({ epochs }),
  splits,
  shuffleLabels: false,
  gpus: 0,
  resumeFrom: null,
  ...overrides,
});

/** Run trainer-process as the builtin backend does: node with tsx's loader, the job directory as cwd and last argument. */
function runTrainerProcess(jobDir: string): { status: number | null; messages: TrainerMessage[]; stderr: string } {
  const entry = join(__dirname, '../../src/training/trainer-process.ts');
  // An absolute loader URL: the job directory (the cwd) has no node_modules.
  const tsx = pathToFileURL(createRequire(__filename).resolve('tsx')).href;
  const r = spawnSync(process.execPath, ['--import', tsx, entry, jobDir], {
    cwd: jobDir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  const messages = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = parseTrainerLine(l);
      if (!m) throw new Error(`not a contract line: ${l}`);
      return m;
    });
  return { status: r.status, messages, stderr: r.stderr };
}

async function onnxProbabilities(modelPath: string, jobDir: string, split: SplitName, dimension: number): Promise<Float32Array> {
  const csr = readCsr(jobDir, split);
  const rows = csr.indptr.length - 1;
  const dense = new Float32Array(rows * dimension);
  for (let i = 0; i < rows; i++)
    for (let t = csr.indptr[i]!; t < csr.indptr[i + 1]!; t++) dense[i * dimension + csr.indices[t]!] = csr.values[t]!;
  const session = await InferenceSession.create(readFileSync(modelPath));
  try {
    const out = await session.run({ features: new Tensor('float32', dense, [rows, dimension]) });
    return out.probabilities!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('builtin trainer (trainer-process on a writeJobDir job directory)', () => {
  let whole: string;
  let wholeRun: ReturnType<typeof runTrainerProcess>;
  beforeAll(async () => {
    whole = freshDir();
    await writeJobDir(whole, input());
    wholeRun = runTrainerProcess(whole);
  });

  it('prints progress and a completed checkpoint per epoch, then done, and exits 0', () => {
    expect(wholeRun.stderr).toBe('');
    expect(wholeRun.status).toBe(0);
    const expected: string[] = [];
    for (let e = 1; e <= EPOCHS; e++) expected.push(`progress:${e}`, `checkpoint:${e}`);
    expect(wholeRun.messages.map((m) => (m.type === 'done' ? 'done' : `${m.type}:${m.epoch}`))).toEqual([...expected, 'done']);
    for (const m of wholeRun.messages) {
      if (m.type === 'progress') {
        expect(m.epochs).toBe(EPOCHS);
        expect(m.loss).toBeGreaterThan(0);
        expect(m.metrics?.valAccuracy).toBeGreaterThanOrEqual(0);
      }
      if (m.type === 'checkpoint') {
        expect(m.path).toBe(`checkpoints/epoch-${String(m.epoch).padStart(4, '0')}.json`);
        expect(parseCheckpoint(readFileSync(join(whole, m.path), 'utf8')).epoch).toBe(m.epoch);
      }
    }
    expect(readdirSync(join(whole, 'checkpoints')).sort()).toEqual([
      'epoch-0001.json',
      'epoch-0002.json',
      'epoch-0003.json',
      'epoch-0004.json',
    ]);
  });

  it('exports out/model.onnx whose probabilities are those of its final weights, and metrics of that model', async () => {
    const job = JSON.parse(readFileSync(join(whole, 'job.json'), 'utf8')) as { features: { dimension: number }; classes: string[] };
    const dim = job.features.dimension;
    const cp = parseCheckpoint(readFileSync(join(whole, 'checkpoints/epoch-0004.json'), 'utf8'));
    const weights = Float32Array.from(cp.weights);
    const bias = Float32Array.from(cp.bias);
    const metrics = JSON.parse(readFileSync(join(whole, 'out/metrics.json'), 'utf8')) as TrainingMetrics;
    expect(metrics.epochs).toBe(EPOCHS);
    expect(metrics.shuffledLabels).toBe(false);
    const lastProgress = wholeRun.messages.filter((m) => m.type === 'progress').at(-1);
    expect(metrics.loss).toBe(lastProgress?.type === 'progress' ? lastProgress.loss : undefined);

    for (const split of ['train', 'validation'] as const) {
      const { examples, labels } = readSplitExamples(whole, JSON.parse(readFileSync(join(whole, 'job.json'), 'utf8')), split);
      const probs = await onnxProbabilities(join(whole, 'out/model.onnx'), whole, split, dim);
      expect(probs.length).toBe(examples.length * job.classes.length);
      let hits = 0;
      examples.forEach((ex, i) => {
        const own = predictProbabilities(weights, bias, dim, ex);
        const fromOnnx = Array.from(probs.subarray(i * job.classes.length, (i + 1) * job.classes.length));
        fromOnnx.forEach((p, k) => expect(p).toBeCloseTo(own[k]!, 5));
        if (argmax(fromOnnx) === labels[i]) hits++;
      });
      expect(metrics[split].n).toBe(examples.length);
      expect(metrics[split].accuracy).toBeCloseTo(hits / examples.length, 12);
    }
    expect(metrics.validation.accuracy).toBeGreaterThan(0.8);
  });

  it('resumed from an epoch checkpoint under resume/, runs the remaining epochs and ends identical to the uninterrupted run', async () => {
    const first = freshDir();
    await writeJobDir(first, input({}, 2));
    runTrainingJob(first);

    const resumed = freshDir();
    await writeJobDir(resumed, input({ resumeFrom: { epoch: 2, path: 'resume/epoch-0002.json' } }));
    copyFileSync(join(first, 'checkpoints/epoch-0002.json'), join(resumed, 'resume/epoch-0002.json'));
    const run = runTrainerProcess(resumed);
    expect(run.status).toBe(0);
    expect(run.messages.filter((m) => m.type === 'progress').map((m) => (m.type === 'progress' ? m.epoch : 0))).toEqual([3, 4]);
    expect(readFileSync(join(resumed, 'checkpoints/epoch-0004.json'))).toEqual(readFileSync(join(whole, 'checkpoints/epoch-0004.json')));
    expect(readFileSync(join(resumed, 'out/model.onnx'))).toEqual(readFileSync(join(whole, 'out/model.onnx')));
    const m = JSON.parse(readFileSync(join(resumed, 'out/metrics.json'), 'utf8')) as TrainingMetrics;
    expect(m.epochs).toBe(EPOCHS);
  });

  it('exits 2 on a job.json of another contract version, without outputs', async () => {
    const dir = freshDir();
    await writeJobDir(dir, input());
    const job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ ...job, contract: 'trainset-trainer-v0' }));
    const run = runTrainerProcess(dir);
    expect(run.status).toBe(EXIT_BAD_INPUT);
    expect(run.messages).toEqual([]);
    expect(run.stderr).toContain('contract "trainset-trainer-v0"');
    expect(existsSync(join(dir, 'out/model.onnx'))).toBe(false);
  });
});

describe('runTrainingJob (in process)', () => {
  it('with shuffled labels trains a near-chance model and says so in metrics.json', async () => {
    const dir = freshDir();
    await writeJobDir(dir, input({ shuffleLabels: true }, 8));
    const { metrics } = runTrainingJob(dir);
    expect(metrics.shuffledLabels).toBe(true);
    expect(metrics.validation.accuracy).toBeLessThan(0.45);
  });

  it('refuses a resume checkpoint of another epoch, a missing one, and corrupt features as bad input', async () => {
    const first = freshDir();
    await writeJobDir(first, input({}, 1));
    runTrainingJob(first);

    const dir = freshDir();
    await writeJobDir(dir, input({ resumeFrom: { epoch: 2, path: 'resume/epoch-0002.json' } }));
    expect(() => runTrainingJob(dir)).toThrow(new TrainingInputError('resumeFrom names resume/epoch-0002.json, which is missing'));
    copyFileSync(join(first, 'checkpoints/epoch-0001.json'), join(dir, 'resume/epoch-0002.json'));
    expect(() => runTrainingJob(dir)).toThrow('cannot resume: resume/epoch-0002.json holds epoch 1, job.json says 2');

    const bad = freshDir();
    await writeJobDir(bad, input());
    writeFileSync(join(bad, 'features/train.indices.npy'), 'not numpy');
    expect(() => runTrainingJob(bad)).toThrow(TrainingInputError);
    expect(() => runTrainingJob(bad)).toThrow('features/train.indices.npy: not a .npy file');
    expect(existsSync(join(bad, 'out/model.onnx'))).toBe(false);
  });

  it('ignores a pre-contract checkpoint.json: without resumeFrom it starts at epoch 1', async () => {
    const first = freshDir();
    await writeJobDir(first, input({}, 1));
    runTrainingJob(first);
    const dir = freshDir();
    await writeJobDir(dir, input({}, 2));
    copyFileSync(join(first, 'checkpoints/epoch-0001.json'), join(dir, 'checkpoint.json'));
    const epochs: number[] = [];
    runTrainingJob(dir, { emit: (m) => void (m.type === 'progress' && epochs.push(m.epoch)) });
    expect(epochs).toEqual([1, 2]);
  });
});
