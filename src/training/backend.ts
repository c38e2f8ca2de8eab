/**
 * The trainer backend port: runs one prepared job directory (see contract.ts) to completion with some backend
 * (a child process on this host, a Kubernetes Job) and reports the trainer's JSON lines as they come.
 */
import type { TrainerMessage } from './contract';
import type { TrainerSpec } from '../shared/trainer-spec';

/** One training run handed to a backend. */
export interface TrainerRunRequest {
  /** The prepared job directory on this host (job.json, features/, records/, resume/ when resuming). */
  jobDir: string;
  /** Attempt-independent key of the job: a backend derives names from it (a Kubernetes Job's name). */
  jobKey: string;
  /** The spec's trainer section. */
  trainer: TrainerSpec;
  /** GPU device ids leased to the job (CUDA_VISIBLE_DEVICES); empty for a CPU job. */
  devices: readonly string[];
  /**
   * Called for each progress, checkpoint and done line, in order, and awaited before the next. For a checkpoint
   * the file is at `<jobDir>/<path>` when this is called. A throw stops the run, which rejects with it.
   */
  onMessage(message: TrainerMessage): void | Promise<void>;
  /** Aborting stops the trainer (its whole process group, or the Job and its pods); `run` then rejects with TrainerAbortedError (backend-errors.ts). */
  signal?: AbortSignal;
}

/** A finished run: the outputs are in the job directory (contract JobPaths.model and JobPaths.metrics). */
export interface TrainerRunResult {
  /** Seconds the trainer ran (wall clock, this attempt). */
  seconds: number;
}

/** Runs trainer jobs. */
export interface TrainerBackend {
  /** Which backend this is (`builtin`, `process`, `kubernetes`). */
  readonly name: string;
  /** Train; the trainer resumes from job.json's resumeFrom when set. */
  run(request: TrainerRunRequest): Promise<TrainerRunResult>;
}
