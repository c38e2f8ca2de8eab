import type { Arm, PredictionRecord } from '../shared/types';
import type { Predictor } from '../training/onnx-model';

/** Routing of one model's traffic between its champion and (during a canary) a candidate version. */
export interface RoutingState {
  model: string;
  championVersion: string;
  candidateVersion: string | null;
  /** Percent of traffic (0..100) sent to the candidate. */
  candidateWeight: number;
  /** Bumped on every routing change; predictions carry the generation that served them. */
  generation: number;
}

/** What the gateway serves for one model, as its refresh and status endpoints report it. */
export interface ServedRouting extends RoutingState {
  /**
   * The newest routing state the gateway read but could not switch to (a model version that fails to load); it
   * keeps serving `generation` meanwhile. Absent when it serves the newest state it read.
   */
  pending?: PendingRouting;
}

/** Where the gateway reads the current routing (the registry's deployments table in production). */
export interface RoutingSource {
  /** The routing of one model; undefined when the model has no deployment. */
  getRouting(model: string): Promise<RoutingState | undefined>;
  /**
   * The routing of every model that has a deployment, in one read: the gateway polls it, so it serves each deployed
   * model and picks up new ones without a restart. A source without it serves the gateway's default model and the
   * models a refresh names.
   */
  listRouting?(): Promise<RoutingState[]>;
}

/** One logged prediction: hashes only, never the raw request key or input. */
export interface PredictionRow extends PredictionRecord {
  createdAt: Date;
}

/** The inference log: predictions in batches, ground truth as feedback. */
export interface PredictionLog {
  insertPredictions(rows: PredictionRow[]): Promise<void>;
  /**
   * Attaches the true label to a logged prediction of `model`, if it has none yet (the first label wins) and the
   * prediction is at most `maxAgeMs` old; refusals (`duplicate`, `expired`) are audited, never applied.
   */
  recordFeedback(feedback: FeedbackInput): Promise<FeedbackOutcome>;
}

/** One feedback submission as the gateway passes it to the log. */
export interface FeedbackInput {
  predictionId: string;
  label: string;
  model: string;
  /** Who sent it: the token's name, or `anonymous` in open mode. The canary counts only sources its spec trusts. */
  source: string;
  /** Oldest prediction (by its logged time) feedback is still accepted for, in milliseconds. */
  maxAgeMs: number;
}

/** What became of a feedback submission. */
export type FeedbackOutcome = 'recorded' | 'not_found' | 'duplicate' | 'expired';

/** A loaded model: the one definition, shared with the gate's evaluation. */
export type { Prediction, Predictor } from '../training/onnx-model';

/**
 * Loads a model version's predictor (from the blob store in production). Each load returns a predictor the caller
 * owns: the gateway releases it once it serves that version no more.
 */
export interface ModelLoader {
  load(modelVersion: string): Promise<Predictor>;
}

/** The arm of a routing split that served a request. */
export type { Arm } from '../shared/types';

/** Body of a successful `POST /v1/models/<model>/predict` (or `/v1/predict`) response. */
export interface PredictResponse {
  predictionId: string;
  label: string;
  probabilities: number[];
  model: string;
  modelVersion: string;
  arm: Arm;
  generation: number;
}

/** The newest routing state a gateway read but could not switch to (see ServedRouting). */
export interface PendingRouting {
  generation: number;
  error: string;
}

/** One model as `GET /v1/models` lists it: what it serves, or `generation: null` while none of its states is loaded. */
export type ModelServing = ServedRouting | { model: string; generation: null; pending?: PendingRouting };
