/**
 * The canary: its policy, the predictions and windows it analyses, and its state.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */

/** Where the canary reads its live metrics: the gateway's own prediction log, or Prometheus (PromQL over HTTP). */
export type CanaryMetricsSourceName = 'gateway' | 'prometheus';

/** What a canary does with a step whose analysis has too few samples. */
export type InconclusivePolicy = 'hold' | 'extend' | 'rollback';

/** Canary plan and analysis policy (the spec's `canary` section; see docs/canary.md). */
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
  /** Gateway token names whose feedback the analysis counts (`anonymous`: an open, loopback-only gateway). */
  trustedFeedbackSources?: readonly string[];
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
