/**
 * nightlyRetrainWorkflow: what the dataset's Schedule starts. It works out the partition from the scheduled start
 * time and runs retrainPipelineWorkflow for it as a child under the partition's own workflow id
 * (retrainWorkflowId), the id backfills and manual runs use, so a day is processed once whoever asks for it:
 * a day a backfill already did is not retrained by the schedule (`temporal schedule backfill` included), and a
 * backfill skips the days the schedule did.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  ApplicationFailure,
  ParentClosePolicy,
  continueAsNew,
  defineQuery,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../shared/errors';
import { retrainWorkflowId } from '../shared/ids';
import type { RetrainInput, RetrainResult, TrainMode } from '../shared/types';
import { TRAIN_MODES } from '../shared/run-mode';
import { io, partitionLookups } from './activity-proxies';
import { errorMessage } from './failures';
import { pauseSignal, promoteSignal, resumeSignal, rollbackSignal, submitLabelsSignal } from './messages';
import { resolveLogicalDate, scheduledStartTime } from './logical-date';
import { NIGHTLY_PAST_DAYS_AS_BACKFILL } from './patches';
import type { retrainPipelineWorkflow } from './retrain-pipeline';

/** Where the nightly run stands: the partition, the run that processes it, and whether this run started it. */
export interface NightlyRunState {
  logicalDate: string;
  /** Workflow id of the partition's run: query `status` and send responder signals there. */
  partitionWorkflowId: string;
  state: 'starting' | 'running' | 'waiting_on_other_run' | 'done';
}

/** `temporal workflow query --name partitionRun`: which run processes this night's partition. */
export const partitionRunQuery = defineQuery<NightlyRunState>('partitionRun');

/** Input of nightlyRetrainWorkflow: the pipeline's, plus how soon to look again at a run another starter holds. */
export interface NightlyInput extends RetrainInput {
  /**
   * First wait between looks at a partition run someone else started, seconds (1–MAX_RECHECK_SECONDS, default
   * DEFAULT_RECHECK_SECONDS); it doubles up to MAX_RECHECK_MS.
   */
  recheckSeconds?: number;
  /**
   * What a scheduled run for a past partition (one older than the newest processed, e.g. `temporal schedule
   * backfill` of past days) does after building its dataset version: `none` (default, no GPU time) or `all`. Such a
   * run is a backfill: it never deploys.
   */
  pastPartitionTrain?: TrainMode;
}

/** Default first wait between looks at a partition run another starter holds, seconds. */
const DEFAULT_RECHECK_SECONDS = 30;
/** Longest first wait an input may ask for, seconds (an hour: longer leaves a finished day unnoticed too long). */
const MAX_RECHECK_SECONDS = 3600;
/** A scheduled run that starts this much after its scheduled time is a backfill of a past night. */
const BACKFILL_LATENESS_MS = 24 * 3600_000;

/** Longest wait between looks once the wait has doubled (10 minutes). */
const MAX_RECHECK_MS = 10 * 60_000;
/**
 * Pause before starting again a partition whose other run ended without completing: a run that keeps flipping state
 * cannot spin the loop.
 */
const RESTART_PAUSE_MS = 5_000;
/** A nightly run waiting on another run continues as new past this many events (~16 per look; ~21 h at 10 min). */
const MAX_EVENTS_WAITING = 2000;

/** Retrain the partition of the scheduled day once; returns that partition run's result. */
export async function nightlyRetrainWorkflow(input: NightlyInput): Promise<RetrainResult> {
  const { recheckSeconds = DEFAULT_RECHECK_SECONDS, pastPartitionTrain, ...scheduledInput } = input;
  let retrainInput: RetrainInput = scheduledInput;
  if (
    typeof recheckSeconds !== 'number' ||
    !Number.isInteger(recheckSeconds) ||
    recheckSeconds < 1 ||
    recheckSeconds > MAX_RECHECK_SECONDS
  ) {
    throw ApplicationFailure.nonRetryable(
      `recheckSeconds must be a whole number of seconds from 1 to ${MAX_RECHECK_SECONDS}, got ${JSON.stringify(recheckSeconds)}`,
      ErrorType.InvalidInput,
    );
  }
  if (pastPartitionTrain !== undefined && !TRAIN_MODES.includes(pastPartitionTrain)) {
    throw ApplicationFailure.nonRetryable(
      `pastPartitionTrain must be one of ${TRAIN_MODES.join(', ')}, got ${JSON.stringify(pastPartitionTrain)}`,
      ErrorType.InvalidInput,
    );
  }
  const logicalDate = resolveLogicalDate(retrainInput);
  const run: NightlyRunState = {
    logicalDate,
    partitionWorkflowId: retrainWorkflowId(input.dataset, logicalDate),
    state: 'starting',
  };
  setHandler(partitionRunQuery, () => run);
  const lookups = partitionLookups();

  // A responder who signals the nightly run (rollback, pause, resume, promote, labels) reaches the partition's run:
  // each signal is passed on, in the order received, once that run is known to exist (this workflow started it,
  // or found it running); until then signals are held. The `rollback` Update and queries go to the partition run.
  const held: Array<{ name: string; arg: unknown }> = [];
  let targetExists = false;
  let forwarding: Promise<void> = Promise.resolve();
  const send = (name: string, arg: unknown): void => {
    forwarding = forwarding.then(() =>
      getExternalWorkflowHandle(run.partitionWorkflowId)
        .signal(name, arg)
        .catch((err: unknown) => {
          log.warn('could not pass a signal on to the partition run', {
            signal: name,
            partitionWorkflowId: run.partitionWorkflowId,
            error: errorMessage(err),
          });
        }),
    );
  };
  const setTargetExists = (exists: boolean): void => {
    targetExists = exists;
    if (exists) for (const h of held.splice(0)) send(h.name, h.arg);
  };
  for (const def of [rollbackSignal, pauseSignal, resumeSignal, promoteSignal, submitLabelsSignal]) {
    setHandler(def, (arg?: unknown) => {
      if (targetExists) send(def.name, arg);
      else held.push({ name: def.name, arg });
    });
  }

  // A past day is a backfill: it builds the day's version and deploys nothing. Past means a newer partition has been
  // processed, or the run started more than a day after its scheduled time (`temporal schedule backfill`, or a night
  // caught up after a long outage: the newest night of those is less than a day late and deploys). The newest day
  // deploys under `deploy: auto`, which the partition run checks again before its canary.
  // Runs recorded before the patch passed their input on unchanged, canary included (see patches.ts).
  if (patched(NIGHTLY_PAST_DAYS_AS_BACKFILL) && retrainInput.deploy !== 'never') {
    // Lateness is judged by the chain's first run only: a run continued as new starts later by design (its own start
    // time is the continuation's), and the first run's verdict travels in its input.
    const info = workflowInfo();
    const scheduled = info.continuedFromExecutionRunId === undefined ? scheduledStartTime() : undefined;
    const lateMs = scheduled === undefined ? 0 : info.startTime.getTime() - scheduled.getTime();
    const newest = await io.newestProcessedPartition({ dataset: input.dataset });
    if (lateMs > BACKFILL_LATENESS_MS || (newest !== undefined && newest > logicalDate)) {
      log.info('scheduled run for a past partition: running it as a backfill (no deploy)', { logicalDate, newest, lateMs });
      retrainInput = { ...scheduledInput, train: pastPartitionTrain ?? 'none', deploy: 'never' };
    }
  }

  for (let waitMs = recheckSeconds * 1000; ;) {
    try {
      run.state = 'starting';
      const child = await startChild<typeof retrainPipelineWorkflow>('retrainPipelineWorkflow', {
        workflowId: run.partitionWorkflowId,
        args: [{ ...retrainInput, logicalDate }],
        // A completed partition is never run again; one whose last run failed (or was cancelled) may be.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        // Terminating or cancelling the nightly run asks the partition run to cancel, so its saga compensates.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      run.state = 'running';
      setTargetExists(true);
      const result = await child.result();
      run.state = 'done';
      await forwarding; // signals received meanwhile are passed on before this run closes
      return result;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    // The partition has a run this workflow did not start: completed before, or running for someone else.
    const other = await lookups.partitionRunResult({ workflowId: run.partitionWorkflowId });
    if (other.state === 'completed') {
      run.state = 'done';
      if (held.length > 0) {
        log.warn('signals not passed on: the day was already done by another run', {
          signals: held.map((h) => h.name),
          partitionWorkflowId: run.partitionWorkflowId,
        });
      }
      await forwarding;
      return other.result as RetrainResult;
    }
    if (other.state === 'running') {
      run.state = 'waiting_on_other_run';
      setTargetExists(true);
      // A run that waits for days (a canary held, labels awaited) starts afresh before its history grows large.
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength >= MAX_EVENTS_WAITING) {
        await forwarding;
        // The modes resolved above travel along, so a run continued after a long wait is not judged late by its new start.
        const { train, deploy } = retrainInput;
        return continueAsNew<typeof nightlyRetrainWorkflow>({
          ...input,
          ...(train !== undefined && { train }),
          ...(deploy !== undefined && { deploy }),
          logicalDate,
          recheckSeconds: waitMs / 1000,
        });
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, MAX_RECHECK_MS);
      continue;
    }
    // 'failed' or 'none': that run ended without completing. Signals are held until the new run exists; after a
    // short pause the partition is started again.
    setTargetExists(false);
    await sleep(RESTART_PAUSE_MS);
  }
}
