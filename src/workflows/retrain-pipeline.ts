/**
 * retrainPipelineWorkflow: one partition (a day) through every stage: ingest → PII → dedupe → labeling →
 * dataset version → quality → train (GPU queue) → validate → canary → promote or roll back.
 * Carries references and counts only; every side effect pushes its compensation (saga).
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../shared/errors';
import { resolveRunMode } from '../shared/run-mode';
import type {
  GateDecision,
  PipelineStatus,
  ResponderRequest,
  RetrainInput,
  RetrainResult,
  RunMode,
  RunPlan,
  SubmitLabelsInput,
  SubmitLabelsResult,
} from '../shared/types';
import { decide, gpu, io, routingWrite, scan } from './activity-proxies';
import { runCanary } from './canary';
import { registerResponders } from './canary-responders';
import { summarizeFailure } from './failures';
import { evaluateGate } from './frozen-decisions';
import { requireLabelCoverage } from './labeling';
import { resolveLogicalDate } from './logical-date';
import { statusQuery, submitLabelsSignal, submitLabelsUpdate } from './messages';
import { PIPELINE_V2, RUN_REPORT } from './patches';
import { Saga } from './saga';
import { searchAttributesSync } from './search-attributes';

/** Most labels one submitLabels Update or signal may carry: keeps each message (and its history event) small. */
const MAX_LABELS_PER_MESSAGE = 5000;
/**
 * Characters of the dataset version id in the training job key (`dv-` and 13 hex digits, 52 bits: ample to tell one
 * model's versions apart, short in blob keys). The job key names the model artifact and the checkpoints, so changing
 * this retrains versions already trained.
 */
const JOB_KEY_VERSION_CHARS = 16;
/** The failure type a run reports when no ApplicationFailure is behind the error (an activity timeout, a workflow bug). */
const UNTYPED_FAILURE = 'PipelineFailed';
/** The dataset tag a new version takes (its compensation moves the tag back). */
const LATEST_TAG = 'latest';

/** Retrain one dataset partition and promote the model through a canary, or roll it back. */
export async function retrainPipelineWorkflow(input: RetrainInput): Promise<RetrainResult> {
  // Runs started before the patch keep their old path throughout (see patches.ts).
  const v2 = patched(PIPELINE_V2);
  const status: PipelineStatus = { dataset: input.dataset, stage: 'starting', canary: [] };
  let plan: RunPlan | undefined;
  const syncSearchAttributes = searchAttributesSync();
  /** Move to a stage; the run's search attributes follow (Stage, and whatever else changed). */
  const setStage = (stage: PipelineStatus['stage']): void => {
    status.stage = stage;
    syncSearchAttributes(status);
  };

  // Handlers first: registered before the first await.
  setHandler(statusQuery, () => status);
  // pause, resume, promote, rollback (signal and Update): the canary loop acts on what they record.
  const responders = registerResponders(status);
  const applyLabels = async ({ labels, labeledBy }: SubmitLabelsInput): Promise<SubmitLabelsResult> => {
    if (!plan) throw ApplicationFailure.nonRetryable('not ready for labels yet', ErrorType.InvalidInput);
    const r = await io.recordLabels({ dataset: plan.dataset, partition: plan.partition, labels, labeledBy: labeledBy ?? 'human' });
    status.labeling = { ...status.labeling, ...r.coverage };
    return r;
  };
  setHandler(submitLabelsUpdate, applyLabels, {
    validator: (arg: SubmitLabelsInput) => {
      if (!waitingForLabels()) throw new Error(`not waiting for labels (stage: ${status.stage})`);
      if (!arg || !Array.isArray(arg.labels) || arg.labels.length === 0) throw new Error('labels must be a non-empty array');
      if (arg.labels.length > MAX_LABELS_PER_MESSAGE) throw new Error(`at most ${MAX_LABELS_PER_MESSAGE} labels per message`);
      for (const l of arg.labels) {
        if (typeof l?.recordHash !== 'string' || typeof l?.label !== 'string')
          throw new Error('each label needs recordHash and label strings');
      }
    },
  });
  setHandler(submitLabelsSignal, async (arg) => {
    if (!waitingForLabels() || !Array.isArray(arg?.labels)) {
      log.warn('submitLabels signal ignored', { stage: status.stage });
      return;
    }
    await applyLabels(arg);
  });

  /** Labels are taken once the tasks exist and the run waits for them (the deadline is set then). */
  function waitingForLabels(): boolean {
    return status.stage === 'labeling' && status.labeling?.deadline !== undefined;
  }

  const saga = new Saga();

  const logicalDate = resolveLogicalDate(input);
  status.logicalDate = logicalDate;
  let mode: RunMode = { train: 'all', deploy: 'auto' };
  if (v2) {
    const resolved = resolveRunMode(input);
    if ('problems' in resolved) {
      throw ApplicationFailure.nonRetryable(`invalid run input: ${resolved.problems.join('; ')}`, ErrorType.InvalidInput);
    }
    mode = resolved.mode;
    status.mode = mode;
  }
  syncSearchAttributes(status);
  const workflowId = workflowInfo().workflowId;
  let datasetVersionId = '';

  // v2: a rollback asked for before the canary stops the run at once: the stage in flight is cancelled (the
  // labeling wait and training included), the saga compensates, and the run ends rolled back.
  const beforeCanary = new CancellationScope();
  let stoppedByRollback = false;
  let canaryReached = false;
  if (v2) {
    condition(() => responders.rollback() !== undefined && !canaryReached)
      .then(() => {
        stoppedByRollback = true;
        beforeCanary.cancel();
      })
      .catch(() => undefined); // the run itself was cancelled: nothing to stop here
  }
  /** v2: run a short stage whose side effect must be known before the run stops (not cancelled by a rollback). */
  const untilDone = <T>(fn: () => Promise<T>): Promise<T> => (v2 ? CancellationScope.nonCancellable(fn) : fn());
  /**
   * v2: a run cancelled while its promotion committed (the promotion waits for the activity to finish) does not end
   * with the model promoted behind the cancellation: the saga's revertPromotion undoes it.
   */
  const throwIfCancelledDuringPromotion = (): void => {
    if (v2 && CancellationScope.current().consideredCancelled) {
      throw new CancelledFailure('run cancelled during promotion');
    }
  };
  /** A responder's rollback before the canary: undo what the run did (saga), and end rolled back (the Update answers). */
  const stopForRollback = async (): Promise<RetrainResult> => {
    if (!saga.isEmpty) {
      setStage('compensating');
      await saga.compensate();
    }
    return finish('rolled_back', `rollback requested before the canary: ${responders.rollback()?.reason ?? ''}`);
  };

  try {
    plan = await io.resolveRun({ dataset: input.dataset, logicalDate });
    const p = plan;
    const ref = { dataset: p.dataset, partition: p.partition, specHash: p.specHash };
    /** Whether this run may deploy: deploy `auto` and no newer partition processed (v2; older runs always did). */
    const mayDeploy = async (): Promise<boolean> => {
      if (!v2) return true;
      if (mode.deploy === 'never') {
        status.notDeployed = 'deploy: never (a backfill, or asked for): the model is registered and evaluated, not deployed';
        return false;
      }
      const newest = await io.newestProcessedPartition({ dataset: p.dataset });
      if (newest !== undefined && newest > p.partition) {
        status.notDeployed = `partition ${newest} is newer than ${p.partition}: only a run for the newest partition deploys`;
        return false;
      }
      return true;
    };

    // Every stage up to the gate's verdict; a rollback asked for meanwhile cancels it (v2).
    const prepared = await beforeCanary.run(async () => {
      setStage('ingest');
      const ingest = await scan.ingestPartition(ref);
      const { stagedKey, ...ingestCounts } = ingest;
      status.ingest = ingestCounts;

      setStage('pii');
      const pii = await scan.scanPii({ ...ref, stagedKey });
      const { cleanKey, ...piiCounts } = pii;
      status.pii = piiCounts;

      setStage('dedupe');
      const dedupe = await scan.dedupeRecords({ ...ref, cleanKey });
      const { dedupedKey, ...dedupeCounts } = dedupe;
      status.dedupe = dedupeCounts;

      setStage('labeling');
      status.labeling = await io.createLabelTasks({ ...ref, dedupedKey });
      if (p.labeling.labeler === 'programmatic' && status.labeling.labeled < status.labeling.total) {
        status.labeling = await scan.runProgrammaticLabeler({ ...ref, dedupedKey });
      }
      // A programmatic labeler has had its say (it may abstain); only human labeling waits for more labels.
      const deadlineMs = p.labeling.labeler === 'human' ? p.labeling.deadlineSeconds * 1000 : 0;
      // Workflow time is deterministic (replayed from history), so this is safe in a workflow.
      status.labeling.deadline = new Date(new Date().getTime() + deadlineMs).toISOString();
      // Every human wait has a deadline; at the deadline the spec's coverage policy decides.
      // Read status.labeling afresh: the labels handlers replace that object with the latest coverage.
      if (deadlineMs > 0) await condition(() => (status.labeling?.labeled ?? 0) >= (status.labeling?.total ?? 0), deadlineMs);
      await condition(allHandlersFinished);
      requireLabelCoverage(status.labeling, p.labeling.minCoverage);

      setStage('version');
      // v2: a rollback waits for the version stage to finish, so its tag move is known and compensated (a cancelled
      // call could still commit after the run stopped waiting for it).
      const version = await untilDone(() => scan.createDatasetVersion({ ...ref, dedupedKey, workflowId }));
      status.datasetVersion = version;
      syncSearchAttributes(status);
      datasetVersionId = version.versionId;
      saga.add('untagDatasetVersion', () =>
        io.untagDatasetVersion({
          dataset: p.dataset,
          tag: LATEST_TAG,
          versionId: version.versionId,
          restoreTo: version.previousLatest,
          workflowId,
        }),
      );

      setStage('quality');
      status.quality = await scan.checkQuality({ dataset: p.dataset, versionId: version.versionId });
      if (mode.train === 'none') return { kind: 'versioned' as const };

      setStage('train');
      const jobKey = `${p.model}/${version.versionId.slice(0, JOB_KEY_VERSION_CHARS)}`;
      const trained = await gpu.trainModel({
        dataset: p.dataset,
        versionId: version.versionId,
        jobKey,
      });
      status.training = { epochs: trained.epochs, seconds: trained.seconds, validationAccuracy: trained.validationMetrics.accuracy };

      // Only a run that may deploy takes the `candidate` alias (a backfill's models stay plain registered versions).
      const deployable = await mayDeploy();
      const mv = await untilDone(() =>
        io.registerModelVersion({
          model: p.model,
          datasetVersionId: version.versionId,
          artifactKey: trained.artifactKey,
          // The key the trainer trained under (its identity and settings added); older results lack it.
          jobKey: trained.jobKey ?? jobKey,
          metrics: { train: trained.trainMetrics, validation: trained.validationMetrics },
          workflowId,
          ...(v2 ? { candidate: deployable } : {}),
        }),
      );
      status.modelVersion = mv;
      syncSearchAttributes(status);
      saga.add('rejectCandidate', () =>
        io.rejectCandidate({
          model: p.model,
          modelVersionId: mv.modelVersionId,
          reason: 'pipeline failed after registration',
          workflowId,
        }),
      );

      setStage('validate');
      const evaluation = await scan.evaluateModel({
        dataset: p.dataset,
        model: p.model,
        modelVersionId: mv.modelVersionId,
        versionId: version.versionId,
      });
      status.evaluation = evaluation;
      if (evaluation.candidateIsChampion) return { kind: 'unchanged' as const };
      // The decision is recorded in history (v2), so a rule changed later never alters this run's replay.
      const gate: GateDecision = v2 ? await decide.decideGate({ evaluation, policy: p.gates }) : evaluateGate(evaluation, p.gates);
      return {
        kind: 'evaluated' as const,
        mv,
        evaluation,
        gate,
        tookCandidate: v2 && deployable,
        deployable: deployable && (await mayDeploy()),
      };
    });
    canaryReached = true;

    if (prepared.kind === 'versioned') {
      saga.clear(); // the version is what this run was asked for
      return await finish('versioned');
    }
    if (prepared.kind === 'unchanged') {
      saga.clear(); // the candidate is the serving champion: nothing to undo
      return await finish('unchanged', 'this model version already is the champion');
    }
    const { mv, evaluation, gate } = prepared;
    /** Traffic back on the champion and the candidate rejected (a canary rollback, or a newer day deploys instead). */
    const takeBack = async (reason: string, requestedBy?: ResponderRequest): Promise<void> => {
      setStage('rollback');
      await io.restoreChampion({ model: p.model, modelVersionId: mv.modelVersionId, reason, workflowId, requestedBy });
      await io.rejectCandidate({ model: p.model, modelVersionId: mv.modelVersionId, reason, workflowId });
      saga.clear(); // traffic is back on the champion and the candidate rejected; the version stands
    };
    /**
     * Make the candidate the champion. v2 registers revertPromotion before the call, so a promotion that commits and
     * then fails, or is cancelled meanwhile, is undone by the saga.
     */
    const promote = async (change: { reason: string; requestedBy?: ResponderRequest; expectGeneration?: number }): Promise<void> => {
      setStage('promote');
      if (v2) {
        saga.add('revertPromotion', () =>
          io.revertPromotion({
            model: p.model,
            modelVersionId: mv.modelVersionId,
            reason: 'pipeline failed during promotion',
            workflowId,
          }),
        );
      }
      await (v2 ? routingWrite : io).promoteCandidate({ model: p.model, modelVersionId: mv.modelVersionId, workflowId, ...change });
      throwIfCancelledDuringPromotion();
      saga.clear(); // promoted: the candidate is the champion
    };
    if (!gate.passed && input.gateOverride?.reason) {
      gate.overridden = true;
      await io.recordAudit({
        actor: input.gateOverride.actor ?? 'operator',
        action: 'gate.override',
        subject: mv.modelVersionId,
        details: { reason: input.gateOverride.reason, failedChecks: gate.reasons, workflowId },
      });
    }
    status.gate = gate;
    if (!prepared.deployable) {
      // A run that took the `candidate` alias and then found a newer day processed gives it back: it will never
      // canary this model. A backfill's model (no alias taken) stays a plain registered version.
      if (prepared.tookCandidate) {
        await io.rejectCandidate({
          model: p.model,
          modelVersionId: mv.modelVersionId,
          reason: status.notDeployed ?? 'not deployed',
          workflowId,
        });
      }
      saga.clear(); // the version and the evaluated model stand
      return await finish('evaluated');
    }
    if (!gate.passed && !gate.overridden) {
      return await finish('rejected', `validation gate failed: ${gate.reasons.join('; ')}`);
    }
    const early = responders.rollback();
    if (early) {
      if (v2) return await stopForRollback();
      return await finish('rolled_back', `rollback requested before the canary: ${early.reason}`);
    }

    if (!evaluation.champion) {
      // First model: nothing to compare live traffic against, so it becomes champion after the absolute gates.
      await promote({ reason: 'first model: passed absolute gates' });
      return await finish('first_champion');
    }

    setStage('canary');
    saga.add('restoreChampion', () =>
      io.restoreChampion({ model: p.model, modelVersionId: mv.modelVersionId, reason: 'pipeline failed during canary', workflowId }),
    );
    const canary = await runCanary({
      plan: p,
      modelVersionId: mv.modelVersionId,
      datasetVersionId,
      workflowId,
      status,
      responders,
      v2,
    });
    if (canary.outcome === 'rollback') {
      await takeBack(canary.reason, canary.requestedBy);
      return await finish('rolled_back', canary.reason);
    }

    // v2: a newer day processed during the canary (hours) deploys instead of this one: traffic goes back.
    if (v2 && !(await mayDeploy())) {
      await takeBack(status.notDeployed ?? 'not deployed');
      return await finish('evaluated');
    }

    const promotedBy = canary.promotedBy;
    await promote({
      reason: promotedBy ? `promoted by ${promotedBy.actor} before the last canary step: ${promotedBy.reason}` : 'canary passed every step',
      requestedBy: promotedBy,
      // v2: only the routing this canary left (its last generation) is promoted; anything changed since wins.
      ...(v2 && canary.generation > 0 ? { expectGeneration: canary.generation } : {}),
    });
    return await finish('promoted');
  } catch (err) {
    if (stoppedByRollback && isCancellation(err)) return await stopForRollback();
    status.error = errorSummary(err);
    if (!saga.isEmpty) {
      setStage('compensating');
      await saga.compensate();
    }
    setStage('failed');
    await writeReport();
    await condition(allHandlersFinished);
    if (isCancellation(err)) throw err;
    const type = summarizeFailure(err).type ?? UNTYPED_FAILURE;
    throw ApplicationFailure.create({ message: `pipeline failed: ${status.error}`, type, nonRetryable: true, cause: err as Error });
  }

  /**
   * The run report (HTML + Markdown, stored with the run's artifacts, listed by `trainset runs`). Best effort:
   * a report that cannot be written is logged, never the run's failure; runs recorded before it replay without.
   */
  async function writeReport(): Promise<void> {
    if (!patched(RUN_REPORT)) return;
    const info = workflowInfo();
    await CancellationScope.nonCancellable(async () => {
      try {
        const r = await io.writeRunReport({
          workflowId: info.workflowId,
          runId: info.runId,
          status,
          startedAt: info.startTime.toISOString(),
        });
        status.reportKey = r.reportKey;
      } catch (err) {
        log.warn('run report not written', { error: String(err) });
      }
    });
  }

  async function finish(outcome: RetrainResult['outcome'], why?: string): Promise<RetrainResult> {
    if (outcome === 'rejected' || outcome === 'rolled_back') {
      // The candidate never reaches (or no longer gets) traffic; the dataset version itself stays valid.
      const mv = status.modelVersion;
      if (mv && plan && outcome === 'rejected') {
        await io.rejectCandidate({ model: plan.model, modelVersionId: mv.modelVersionId, reason: why ?? outcome, workflowId });
      }
      saga.clear(); // a rejected candidate's version stands; a rollback has restored the champion
    }
    status.outcome = outcome;
    if (why) status.error = why;
    setStage('done');
    const champion = plan ? await io.currentChampion({ model: plan.model }) : undefined;
    await writeReport();
    await condition(allHandlersFinished);
    return {
      outcome,
      dataset: input.dataset,
      logicalDate,
      datasetVersionId,
      modelVersionId: status.modelVersion?.modelVersionId,
      champion,
      status,
    };
  }
}

/** `Type: message` of the failure behind an error, for the run's status and its own failure message. */
function errorSummary(err: unknown): string {
  const f = summarizeFailure(err);
  return `${f.type ?? UNTYPED_FAILURE}: ${f.message}`;
}
