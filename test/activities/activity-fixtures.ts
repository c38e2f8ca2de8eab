/** Fake dependencies for activity tests: the real tickets spec, an in-memory blob store, no registry or gateway. */
import * as path from 'node:path';
import type { CpuActivityDeps, GpuActivityDeps } from '../../src/activities';
import { createDirSpecSource, specHashOf, type SpecSource } from '../../src/data/spec-source';
import type { Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import type { DatasetSpec } from '../../src/shared/spec';
import type { BlobStore } from '../../src/storage/blob-store';
import type { TrainerBackend } from '../../src/training/local-trainer';

/** Folder of the committed specs. */
export const SPECS_DIR = path.resolve(__dirname, '../../specs');

/** A logger that drops everything. */
export const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The committed tickets spec with a change applied (e.g. a stricter PII policy), as a SpecSource. */
export async function specsWith(change: (spec: DatasetSpec) => DatasetSpec): Promise<SpecSource> {
  const { spec } = await createDirSpecSource(SPECS_DIR).load('tickets');
  const changed = change(structuredClone(spec));
  return { load: async () => ({ spec: changed, specHash: specHashOf(changed) }) };
}

/** CPU activity deps; a test that needs the registry or gateway passes a fake with just the methods it uses. */
export function cpuDeps(blobs: BlobStore, opts: { specs?: SpecSource; registry?: unknown; gateway?: unknown } = {}): CpuActivityDeps {
  return {
    blobs,
    specs: opts.specs ?? createDirSpecSource(SPECS_DIR),
    registry: (opts.registry ?? {}) as Registry,
    gateway: (opts.gateway ?? {}) as GatewayClient,
    logger: quietLogger,
  };
}

/** GPU activity deps. */
export function gpuDeps(blobs: BlobStore, trainer: TrainerBackend, workDir: string, specs?: SpecSource): GpuActivityDeps {
  return { blobs, specs: specs ?? createDirSpecSource(SPECS_DIR), trainer, workDir, logger: quietLogger };
}
