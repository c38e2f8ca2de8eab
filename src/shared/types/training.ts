/**
 * Training: metrics, the trained artifact and its experiment record.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */

/** Precision, recall, F1, support and (with scores) one-vs-rest ROC-AUC of one class. */
export interface ClassMetricsSummary {
  precision: number;
  recall: number;
  f1: number;
  support: number;
  rocAuc?: number;
}

/** Classification metrics (small: a few numbers per class and per slice, never records). */
export interface Metrics {
  accuracy: number;
  macroF1: number;
  n: number;
  perClass?: Record<string, ClassMetricsSummary>;
  /** Macro mean of the per-class one-vs-rest ROC-AUCs. */
  rocAuc?: number;
  /** Expected calibration error of the top-label confidence (10 bins). */
  ece?: number;
  /** Per slice: slice field → value → metrics. */
  slices?: Record<string, Record<string, Metrics>>;
}

/** Result of the training activity. */
export interface TrainResult {
  artifactKey: string;
  /** The key the job trained under (the workflow's key plus the trainer identity and settings); absent from results of older workers. */
  jobKey?: string;
  trainMetrics: Metrics;
  validationMetrics: Metrics;
  epochs: number;
  seconds: number;
  /** Per-epoch loss and metrics, hyperparameters, trainer identity and cost; absent from results of older workers. */
  experiment?: ExperimentRecord;
}

/** One epoch of the experiment record. */
export interface EpochRecord {
  epoch: number;
  loss?: number;
  metrics?: Record<string, number>;
  /** Seconds since the previous epoch's report (or the start of the attempt). */
  seconds?: number;
}

/** What a training job did: stored with the model version. */
export interface ExperimentRecord {
  hyperparameters: Record<string, unknown>;
  trainer: { backend: string; identity: string; digest: string };
  epochs: EpochRecord[];
  gpus: number;
  /** CUDA_VISIBLE_DEVICES ids the job ran on (absent in records that did not say). */
  devices?: string[];
  /** Leased GPUs x seconds held, over the attempt that finished. */
  gpuSeconds: number;
  wallSeconds: number;
  /** The epoch the finishing attempt resumed from (absent: it started at epoch 0). */
  resumedFromEpoch?: number;
  /** The trainer's own metrics file, as written. */
  trainerMetrics?: Record<string, unknown>;
}

/** A registered model version. */
export interface ModelVersionRef {
  modelVersionId: string;
  version: number;
}
