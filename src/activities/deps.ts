/** What activities are built from; the workers construct these (embedded or production adapters). */
import type { SpecSource } from '../data/spec-source';
import type { Registry } from '../registry';
import type { GatewayClient } from '../serving/http-client';
import type { CanaryMetricsSource } from '../serving/metric-source';
import type { BlobStore } from '../storage/blob-store';
import type { TrainerBackend } from '../training/local-trainer';

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
  trainer: TrainerBackend;
  /** Local scratch folder for training jobs (checkpoints survive a retry on the same host). */
  workDir: string;
  logger: Logger;
}
