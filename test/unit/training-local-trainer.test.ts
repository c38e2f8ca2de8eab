import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../../src/training/checkpoint';
import { evaluate } from '../../src/training/evaluate';
import type { TrainingMetrics, TrainingProgress } from '../../src/training/job';
import { createLocalTrainer, prepareJobDir, TrainerAbortedError, TrainerProcessError } from '../../src/training/local-trainer';
import { loadPredictor } from '../../src/training/model';
import { syntheticTickets, ticketJob } from './training-fixtures';

const root = mkdtempSync(join(tmpdir(), 'trainset-training-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `job-${++n}`);
const train = syntheticTickets(1200, 11);
const validation = syntheticTickets(300, 12);

describe('createLocalTrainer (child process)', () => {
  it('trains end to end: progress per epoch, model.json loadable by loadPredictor, metrics written', async () => {
    const dir = freshDir();
    await prepareJobDir(dir, ticketJob({}, { epochs: 5 }), train, validation);
    const progress: TrainingProgress[] = [];
    const result = await createLocalTrainer().run({ jobDir: dir }, { onProgress: (p) => progress.push(p) });
    expect(progress.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.every((p) => p.epochs === 5 && p.loss > 0 && p.valAccuracy !== null)).toBe(true);
    expect(result.modelPath).toBe(join(dir, 'model.json'));
    const predictor = loadPredictor(JSON.parse(readFileSync(result.modelPath, 'utf8')));
    expect(evaluate(predictor, syntheticTickets(400, 13), 'label').accuracy).toBeGreaterThan(0.9);
    const metrics = JSON.parse(readFileSync(result.metricsPath, 'utf8')) as TrainingMetrics;
    expect(metrics.validation.n).toBe(300);
    expect(metrics.train.accuracy).toBeGreaterThan(0.9);
    expect(metrics.validation.macroF1).toBeGreaterThan(0.9);
  });

  it('kills the child on abort and rejects with TrainerAbortedError once it has exited', async () => {
    const dir = freshDir();
    // Enough epochs that the run cannot finish before the abort lands.
    await prepareJobDir(dir, ticketJob({}, { epochs: 500, features: 1 << 16 }), syntheticTickets(4000, 14), validation);
    const controller = new AbortController();
    const seen: number[] = [];
    const run = createLocalTrainer({ killGraceMs: 2000 }).run(
      { jobDir: dir },
      {
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p.epoch);
          if (p.epoch === 2) controller.abort(new Error('cancelled by test'));
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(TrainerAbortedError);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThan(500);
    expect(existsSync(join(dir, 'model.json'))).toBe(false);
    // The checkpoint survives the kill, so a retry resumes rather than restarting.
    expect(parseCheckpoint(readFileSync(join(dir, 'checkpoint.json'), 'utf8')).epoch).toBeGreaterThanOrEqual(2);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      createLocalTrainer().run({ jobDir: freshDir() }, { signal: controller.signal, onProgress: () => {} }),
    ).rejects.toBeInstanceOf(TrainerAbortedError);
  });

  it('rejects with the stderr tail and a permanent error on bad input, never echoing record content', async () => {
    const dir = freshDir();
    await prepareJobDir(dir, ticketJob(), [{ text: 'secret-customer-text', label: 'not-a-class' }], []);
    const err = (await createLocalTrainer()
      .run({ jobDir: dir }, { onProgress: () => {} })
      .catch((e: unknown) => e)) as TrainerProcessError;
    expect(err).toBeInstanceOf(TrainerProcessError);
    expect(err.exitCode).toBe(2);
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(
      "exited with code 2: trainer failed: train.jsonl record 1 has a label that is not one of the job's classes",
    );
    expect(err.message).not.toContain('secret');
  });

  it('rejects with a non-permanent error when the node binary cannot be started', async () => {
    const dir = freshDir();
    await prepareJobDir(dir, ticketJob(), train.slice(0, 10), []);
    const err = (await createLocalTrainer({ nodePath: join(root, 'no-such-node') })
      .run({ jobDir: dir }, { onProgress: () => {} })
      .catch((e: unknown) => e)) as TrainerProcessError;
    expect(err).toBeInstanceOf(TrainerProcessError);
    expect(err.message).toMatch(/could not start the trainer process/);
    expect(err.permanent).toBe(false);
  });
});
