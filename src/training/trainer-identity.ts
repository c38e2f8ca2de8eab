/**
 * Who trains a model, as a content hash: the training cache key includes it, so a new trainer version (an
 * edited script, a new image digest) retrains and an unchanged one reuses the model it trained before.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import type { TrainerSpec } from '../shared/trainer-spec';
import { canonicalJson } from '../ingest/line-framing';

/** A trainer's identity: what it is in words, and the digest the cache key uses. */
export interface TrainerIdentity {
  backend: TrainerSpec['backend'];
  /** Human-readable: the command, or the image. */
  identity: string;
  /** sha256 (hex) over the identity and the content of the trainer's files (or the image reference). */
  digest: string;
  /** A warning for the operator, e.g. an image referenced by tag (its content can change under the same name). */
  warning?: string;
}

/** Folders skipped when hashing a trainer's files (caches that change without the trainer changing). */
const SKIPPED = new Set(['__pycache__', '.pytest_cache', 'node_modules', '.git']);
/** Hashing stops with an error past this many files (a trainer root pointed at a whole disk). */
const MAX_FILES = 10_000;

async function hashTree(root: string, path: string, hash: ReturnType<typeof createHash>, count: { n: number }): Promise<void> {
  const s = await stat(path);
  if (s.isDirectory()) {
    const entries = (await readdir(path)).filter((e) => !SKIPPED.has(e) && !e.endsWith('.pyc')).sort();
    for (const e of entries) await hashTree(root, join(path, e), hash, count);
    return;
  }
  if (!s.isFile()) return;
  if (++count.n > MAX_FILES) throw new Error(`trainer.files names more than ${MAX_FILES} files; list the trainer's own folder`);
  hash.update(`${relative(root, path) || basename(path)}\0`);
  hash.update(
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex'),
  );
  hash.update('\0');
}

/** Content digest of files and folders (relative to root), in a stable order. */
export async function digestFiles(paths: readonly string[], root: string): Promise<string> {
  const hash = createHash('sha256');
  const count = { n: 0 };
  for (const p of [...paths].sort()) {
    const abs = isAbsolute(p) ? p : resolve(root, p);
    try {
      await hashTree(root, abs, hash, count);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`trainer file ${p} does not exist (relative paths resolve against ${root})`);
      throw err;
    }
  }
  return hash.digest('hex');
}

/** The builtin trainer's source files (the modules trainer-process runs), next to this one. */
function builtinFiles(): string[] {
  const ext = extname(__filename); // .ts from the sources, .js when compiled, like the trainer itself
  return ['trainer-process', 'run-job', 'logreg', 'features', 'checkpoint', 'job', 'contract', 'npy', 'onnx-export', 'evaluate'].map((m) =>
    join(__dirname, `${m}${ext}`),
  );
}

/** The trainer's identity for the spec's backend; `root` is where relative process paths resolve. */
export async function resolveTrainerIdentity(trainer: TrainerSpec, root: string): Promise<TrainerIdentity> {
  if (trainer.backend === 'builtin') {
    const files = builtinFiles();
    const digest = await digestFiles(files, __dirname);
    return { backend: 'builtin', identity: `builtin:${trainer.kind}`, digest: sha(`builtin\0${trainer.kind}\0${digest}`) };
  }
  if (trainer.backend === 'process') {
    const command = trainer.command ?? [];
    // By default the command's arguments that name files (the trainer's own script), except the system's programs
    // (an interpreter such as /usr/bin/python3: an OS update would otherwise retrain every model).
    const files = trainer.files ?? command.filter((a) => !a.startsWith('-') && !SYSTEM_PATH.test(a) && existsUnder(root, a));
    const digest = await digestFiles(files, root);
    return { backend: 'process', identity: command.join(' '), digest: sha(`process\0${canonicalJson(command)}\0${digest}`) };
  }
  const k = trainer.kubernetes!;
  const pinned = /@sha256:[0-9a-f]{64}$/.test(k.image);
  return {
    backend: 'kubernetes',
    identity: `${k.image}${k.command ? ` ${k.command.join(' ')}` : ''}`,
    digest: sha(`kubernetes\0${k.image}\0${canonicalJson(k.command ?? null)}`),
    ...(pinned ? {} : { warning: `trainer image ${k.image} is not pinned by digest: a new image under the same tag will not retrain` }),
  };
}

/** Folders of the operating system's own programs and libraries. */
const SYSTEM_PATH = /^\/(usr|bin|sbin|lib|lib64|etc)\//;

const existsUnder = (root: string, p: string): boolean => existsSync(resolve(root, p));

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * The training cache key's trainer part: the identity digest and every setting that changes what is trained
 * (feature width, epochs, seed, the builtin's step size and penalty, the free-form hyperparameters). GPUs and
 * timeouts are left out: the same model on more devices is the same model.
 */
export function trainingCacheKey(trainer: TrainerSpec, identity: TrainerIdentity): string {
  const settings = {
    kind: trainer.kind,
    features: trainer.features,
    epochs: trainer.epochs,
    seed: trainer.seed,
    learningRate: trainer.learningRate,
    l2: trainer.l2,
    hyperparameters: trainer.hyperparameters,
  };
  return sha(`${identity.digest}\0${canonicalJson(settings)}`);
}
