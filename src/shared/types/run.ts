/**
 * A retraining run: its input, modes, plan, status and result.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */
import type { CanaryPolicy, CanaryState, CanaryStepRecord, ResponderRequest } from './canary';
import type { DatasetVersionRef, DedupeResult, IngestResult, PiiResult, QualityResult } from './data';
import type { Evaluation, GateDecision, GatePolicy } from './gate';
import type { LabelCoverage } from './labeling';
import type { ModelVersionRef } from './training';

/** Input of retrainPipelineWorkflow; plain JSON an operator can type into `temporal workflow start --input`. */
export interface RetrainInput {
  dataset: string;
  /** Partition to process (YYYY-MM-DD). Defaults to the day before the scheduled (or actual) start time. */
  logicalDate?: string;
  /** Days between the run's start date and the partition it processes when logicalDate is absent (default 1). */
  partitionOffsetDays?: number;
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
