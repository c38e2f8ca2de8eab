/** What activities are built from; the workers construct these (embedded or production adapters). */
import type { SpecSource } from '../datasets/spec-source';
import type { Registry } from '../registry';
import type { GatewayClient } from '../serving/http-client';
import type { CanaryMetricsSource } from '../serving/metric-source';
import type { BlobStore } from '../storage/blob-store';
import type { TrainerSpec } from '../shared/trainer-spec';
import type { TrainerBackend } from '../training/backend';

/** Minimal structured logger (pino-compatible). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Dependencies of the CPU (data, registry, canary) activities. */
export interface CpuActivityDeps {
  blobs: BlobStore;
  registry: Registry;
  specs: SpecSource;
  gateway: GatewayClient;
  logger: Logger;
  /** Key of the PII `tokenize` action (keyed HMAC); a spec that tokenizes without one fails the run. */
  piiTokenKey?: Buffer;
  /** Canary metric sources beside the gateway's own log (spec `canary.metricsSource`); prometheus from PROMETHEUS_URL. */
  metricSources?: { prometheus?: CanaryMetricsSource };
  /** Records per committed output part of the partition stages (the unit a retry resumes from); default 50 000. */
  partRecords?: number;
}

/** Dependencies of the GPU (training) activities. */
export interface GpuActivityDeps {
  blobs: BlobStore;
  specs: SpecSource;
  /** The trainer backends this worker runs, by the spec's `trainer.backend`; a spec naming another fails at once. */
  trainers: Partial<Record<TrainerSpec['backend'], TrainerBackend>>;
  /** This worker's GPUs: a job leases `trainer.gpus` of them for as long as it runs. */
  gpus: GpuLeasePort;
  /** Local scratch folder for training jobs (job directories; checkpoints live in the blob store). */
  workDir: string;
  /** Where relative paths of `trainer.command` and `trainer.files` resolve (the identity hashes those files). */
  trainersRoot: string;
  logger: Logger;
  /** Called with the GPU-seconds of each finished job (a metric). */
  onGpuSeconds?(model: string, gpuSeconds: number): void;
}

/** A lease of GPU devices, released however the job ends. */
export interface GpuLeaseHandle {
  readonly devices: readonly string[];
  /** Devices x seconds held so far. */
  gpuSeconds(): number;
  /** Frees the devices; calling it again does nothing. */
  release(): void;
}

/** The GPU inventory as the training activity sees it. */
export interface GpuLeasePort {
  /** Devices of this worker. */
  readonly size: number;
  /** Lease `count` distinct devices, waiting (and calling onWait now and then) while not enough are free. */
  acquire(count: number, options?: { signal?: AbortSignal; onWait?: () => void }): Promise<GpuLeaseHandle>;
}
