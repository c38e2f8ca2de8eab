/** Fake dependencies for activity tests: the real tickets spec, an in-memory blob store, no registry or gateway. */
import * as path from 'node:path';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment, type MockActivityEnvironmentOptions } from '@temporalio/testing';
import type { CpuActivityDeps, GpuActivityDeps } from '../../src/activities';
import { createDirSpecSource, specHashOf, type SpecSource } from '../../src/datasets/spec-source';
import type { Registry } from '../../src/registry';
import type { GatewayClient } from '../../src/serving/http-client';
import type { DatasetSpec } from '../../src/shared/spec';
import type { BlobStore } from '../../src/storage/blob-store';
import type { GpuLeasePort } from '../../src/activities/deps';
import type { TrainerBackend } from '../../src/training/backend';
import { createGpuLeases } from '../../src/training/gpu-inventory';
import { createBuiltinBackend, createProcessBackend } from '../../src/training/process-backend';
import { trainsetErrorInterceptors } from '../../src/workers/error-interceptor';

/** Folder of the committed specs. */
export const SPECS_DIR = path.resolve(__dirname, '../../specs');

/**
 * MockActivityEnvironment with the interceptor the workers register: an activity that throws a TrainsetError fails
 * with the ApplicationFailure a workflow gets, so tests assert the failure as the workflow sees it.
 */
export class WorkerActivityEnvironment extends MockActivityEnvironment {
  constructor(info?: Partial<Info>, opts: Omit<MockActivityEnvironmentOptions, 'interceptors'> = {}) {
    super(info, { ...opts, interceptors: [trainsetErrorInterceptors] });
  }
}

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

/** Folder of the repository (the trainers root of the GPU activity tests). */
export const REPO_ROOT = path.resolve(__dirname, '../..');

/** GPU activity deps: the builtin and process backends, no GPUs unless given. */
export function gpuDeps(
  blobs: BlobStore,
  opts: { workDir: string; specs?: SpecSource; trainers?: GpuActivityDeps['trainers']; gpus?: GpuLeasePort; trainersRoot?: string },
): GpuActivityDeps {
  const trainersRoot = opts.trainersRoot ?? REPO_ROOT;
  const trainers: Partial<Record<string, TrainerBackend>> = opts.trainers ?? {
    builtin: createBuiltinBackend({ killGraceMs: 2000 }),
    process: createProcessBackend({ trainersRoot, killGraceMs: 2000 }),
  };
  return {
    blobs,
    specs: opts.specs ?? createDirSpecSource(SPECS_DIR),
    trainers,
    gpus: opts.gpus ?? createGpuLeases([]),
    workDir: opts.workDir,
    trainersRoot,
    logger: quietLogger,
  };
}
