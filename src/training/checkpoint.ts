/** The builtin trainer's checkpoint files: exact float64 state, one file per epoch under the job's checkpoints/. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Checkpoint } from './logreg';

/** File name of the checkpoint taken after `epoch` epochs, e.g. `epoch-0003.json` (sorts by epoch up to 9999). */
export function checkpointFileName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}.json`;
}

const CheckpointFileSchema = z.object({
  format: z.literal('trainset-logreg-checkpoint-v1'),
  epoch: z.number().int().nonnegative(),
  numClasses: z.number().int().min(2),
  features: z.number().int().positive(),
  seed: z.number().int(),
  /** float64 little-endian, base64: exact, so a resumed run matches an uninterrupted one bit for bit. */
  weights: z.string(),
  bias: z.array(z.number()),
});

function f64ToBase64(values: Float64Array): string {
  const buf = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) buf.writeDoubleLE(values[i]!, i * 8);
  return buf.toString('base64');
}

function base64ToF64(data: string): Float64Array {
  const buf = Buffer.from(data, 'base64');
  const out = new Float64Array(Math.floor(buf.length / 8));
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

/** Serialize a checkpoint to JSON text. */
export function serializeCheckpoint(cp: Checkpoint): string {
  return JSON.stringify({
    format: 'trainset-logreg-checkpoint-v1',
    epoch: cp.epoch,
    numClasses: cp.numClasses,
    features: cp.features,
    seed: cp.seed,
    weights: f64ToBase64(cp.weights),
    bias: Array.from(cp.bias),
  });
}

/** Parse checkpoint JSON text; throws a content-free Error when it is not a valid checkpoint. */
export function parseCheckpoint(text: string): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('checkpoint file is not valid JSON');
  }
  const r = CheckpointFileSchema.safeParse(raw);
  if (!r.success) throw new Error(`checkpoint file is invalid at ${r.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`);
  const c = r.data;
  const weights = base64ToF64(c.weights);
  if (weights.length !== c.numClasses * c.features) throw new Error('checkpoint weights have the wrong length');
  return { epoch: c.epoch, numClasses: c.numClasses, features: c.features, seed: c.seed, weights, bias: Float64Array.from(c.bias) };
}

/**
 * Write a file so readers see the old or the new content, never a torn one: tmp + fsync + rename, then an fsync
 * of the folder so the rename itself survives a crash.
 */
export function writeFileAtomicSync(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Read a checkpoint file, or undefined when it does not exist; throws a content-free Error when it is not valid. */
export function readCheckpointSync(path: string): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseCheckpoint(text);
}
