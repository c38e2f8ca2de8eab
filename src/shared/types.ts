/**
 * Types that cross the workflow/activity boundary. They carry references, counts and small
 * stats, never records or PII (claim check).
 */
import type { PiiEntity } from './spec';

/** Input of retrainPipelineWorkflow; plain JSON an operator can type into `temporal workflow start --input`. */
export interface RetrainInput {
  dataset: string;
  /** Partition to process (YYYY-MM-DD). Defaults to the day before the scheduled (or actual) start time. */
  logicalDate?: string;
  /** Days between the run's start date and the partition it processes when logicalDate is absent (default 1). */
  partitionOffsetDays?: number;
  /** Train on shuffled labels (demo and tests: a model that must be rolled back). */
  badModel?: boolean;
  /** Let the candidate past a failed validation gate; the reason is audited. */
  gateOverride?: { reason: string; actor?: string };
}

/** Terminal outcome of a retraining run. */
export type RetrainOutcome = 'promoted' | 'first_champion' | 'rolled_back' | 'rejected' | 'unchanged';

/** Stage names shown by the status query. */
export type Stage =
  | 'starting'
  | 'ingest'
  | 'pii'
  | 'dedupe'
  | 'labeling'
  | 'version'
  | 'quality'
  | 'train'
  | 'validate'
  | 'canary'
  | 'promote'
  | 'rollback'
  | 'compensating'
  | 'done'
  | 'failed';

/** What the spec says the workflow needs to know (small, no records). */
export interface RunPlan {
  dataset: string;
  partition: string;
  specHash: string;
  model: string;
  labeling: { labeler: 'programmatic' | 'human'; deadlineSeconds: number; minCoverage: number };
  gates: GatePolicy;
  canary: CanaryPolicy;
}

/** Validation gate thresholds. */
export interface GatePolicy {
  minAccuracy: number;
  minMacroF1: number;
  maxRegression: number;
}

/** Canary plan and analysis policy. */
export interface CanaryPolicy {
  steps: Array<{ weight: number; bakeSeconds: number }>;
  requestsPerStep: number;
  minSamples: number;
  maxAccuracyDrop: number;
  maxErrorRateIncrease: number;
  onInconclusive: 'rollback' | 'extend';
  maxExtensions: number;
}

/** Result of ingesting one partition. */
export interface IngestResult {
  recordsIn: number;
  accepted: number;
  quarantined: number;
  byReason: Record<string, number>;
  /** Blob key of the accepted records (work area, removed after the PII step). */
  stagedKey: string;
  quarantineKey?: string;
  files: number;
}

/** Result of the PII step. */
export interface PiiResult {
  records: number;
  droppedRecords: number;
  /** Records whose scan could not finish (timeout, error): quarantined, never passed on. */
  quarantined?: number;
  quarantineByReason?: Record<string, number>;
  quarantineKey?: string;
  findings: Partial<Record<PiiEntity, number>>;
  findingsByField: Record<string, number>;
  cleanKey: string;
}

/** Result of dedupe. */
export interface DedupeResult {
  records: number;
  /** Every dropped duplicate, within the partition and of earlier partitions. */
  duplicates: number;
  /** Of those, copies of records an earlier partition already kept. */
  crossPartitionDuplicates?: number;
  dedupedKey: string;
}

/** Label coverage of a partition. */
export interface LabelCoverage {
  total: number;
  labeled: number;
}

/** One human label, keyed by record hash. */
export interface LabelSubmission {
  recordHash: string;
  label: string;
}

/** Input of the submitLabels update and signal. */
export interface SubmitLabelsInput {
  labels: LabelSubmission[];
  labeledBy?: string;
}

/** Result of the submitLabels update. */
export interface SubmitLabelsResult {
  accepted: number;
  rejected: number;
  coverage: LabelCoverage;
}

/** A dataset version as the workflow sees it. */
export interface DatasetVersionRef {
  versionId: string;
  created: boolean;
  rows: number;
  partitions: string[];
  manifestKey: string;
  /** New objects stored (chunks, delta segment, manifest): 0 on an unchanged re-run. */
  objectsWritten: number;
  /** Bytes of the new chunks and delta segment. */
  bytesWritten?: number;
  /** Base chunks shared with the previous version. */
  reusedChunks?: number;
  previousLatest?: string;
}

/** Quality stage summary. */
export interface QualityResult {
  trainRows: number;
  validationRows: number;
  testRows: number;
  labelDistribution: Record<string, number>;
  completeness: Record<string, number>;
  /** The version's dataset card (self-contained HTML; Markdown beside it). */
  cardKey?: string;
  /** Drift against the previous version: how many figures, how many gated, the largest relative to their limits. */
  drift?: {
    against: string;
    figures: number;
    gated: number;
    top: Array<{ feature: string; metric: string; value: number; limit: number; gated: boolean }>;
  };
}

/** Classification metrics. */
export interface Metrics {
  accuracy: number;
  macroF1: number;
  n: number;
  perClass?: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

/** Result of the training activity. */
export interface TrainResult {
  artifactKey: string;
  trainMetrics: Metrics;
  validationMetrics: Metrics;
  epochs: number;
  seconds: number;
}

/** A registered model version. */
export interface ModelVersionRef {
  modelVersionId: string;
  version: number;
}

/** Metrics of candidate and champion on the same held-out test split. */
export interface Evaluation {
  candidate: Metrics;
  /** True when the candidate already is the champion (an unchanged re-run). */
  candidateIsChampion?: boolean;
  champion?: { modelVersionId: string; metrics: Metrics };
}

/** Gate verdict. */
export interface GateDecision {
  passed: boolean;
  rule: 'first-model' | 'vs-champion';
  reasons: string[];
  overridden?: boolean;
}

/** Which side of a canary served a request. */
export type Arm = 'champion' | 'candidate';

/** One served prediction as the gateway logs it: hashes only, never the raw request key or input. */
export interface PredictionRecord {
  id: string;
  model: string;
  modelVersion: string;
  arm: Arm;
  generation: number;
  requestKeyHash: string;
  inputHash: string;
  predictedLabel: string | null;
  latencyMs: number;
  /** A content-free error code when the predictor failed, else null. */
  error: string | null;
}

/** Live metrics of one arm over a canary window. */
export interface ArmStats {
  requests: number;
  errors: number;
  withFeedback: number;
  correct: number;
  p95LatencyMs: number;
}

/** Canary window stats: champion vs candidate over the same routing generation. */
export interface CanaryWindow {
  generation: number;
  champion: ArmStats;
  candidate: ArmStats;
}

/** Verdict of one canary analysis. */
export interface CanaryVerdict {
  verdict: 'pass' | 'breach' | 'inconclusive';
  reasons: string[];
}

/** One canary step as recorded in the status and result. */
export interface CanaryStepRecord {
  step: number;
  weight: number;
  generation: number;
  verdict: CanaryVerdict['verdict'] | 'rollback-signal';
  reasons: string[];
  candidateAccuracy?: number;
  championAccuracy?: number;
  candidateSamples: number;
  championSamples: number;
}

/** Status query answer: the stage and its counters. */
export interface PipelineStatus {
  dataset: string;
  logicalDate?: string;
  stage: Stage;
  ingest?: Omit<IngestResult, 'stagedKey'>;
  pii?: Omit<PiiResult, 'cleanKey'>;
  dedupe?: Omit<DedupeResult, 'dedupedKey'>;
  labeling?: LabelCoverage & { deadline?: string };
  datasetVersion?: DatasetVersionRef;
  quality?: QualityResult;
  training?: { epochs: number; seconds: number; validationAccuracy: number };
  modelVersion?: ModelVersionRef;
  evaluation?: Evaluation;
  gate?: GateDecision;
  canary: CanaryStepRecord[];
  rollbackRequest?: { reason: string };
  outcome?: RetrainOutcome;
  error?: string;
}

/** Result of retrainPipelineWorkflow. */
export interface RetrainResult {
  outcome: RetrainOutcome;
  dataset: string;
  logicalDate: string;
  datasetVersionId: string;
  modelVersionId?: string;
  champion?: string;
  status: PipelineStatus;
}
