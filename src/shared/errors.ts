/** Failure types shared by activities and workflows; ApplicationFailure.type carries one of these. */
export const ErrorType = {
  /** The dataset spec is missing or invalid. */
  InvalidSpec: 'InvalidSpec',
  /** Workflow or activity input failed validation. */
  InvalidInput: 'InvalidInput',
  /** The raw partition does not exist in the blob store. */
  PartitionNotFound: 'PartitionNotFound',
  /** An input file cannot be read as a whole (gzip bomb, truncated gzip, corrupt Parquet, unknown format). */
  InputFileUnreadable: 'InputFileUnreadable',
  /** Too many records were quarantined (likely an upstream schema change). */
  QuarantineRateExceeded: 'QuarantineRateExceeded',
  /** The spec's PII policy says a finding must fail the run. */
  PiiPolicyViolation: 'PiiPolicyViolation',
  /** Label coverage stayed below the spec's minimum at the deadline. */
  LabelCoverageTooLow: 'LabelCoverageTooLow',
  /** Quality gate (completeness, label skew, split leakage, too few rows) failed. */
  QualityGateFailed: 'QualityGateFailed',
  /** Training failed for a reason retrying cannot fix. */
  TrainingFailed: 'TrainingFailed',
  /** The candidate model did not pass the validation gates. */
  ValidationGateFailed: 'ValidationGateFailed',
  /** The canary breached its analysis and was rolled back. */
  CanaryRolledBack: 'CanaryRolledBack',
  /** A responder asked for a rollback. */
  RollbackRequested: 'RollbackRequested',
  /** A compare-and-set on routing state lost to a concurrent change. */
  RoutingConflict: 'RoutingConflict',
  /** The serving gateway cannot load the routing a promotion or rollback committed (e.g. a broken model artifact). */
  GatewayLoadFailed: 'GatewayLoadFailed',
  /** A stored object's content does not match its address. */
  IntegrityError: 'IntegrityError',
  /** A backfill finished with fewer successful partitions than its minSuccessRatio. */
  BackfillBelowMinSuccessRatio: 'BackfillBelowMinSuccessRatio',
  /** A training job asks for more GPUs than the worker has. */
  GpuRequestTooLarge: 'GpuRequestTooLarge',
  /** The spec names a trainer backend this GPU worker was not started with. */
  TrainerBackendUnavailable: 'TrainerBackendUnavailable',
} as const;

/** One of the ErrorType values. */
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** What a TrainsetError fails its activity with. */
export interface TrainsetErrorOptions {
  /** The ErrorType of the ApplicationFailure (what retry policies and workflows match on). */
  type: ErrorTypeName;
  /** Whether Temporal must not retry the activity; default true (a typed error says the same input fails the same way). */
  nonRetryable?: boolean;
  /** The error this one wraps, if any. */
  cause?: unknown;
}

/**
 * Base of trainset's typed errors. Domain code throws a subclass; the worker's activity interceptor fails the
 * activity with an ApplicationFailure of the same message, `type` and `nonRetryable`. Plain data, no Temporal
 * import: workflow code may import this module.
 */
export class TrainsetError extends Error {
  /** The ErrorType the activity fails with. */
  readonly type: ErrorTypeName;
  /** Whether the activity fails without retries. */
  readonly nonRetryable: boolean;

  constructor(message: string, options: TrainsetErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrainsetError';
    this.type = options.type;
    this.nonRetryable = options.nonRetryable ?? true;
  }
}
