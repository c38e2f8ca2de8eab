/** Pure decisions of backfillWorkflow: input checks, the partition list, the success verdict and the ETA. */
import type { BackfillInput } from '../shared/backfill';
import { DATASET_NAME, isLogicalDate } from '../shared/ids';
import { TRAIN_MODES } from '../shared/run-mode';
import type { TrainMode } from '../shared/types';

/** Most partition runs in flight at once. */
export const MAX_CONCURRENCY = 200;
/** Most partitions in one backfill (ten years of days); keeps the carried failure list well under payload limits. */
export const MAX_PARTITIONS = 3660;
/** Default partition runs per workflow run before continue-as-new. */
export const DEFAULT_MAX_CHILDREN_PER_RUN = 500;
/** Default wait between looks at partitions another starter holds, seconds. */
export const DEFAULT_RECHECK_SECONDS = 30;
/** Longest wait between those looks an input may ask for, seconds. */
export const MAX_RECHECK_SECONDS = 3600;
const MS_PER_DAY = 86_400_000;

/** Input with its defaults applied. */
export interface BackfillOptions {
  dataset: string;
  from: string;
  to: string;
  concurrency: number;
  dryRun: boolean;
  minSuccessRatio: number;
  maxChildrenPerRun: number;
  recheckSeconds: number;
  /** What each partition run does after its dataset version (default `none`: no GPU time per backfilled day). */
  train: TrainMode;
}

/**
 * Problems with an input (empty when it is valid). `strict` adds the checks of recheckSeconds (whole seconds,
 * 1–MAX_RECHECK_SECONDS), dryRun (a boolean) and taskQueue (non-empty); callers starting a new backfill pass it.
 */
export function backfillInputProblems(input: BackfillInput, { strict = true }: { strict?: boolean } = {}): string[] {
  const problems: string[] = [];
  if (typeof input?.dataset !== 'string' || !DATASET_NAME.test(input.dataset)) {
    problems.push('dataset must be a dataset name (lowercase letters, digits, "-" or "_", starting with a letter)');
  }
  if (!isLogicalDate(String(input?.from))) problems.push('from must be a date as YYYY-MM-DD');
  if (!isLogicalDate(String(input?.to))) problems.push('to must be a date as YYYY-MM-DD');
  if (problems.length === 0) {
    const n = daysBetween(input.from, input.to) + 1;
    if (n < 1) problems.push('from must not be after to');
    else if (n > MAX_PARTITIONS) problems.push(`at most ${MAX_PARTITIONS} partitions per backfill; split the range`);
  }
  if (!isConcurrency(input?.concurrency)) problems.push(`concurrency must be an integer from 1 to ${MAX_CONCURRENCY}`);
  const ratio = input?.minSuccessRatio;
  if (ratio !== undefined && !(typeof ratio === 'number' && ratio >= 0 && ratio <= 1)) {
    problems.push('minSuccessRatio must be a number from 0 to 1');
  }
  const max = input?.maxChildrenPerRun;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1)) problems.push('maxChildrenPerRun must be a positive integer');
  const recheck = input?.recheckSeconds;
  if (!strict) {
    if (recheck !== undefined && !(typeof recheck === 'number' && recheck > 0)) problems.push('recheckSeconds must be positive');
    return problems;
  }
  if (recheck !== undefined && !(Number.isInteger(recheck) && recheck >= 1 && recheck <= MAX_RECHECK_SECONDS)) {
    problems.push(`recheckSeconds must be a whole number of seconds from 1 to ${MAX_RECHECK_SECONDS}`);
  }
  if (input?.dryRun !== undefined && typeof input.dryRun !== 'boolean') problems.push('dryRun must be true or false');
  if (input?.train !== undefined && !TRAIN_MODES.includes(input.train)) {
    problems.push(`train must be one of ${TRAIN_MODES.join(', ')} (a backfill never deploys; "all" also trains and evaluates)`);
  }
  const queue = input?.taskQueue;
  if (queue !== undefined && !(typeof queue === 'string' && queue.trim() !== '')) problems.push('taskQueue must be a non-empty string');
  return problems;
}

/** The input with defaults; call after backfillInputProblems found nothing. */
export function backfillOptions(input: BackfillInput): BackfillOptions {
  return {
    dataset: input.dataset,
    from: input.from,
    to: input.to,
    concurrency: input.concurrency,
    dryRun: input.dryRun ?? false,
    minSuccessRatio: input.minSuccessRatio ?? 1,
    maxChildrenPerRun: input.maxChildrenPerRun ?? DEFAULT_MAX_CHILDREN_PER_RUN,
    recheckSeconds: input.recheckSeconds ?? DEFAULT_RECHECK_SECONDS,
    train: input.train ?? 'none',
  };
}

/** True for a concurrency the workflow accepts. */
export function isConcurrency(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_CONCURRENCY;
}

/** Every date from `from` to `to`, both included, in order. */
export function partitionsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T00:00:00Z`);
  const n = daysBetween(from, to) + 1;
  for (let i = 0; i < n; i++) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / MS_PER_DAY);
}

/** Whether a finished backfill met its success ratio. Partitions already done count as successes. */
export function backfillVerdict(c: { total: number; succeeded: number; alreadyDone: number; minSuccessRatio: number }): {
  successRatio: number;
  met: boolean;
} {
  const successRatio = c.total === 0 ? 1 : (c.succeeded + c.alreadyDone) / c.total;
  return { successRatio, met: successRatio >= c.minSuccessRatio };
}

/**
 * Seconds left at the rate so far: partition runs finished by this backfill per elapsed second, applied to those
 * not finished. Undefined before the first finish (no rate yet).
 */
export function etaSeconds(c: { finished: number; elapsedMs: number; left: number }): number | undefined {
  if (c.left === 0) return 0;
  if (c.finished === 0 || c.elapsedMs <= 0) return undefined;
  return Math.ceil((c.left * c.elapsedMs) / c.finished / 1000);
}
