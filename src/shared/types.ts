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
  /**
   * What the run does after the dataset version: `all` (default) trains, registers and evaluates a model;
   * `none` stops once the version is built and has passed its quality checks (no GPU time).
   */
  train?: TrainMode;
  /**
   * Whether the run may move production traffic. `auto` (default): it canaries and promotes only when its
   * partition is the newest one processed for the dataset (checked again right before the canary); `never`:
   * it stops after evaluation, its model version stays `registered`. Backfill runs always run with `never`.
   */
  deploy?: DeployMode;
}

/** `all`: train, register and evaluate a model; `none`: build the dataset version only. */
export type TrainMode = 'all' | 'none';
/** `auto`: deploy when the run's partition is the newest processed; `never`: never move traffic. */
export type DeployMode = 'auto' | 'never';
/** The run's train and deploy modes as resolved from its input (defaults applied). */
export interface RunMode {
  train: TrainMode;
  deploy: DeployMode;
}

/**
 * Terminal outcome of a retraining run. `versioned`: the dataset version was built, no model trained (train
 * `none`); `evaluated`: a model was trained, registered and evaluated but not deployed (deploy `never`, or a newer
 * partition was processed meanwhile).
 */
export type RetrainOutcome = 'promoted' | 'first_champion' | 'rolled_back' | 'rejected' | 'unchanged' | 'versioned' | 'evaluated';

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

/** A metric the validation gate can check; precision, recall and f1 are per class, rocAuc either. */
export type GateMetric = 'accuracy' | 'macroF1' | 'rocAuc' | 'ece' | 'precision' | 'recall' | 'f1';

/** Where a gate rule applies: a metric, optionally of one class, optionally on slices of the test split. */
export interface GateMetricRef {
  metric: GateMetric;
  /** Class of a per-class metric; absent: every class present in the scope (rocAuc: the macro mean). */
  class?: string;
  /** `field` (every value of a slice field) or `field=value` (one slice); absent: the whole test split. */
  slice?: string;
}

/** A value threshold (absolute bound) on a metric. */
export interface GateThreshold extends GateMetricRef {
  min?: number;
  max?: number;
}

/** A change threshold vs the champion on the same split; "degradation" follows the metric's direction. */
export interface GateChangeRule extends GateMetricRef {
  /** Largest allowed worsening, in metric units. */
  maxDegradation?: number;
  /** Largest allowed worsening as a share of the champion's value (0.05 = 5 %). */
  maxRelativeDegradation?: number;
  /** Smallest required improvement, in metric units. */
  minImprovement?: number;
}

/** Validation gate policy: the spec's `gates` section (every field past the first three is optional). */
export interface GatePolicy {
  minAccuracy: number;
  minMacroF1: number;
  /** Largest drop of accuracy and macro-F1 (whole split) below the champion's, absolute. */
  maxRegression: number;
  /** Fields whose values slice the test split (metrics recorded and gateable per slice). */
  slices?: string[];
  /** Slices with fewer test records are reported but not gated (default 30). */
  minSliceSamples?: number;
  /** Largest train − validation gap of accuracy and of macro-F1 (overfitting). */
  maxTrainValidationGap?: number;
  /** Rule for the first model (no champion): value thresholds only, or those plus a required override. */
  firstModel?: 'absolute' | 'require-override';
  thresholds?: GateThreshold[];
  changes?: GateChangeRule[];
}

/** Where the canary reads its live metrics: the gateway's own prediction log, or Prometheus (PromQL over HTTP). */
export type CanaryMetricsSourceName = 'gateway' | 'prometheus';

/** What a canary does with a step whose analysis has too few samples. */
export type InconclusivePolicy = 'hold' | 'extend' | 'rollback';

/** Canary plan and analysis policy (the spec's `canary` section; see the README's canary semantics). */
export interface CanaryPolicy {
  steps: Array<{ weight: number; bakeSeconds: number }>;
  requestsPerStep: number;
  /** Fewest requests and feedback samples per arm before a step can pass. */
  minSamples: number;
  maxAccuracyDrop: number;
  maxErrorRateIncrease: number;
  /** Breach when the candidate's p95 latency exceeds the champion's by this factor and by maxP95LatencyIncreaseMs. */
  maxP95LatencyRatio: number;
  maxP95LatencyIncreaseMs: number;
  /** Breached analyses tolerated over the whole canary; the next one rolls back (0: the first breach rolls back). */
  failureLimit: number;
  /** Metric reads failing in a row that are tolerated; the next failure aborts the canary (rollback). */
  consecutiveErrorLimit: number;
  /** Wait between a failed metric read and the next one. */
  metricsRetrySeconds: number;
  onInconclusive: InconclusivePolicy;
  /** `extend`: extra bakes of an inconclusive step before rolling back. */
  maxExtensions: number;
  /** Longest a canary stays paused (pause signal, or an inconclusive step under `hold`); then it rolls back. */
  pauseTimeoutSeconds: number;
  metricsSource: CanaryMetricsSourceName;
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
  /** Drift against the production sample (served requests' input profiles): its size and figures. */
  productionDrift?: { requests: number; figures: number; gated: number };
}

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

/** Metrics of candidate and champion on the same held-out test split. */
export interface Evaluation {
  candidate: Metrics;
  /** True when the candidate already is the champion (an unchanged re-run). */
  candidateIsChampion?: boolean;
  champion?: { modelVersionId: string; metrics: Metrics };
  /** The candidate's train and validation metrics as registered (for the train–validation gap). */
  training?: { train: Metrics; validation: Metrics };
  /** Dataset version whose test split both were scored on. */
  datasetVersionId?: string;
}

/** One check the gate made. */
export interface GateCheck {
  /** Stable name of the check (kind, metric, scope, bound): the key recheck compares decisions by. */
  id: string;
  kind: 'threshold' | 'change' | 'train-validation-gap' | 'first-model';
  passed: boolean;
  /** The candidate's value (the gap, for train-validation-gap). */
  value: number;
  limit: number;
  /** Champion value (change) or validation value (gap). */
  baseline?: number;
}

/** Gate verdict. */
export interface GateDecision {
  passed: boolean;
  rule: 'first-model' | 'vs-champion';
  /** One line per failed check. */
  reasons: string[];
  overridden?: boolean;
  /** Every check made, passed or failed. */
  checks?: GateCheck[];
  /** Rules that could not be applied (too few samples in a slice, a metric not recorded). */
  skipped?: string[];
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
  /** Text lengths and category codes of the input (src/serving/input-profile.ts), never its content. */
  profile?: Record<string, string | number> | null;
}

/** Live metrics of one arm over a canary window. */
export interface ArmStats {
  requests: number;
  errors: number;
  withFeedback: number;
  correct: number;
  p95LatencyMs: number;
}

/** Canary window stats: champion vs candidate over the same routing generation (and time window). */
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

/** What a canary step record says happened. */
export type CanaryStepVerdict = CanaryVerdict['verdict'] | 'metrics-error' | 'rollback-signal' | 'promote-signal';

/** One canary analysis (or responder action) as recorded in the status and result. */
export interface CanaryStepRecord {
  step: number;
  weight: number;
  generation: number;
  verdict: CanaryStepVerdict;
  reasons: string[];
  candidateAccuracy?: number;
  championAccuracy?: number;
  candidateP95LatencyMs?: number;
  championP95LatencyMs?: number;
  candidateSamples: number;
  championSamples: number;
}

/** A responder's request (signal or Update) as the run recorded it. */
export interface ResponderRequest {
  reason: string;
  /** Who asked: the Update requires it; a signal may carry it (Temporal does not pass the client identity to handlers). */
  actor: string;
  via: 'signal' | 'update';
}

/** Live state of the canary, for the status query and the rollback Update's answer. */
export interface CanaryState {
  step: number;
  weight: number;
  paused: boolean;
  /** Why the canary is paused: a responder's pause signal, or an inconclusive step under `hold`. */
  pausedBecause?: string;
  breaches: number;
  consecutiveMetricErrors: number;
}

/** Input of the rollback Update: both fields are required. */
export interface RollbackUpdateInput {
  reason: string;
  actor: string;
}

/** Answer of the rollback Update: the state the run reached (traffic is on the champion when outcome is set). */
export interface RollbackUpdateResult {
  /** False when an earlier rollback (signal or Update) was already in place: this one changed nothing. */
  accepted: boolean;
  stage: Stage;
  outcome?: RetrainOutcome;
  /** The first rollback request, the one that acted. */
  rollback: ResponderRequest;
  champion?: string;
}

/** Status query answer: the stage and its counters. */
export interface PipelineStatus {
  dataset: string;
  logicalDate?: string;
  stage: Stage;
  /** Train and deploy modes (absent in runs started before modes existed: they trained and deployed). */
  mode?: RunMode;
  /** Why the run did not deploy its model, when it trained one and did not (deploy `never`, a newer partition). */
  notDeployed?: string;
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
  canaryState?: CanaryState;
  rollbackRequest?: ResponderRequest;
  promoteRequest?: ResponderRequest;
  outcome?: RetrainOutcome;
  error?: string;
  /** The run report (HTML; a Markdown summary beside it), once written. */
  reportKey?: string;
}

/** Input of rollbackWorkflow: roll back a model already promoted, restoring the champion before it. */
export interface RollbackModelInput {
  model: string;
  /** The champion being rolled back; a compare-and-set, so a repeated rollback changes nothing. */
  fromVersion: string;
  /** Version to restore; default: the champion before fromVersion in the alias history. */
  toVersion?: string;
  reason: string;
  actor: string;
}

/** Result of rollbackWorkflow. */
export interface RollbackModelResult {
  /** `already_rolled_back`: fromVersion was no longer the champion; nothing changed. */
  outcome: 'rolled_back' | 'already_rolled_back';
  model: string;
  champion: string;
  /** Routing generation the gateway serves after the change. */
  generation: number;
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
