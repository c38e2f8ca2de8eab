/** Types of backfillWorkflow, its messages and its lookup activity (shared by the workflow, the CLI and the worker). */
import type { TrainMode } from './types';

/** Input of backfillWorkflow: plain JSON an operator types into `temporal workflow start --input`. */
export interface BackfillInput {
  dataset: string;
  /** First partition (YYYY-MM-DD), inclusive. */
  from: string;
  /** Last partition (YYYY-MM-DD), inclusive. */
  to: string;
  /** Partition runs in flight at once (1 … 200); change it while running with the `setConcurrency` signal. */
  concurrency: number;
  /** List what would be started and what is already done; start nothing. */
  dryRun?: boolean;
  /** Share of partitions that must succeed (already-done ones count); below it the backfill fails. Default 1. */
  minSuccessRatio?: number;
  /** Partition runs started per workflow run before it continues as new (default 500; keeps each history small). */
  maxChildrenPerRun?: number;
  /** Task queue of the partition runs (default trainset-backfill). */
  taskQueue?: string;
  /** How often a partition that another starter is running is checked again (default 30). */
  recheckSeconds?: number;
  /**
   * What each partition run does after building its dataset version: `none` (default) stops there, so a backfill
   * costs no GPU time per day; `all` also trains, registers and evaluates a model per day. A backfill never
   * canaries or promotes, whatever this says: its runs start with `deploy: never`.
   */
  train?: TrainMode;
  /** Set by the workflow itself when it continues as new; never by an operator. */
  carried?: BackfillCarry;
}

/** A partition whose run failed. Messages are the run's failure message: fixed, content-free text. */
export interface FailedPartition {
  partition: string;
  workflowId: string;
  /** ApplicationFailure type of the cause, when it has one. */
  type?: string;
  message: string;
}

/** What one run of a backfill hands to the next when it continues as new: a cursor and counters. */
export interface BackfillCarry {
  /** Index (in from … to) of the first partition not yet looked at. */
  cursor: number;
  succeeded: number;
  alreadyDone: number;
  failed: FailedPartition[];
  /** Partition runs this backfill started and saw finish (for the ETA). */
  finished: number;
  paused: boolean;
  /** When the first run started (ISO time). */
  startedAt: string;
  /** Workflow runs so far (1 for the first). */
  run: number;
  /** Time spent paused so far, ms (the ETA leaves it out). */
  pausedMs?: number;
  /** When the current pause began (workflow time, ms since the epoch). */
  pausedSince?: number;
  /** Partitions another starter was running when the previous workflow run ended: looked at again in this one. */
  waitingOnOthers?: string[];
}

/** Answer of the `progress` query. */
export interface BackfillProgress {
  dataset: string;
  from: string;
  to: string;
  total: number;
  /** succeeded + alreadyDone. */
  done: number;
  succeeded: number;
  alreadyDone: number;
  /** Partitions whose runs this backfill has in flight. */
  running: string[];
  failed: number;
  /** Partitions another starter (the nightly schedule, another backfill) is running; checked again later. */
  waitingOnOthers: string[];
  remaining: number;
  concurrency: number;
  paused: boolean;
  /** Workflow run of this backfill (it continues as new every maxChildrenPerRun partition runs). */
  run: number;
  startedAt: string;
  /** Seconds left at the rate so far; absent until a run has finished, and while paused. */
  etaSeconds?: number;
}

/** Result of backfillWorkflow. */
export interface BackfillResult {
  dataset: string;
  from: string;
  to: string;
  total: number;
  succeeded: number;
  alreadyDone: number;
  failed: FailedPartition[];
  /** (succeeded + alreadyDone) / total. */
  successRatio: number;
  minSuccessRatio: number;
  /** Workflow runs the backfill took (continue-as-new). */
  runs: number;
  /** Present for a dry run, which starts nothing. */
  dryRun?: BackfillDryRun;
}

/** What a dry run found. */
export interface BackfillDryRun {
  /** Partitions a real run would start (never run, or their last run failed, was cancelled or timed out). */
  wouldStart: string[];
  /** Partitions whose run completed: skipped. */
  alreadyDone: string[];
  /** Partitions another starter is running now: a real run would wait for them. */
  running: string[];
}

/** Where the latest run of a workflow id stands. */
export type PartitionRunState = 'none' | 'running' | 'completed' | 'failed';

/** Input of the setConcurrency signal. */
export interface SetConcurrencyInput {
  concurrency: number;
}
