/**
 * backfillWorkflow: retrain every partition (day) of a date range as child runs of retrainPipelineWorkflow, a
 * bounded number at a time, on the trainset-backfill task queue. Each child has the partition's own workflow id
 * (retrainWorkflowId), so a partition is processed once however many backfills and manual runs ask for it.
 * Continues as new every maxChildrenPerRun starts, after draining its children, carrying only a cursor and counters.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  BackfillCarry,
  BackfillInput,
  BackfillProgress,
  BackfillResult,
  FailedPartition,
  PartitionRunState,
  SetConcurrencyInput,
} from '../shared/backfill';
import { ErrorType } from '../shared/errors';
import { retrainWorkflowId } from '../shared/ids';
import { BACKFILL_TASK_QUEUE } from '../shared/task-queues';
import { backfillLookups } from './activity-proxies';
import { backfillInputProblems, backfillOptions, backfillVerdict, etaSeconds, isConcurrency, partitionsBetween } from './backfill-plan';
import { summarizeFailure } from './failures';
import { BACKFILL_NEVER_DEPLOYS, BACKFILL_SETTLE_V2 } from './patches';
import type { retrainPipelineWorkflow } from './retrain-pipeline';

/** Change how many partition runs may be in flight (`--input '{"concurrency":8}'`); running ones are not stopped. */
export const setConcurrencySignal = defineSignal<[SetConcurrencyInput]>('setConcurrency');
/** Start no more partition runs until `resume`; those in flight finish. */
export const pauseSignal = defineSignal('pause');
/** Start partition runs again after `pause`. */
export const resumeSignal = defineSignal('resume');
/** Done / running / failed / remaining partitions and an ETA. */
export const progressQuery = defineQuery<BackfillProgress>('progress');

/** Partitions looked up per describePartitionRuns call. */
const LOOKUP_BATCH = 100;
/** Continue as new well before the server's limits (10,240 events / 10 MB warn at 10 K / 10 MB; hard at 50 K / 50 MB). */
const MAX_EVENTS_PER_RUN = 8000;
const MAX_BYTES_PER_RUN = 8 * 1024 * 1024;
/** Failure messages are cut to this length: the list is carried across continue-as-new. */
const MAX_MESSAGE = 200;
/** Failed partitions named in the message of a backfill below its success ratio (all of them are in its details). */
const MAX_FAILED_LISTED = 20;
/**
 * Priority of the partition runs (and their activities): Temporal's keys run from 1 (first) to 5 (last), unset is 3.
 * Where the server has priority enabled, a backfill's training on the shared GPU queue yields to nightly runs (3).
 */
const BACKFILL_PRIORITY_KEY = 5;

/** Retrain every partition from `from` to `to`; fails if fewer than minSuccessRatio of them end up done. */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillResult> {
  // Before BACKFILL_SETTLE_V2, every workflow run settled the partitions other starters held (blocking new starts),
  // counting one whose other run failed as failed; with it the waiting list is carried to the next run, only the
  // last run waits, and a partition whose other run ended without completing is started by the backfill itself.
  const settleV2 = patched(BACKFILL_SETTLE_V2);
  // Before BACKFILL_NEVER_DEPLOYS, partition runs got only their dataset and date, and ran the whole pipeline,
  // canary and promotion included; with it they never deploy and train only when the backfill asks.
  const neverDeploys = patched(BACKFILL_NEVER_DEPLOYS);
  // The stricter input checks came with the patch; a backfill started before it (or continued from one) keeps
  // the checks it was started under, so its history replays.
  const problems = backfillInputProblems(input, { strict: settleV2 && input?.carried === undefined });
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid backfill input: ${problems.join('; ')}`, ErrorType.InvalidInput);
  }
  const opts = backfillOptions(input);
  const childQueue = input.taskQueue ?? BACKFILL_TASK_QUEUE;
  const partitions = partitionsBetween(opts.from, opts.to);
  const carry: BackfillCarry = input.carried ?? {
    cursor: 0,
    succeeded: 0,
    alreadyDone: 0,
    failed: [],
    finished: 0,
    paused: false,
    startedAt: new Date().toISOString(), // workflow time: deterministic
    run: 1,
  };
  let concurrency = opts.concurrency;
  /** Partition → workflow id of the runs this workflow run has in flight. */
  const running = new Map<string, string>();
  /** Partitions another starter is running; looked at again before the backfill ends. */
  const waitingOnOthers: string[] = [];
  if (settleV2 && carry.waitingOnOthers) {
    waitingOnOthers.push(...carry.waitingOnOthers);
    delete carry.waitingOnOthers;
  }

  // Handlers first: registered before the first await.
  setHandler(setConcurrencySignal, (arg) => {
    const n = arg?.concurrency;
    if (!isConcurrency(n)) {
      log.warn('setConcurrency ignored: expected {"concurrency": 1 … 200}', { got: String(n) });
      return;
    }
    log.info('concurrency changed', { from: concurrency, to: n });
    concurrency = n;
  });
  // Date.now() in a workflow is the sandbox's clock: the time of the current workflow task, deterministic.
  setHandler(pauseSignal, () => {
    if (!carry.paused) carry.pausedSince = Date.now();
    carry.paused = true;
  });
  setHandler(resumeSignal, () => {
    if (carry.paused && carry.pausedSince !== undefined) carry.pausedMs = (carry.pausedMs ?? 0) + Date.now() - carry.pausedSince;
    delete carry.pausedSince;
    carry.paused = false;
  });
  setHandler(progressQuery, () => {
    const done = carry.succeeded + carry.alreadyDone;
    const remaining = partitions.length - done - carry.failed.length - running.size - waitingOnOthers.length;
    const progress: BackfillProgress = {
      dataset: opts.dataset,
      from: opts.from,
      to: opts.to,
      total: partitions.length,
      done,
      succeeded: carry.succeeded,
      alreadyDone: carry.alreadyDone,
      running: [...running.keys()],
      failed: carry.failed.length,
      waitingOnOthers: [...waitingOnOthers],
      remaining,
      concurrency,
      paused: carry.paused,
      run: carry.run,
      startedAt: carry.startedAt,
    };
    const pausedMs = (carry.pausedMs ?? 0) + (carry.pausedSince !== undefined ? Date.now() - carry.pausedSince : 0);
    const eta = etaSeconds({
      finished: carry.finished,
      // Time spent running, not paused (Date.now(): the workflow task's time, deterministic).
      elapsedMs: Date.now() - Date.parse(carry.startedAt) - pausedMs,
      left: remaining + running.size + waitingOnOthers.length,
    });
    if (eta !== undefined && !carry.paused) progress.etaSeconds = eta;
    return progress;
  });

  const lookups = backfillLookups(childQueue);
  const describe = (ps: string[]): Promise<PartitionRunState[]> =>
    lookups.describePartitionRuns({ workflowIds: ps.map((p) => retrainWorkflowId(opts.dataset, p)) });

  if (opts.dryRun) return dryRun(opts, partitions, describe);

  const fail = (partition: string, type: string | undefined, message: string): void => {
    const f: FailedPartition = {
      partition,
      workflowId: retrainWorkflowId(opts.dataset, partition),
      message: message.slice(0, MAX_MESSAGE),
    };
    if (type) f.type = type;
    carry.failed.push(f);
  };

  const startPartition = (partition: string): void => {
    const workflowId = retrainWorkflowId(opts.dataset, partition);
    running.set(partition, workflowId);
    void (async () => {
      try {
        const child = await startChild<typeof retrainPipelineWorkflow>('retrainPipelineWorkflow', {
          workflowId,
          taskQueue: childQueue,
          args: [
            neverDeploys
              ? { dataset: opts.dataset, logicalDate: partition, train: opts.train, deploy: 'never' }
              : { dataset: opts.dataset, logicalDate: partition },
          ],
          // A completed partition is never run again; one whose last run failed (or was cancelled) may be.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          // Cancelling or terminating the backfill asks its runs to cancel, so their sagas compensate.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          priority: { priorityKey: BACKFILL_PRIORITY_KEY },
        });
        await child.result();
        carry.succeeded += 1;
        carry.finished += 1;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          // Completed, or started meanwhile by someone else: the recheck below finds out which.
          waitingOnOthers.push(partition);
          return;
        }
        const { type, message } = summarizeFailure(err);
        fail(partition, type, message);
        carry.finished += 1;
      } finally {
        running.delete(partition);
      }
    })();
  };

  // Start partition runs until the range ends or this run has done its share.
  let startedThisRun = 0;
  let lookahead: Array<{ partition: string; state: PartitionRunState }> = [];
  /** The history is as large as a run should let it grow. */
  const historyIsFull = (): boolean => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= MAX_EVENTS_PER_RUN || info.historySize >= MAX_BYTES_PER_RUN;
  };
  const runIsFull = (): boolean => startedThisRun >= opts.maxChildrenPerRun || historyIsFull();
  while (carry.cursor < partitions.length && !runIsFull()) {
    // A paused backfill waits for resume without a deadline: it holds nothing but its own history (cancel to stop it).
    await condition(() => !carry.paused && running.size < concurrency);
    if (lookahead.length === 0) {
      const batch = partitions.slice(carry.cursor, carry.cursor + LOOKUP_BATCH);
      const states = await describe(batch);
      lookahead = batch.map((partition, i) => ({ partition, state: states[i] ?? 'none' }));
      continue; // pause or a smaller concurrency may have arrived meanwhile
    }
    const next = lookahead.shift()!;
    carry.cursor += 1;
    if (next.state === 'completed') carry.alreadyDone += 1;
    else if (next.state === 'running') waitingOnOthers.push(next.partition);
    else {
      startPartition(next.partition);
      startedThisRun += 1;
    }
  }

  // Drain: a run that continues as new leaves no children behind, so the next run tracks nothing but counters
  // (and, patched, the partitions other starters hold).
  await condition(() => running.size === 0);
  const continueWith = async (waiting: string[]): Promise<never> => {
    await condition(allHandlersFinished);
    return continueAsNew<typeof backfillWorkflow>({
      ...input,
      concurrency,
      carried: { ...carry, run: carry.run + 1, ...(waiting.length > 0 ? { waitingOnOthers: waiting } : {}) },
    });
  };
  if (!settleV2) {
    await settleOthers(waitingOnOthers, describe, opts.recheckSeconds, carry, fail);
    if (carry.cursor < partitions.length) return continueWith([]);
  } else {
    if (carry.cursor < partitions.length) return continueWith([...waitingOnOthers]);
    // The last run: wait for the partitions other starters hold; start those whose run ended without completing.
    for (;;) {
      const { restart, full } = await settleOthers(waitingOnOthers, describe, opts.recheckSeconds, carry, fail, { historyIsFull });
      for (const partition of restart) {
        await condition(() => !carry.paused && running.size < concurrency);
        startPartition(partition);
      }
      await condition(() => running.size === 0);
      if (full) return continueWith([...waitingOnOthers]);
      if (waitingOnOthers.length === 0) break;
    }
  }

  const verdict = backfillVerdict({
    total: partitions.length,
    succeeded: carry.succeeded,
    alreadyDone: carry.alreadyDone,
    minSuccessRatio: opts.minSuccessRatio,
  });
  const result: BackfillResult = {
    dataset: opts.dataset,
    from: opts.from,
    to: opts.to,
    total: partitions.length,
    succeeded: carry.succeeded,
    alreadyDone: carry.alreadyDone,
    failed: carry.failed,
    successRatio: verdict.successRatio,
    minSuccessRatio: opts.minSuccessRatio,
    runs: carry.run,
  };
  await condition(allHandlersFinished);
  if (!verdict.met) {
    const listed = carry.failed.slice(0, MAX_FAILED_LISTED).map((f) => `${f.partition} (${f.type ?? 'failed'})`);
    const more = carry.failed.length > listed.length ? ` and ${carry.failed.length - listed.length} more` : '';
    throw ApplicationFailure.create({
      message:
        `backfill of ${opts.dataset} ${opts.from}..${opts.to}: success ratio ${verdict.successRatio.toFixed(3)} is below ` +
        `minSuccessRatio ${opts.minSuccessRatio}; failed partitions: ${listed.join(', ')}${more}. ` +
        'Fix the cause and start the same backfill again: it retries only these.',
      type: ErrorType.BackfillBelowMinSuccessRatio,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

/** List what a real run would do; start nothing. */
async function dryRun(
  opts: ReturnType<typeof backfillOptions>,
  partitions: string[],
  describe: (ps: string[]) => Promise<PartitionRunState[]>,
): Promise<BackfillResult> {
  const found = { wouldStart: [] as string[], alreadyDone: [] as string[], running: [] as string[] };
  for (let i = 0; i < partitions.length; i += LOOKUP_BATCH) {
    const batch = partitions.slice(i, i + LOOKUP_BATCH);
    const states = await describe(batch);
    batch.forEach((p, j) => {
      const s = states[j];
      if (s === 'completed') found.alreadyDone.push(p);
      else if (s === 'running') found.running.push(p);
      else found.wouldStart.push(p);
    });
  }
  await condition(allHandlersFinished);
  return {
    dataset: opts.dataset,
    from: opts.from,
    to: opts.to,
    total: partitions.length,
    succeeded: 0,
    alreadyDone: found.alreadyDone.length,
    failed: [],
    successRatio: backfillVerdict({ total: partitions.length, succeeded: 0, alreadyDone: found.alreadyDone.length, minSuccessRatio: 0 })
      .successRatio,
    minSuccessRatio: opts.minSuccessRatio,
    runs: 1,
    dryRun: found,
  };
}

/**
 * Wait for the partitions another starter holds; emptied in place, so the progress query sees it shrink. A run
 * that completed counts as done. Unpatched (no `restartable`): anything else counts as failed (that starter owns
 * the run; starting the backfill again retries it). Patched: a run that failed is handed back to be started by
 * the backfill, one that left no trace counts as failed, and the wait stops early when the workflow run's history
 * is full, so it goes on in the next run.
 */
async function settleOthers(
  waiting: string[],
  describe: (ps: string[]) => Promise<PartitionRunState[]>,
  recheckSeconds: number,
  carry: BackfillCarry,
  fail: (partition: string, type: string | undefined, message: string) => void,
  restartable?: { historyIsFull: () => boolean },
): Promise<{ restart: string[]; full: boolean }> {
  const restart: string[] = [];
  while (waiting.length > 0 && restart.length === 0) {
    if (restartable?.historyIsFull()) return { restart, full: true };
    const batch = waiting.slice(0, LOOKUP_BATCH);
    const states = await describe(batch);
    const stillRunning: string[] = [];
    batch.forEach((p, i) => {
      const s = states[i];
      if (s === 'completed') carry.alreadyDone += 1;
      else if (s === 'running') stillRunning.push(p);
      else if (restartable && s === 'failed') restart.push(p);
      // 'none' for a run seen running: it may have completed and been removed by the namespace's retention, so
      // starting the day again could retrain a done day. Reported as failed for the operator.
      else if (restartable)
        fail(p, undefined, 'the run started by another starter left no trace (past retention?); check the day and run it if needed');
      else fail(p, undefined, `the run started by another starter ended ${s === 'none' ? 'without a trace' : 'unsuccessfully'}`);
    });
    waiting.splice(0, batch.length, ...stillRunning);
    if (restart.length === 0 && stillRunning.length === batch.length) await sleep(recheckSeconds * 1000);
  }
  return { restart, full: false };
}
