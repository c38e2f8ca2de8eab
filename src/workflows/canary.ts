/**
 * The canary loop of retrainPipelineWorkflow: step the weight up, bake, analyse vs the champion, and act per the
 * spec's policy (canary-decisions.ts). Responders interrupt it: rollback and promote end a bake at once, pause
 * holds it before the next step. Its position lives in workflow state, so a crashed worker's replacement resumes
 * it at the step it was in.
 */
import { CancellationScope, condition, isCancellation, log, patched, sleep } from '@temporalio/workflow';
import { CANARY_POLICY_DEFAULTS } from '../shared/canary-defaults';
import type { CanaryPolicy, CanaryState, CanaryStepRecord, CanaryWindow, PipelineStatus, ResponderRequest, RunPlan } from '../shared/types';
import { decide, metrics, routingWrite, traffic, trafficNoWait } from './activity-proxies';
import type { Responders } from './canary-responders';
import { rootCauseMessage } from './failures';
import { analyzeCanaryWindow, armAccuracy, nextCanaryAction, type CanaryNextAction, type CanaryObservation } from './frozen-decisions';
import { CANARY_FINAL_CHECK, CANARY_TRAFFIC_TRY_CANCEL } from './patches';

/**
 * Longest metrics-read error kept per canary record (and passed to the decision): content-free by design (metric
 * sources report a status and a URL), cut so a verbose one cannot swell the run's status.
 */
const MAX_METRICS_ERROR_CHARS = 300;

/** What the canary loop needs from the pipeline. */
export interface CanaryContext {
  plan: RunPlan;
  modelVersionId: string;
  datasetVersionId: string;
  workflowId: string;
  status: PipelineStatus;
  responders: Responders;
  /**
   * Runs started under the pipeline's PIPELINE_V2 patch: decisions come from the decideCanaryStep local activity
   * (recorded in history), and each step's weight change is a compare-and-set on the previous step's generation.
   * Older runs decide in workflow code with the frozen rules.
   */
  v2?: boolean;
}

/** How the canary ended. */
export type CanaryOutcome =
  /** generation: the routing generation of the last step (promotion compares-and-sets on it). */
  | { outcome: 'pass'; promotedBy?: ResponderRequest; generation: number }
  | { outcome: 'rollback'; reason: string; automatic: boolean; requestedBy?: ResponderRequest };

/** Run the spec's canary plan; returns pass (promote) or rollback with the reason. */
export async function runCanary(input: CanaryContext): Promise<CanaryOutcome> {
  // A run whose plan was resolved before a policy field existed replays with that field's default.
  const policy: CanaryPolicy = { ...CANARY_POLICY_DEFAULTS, ...input.plan.canary };
  const ctx: CanaryContext = { ...input, plan: { ...input.plan, canary: policy } };
  const { plan, modelVersionId, status } = ctx;
  const state: CanaryState = { step: 0, weight: 0, paused: false, breaches: 0, consecutiveMetricErrors: 0 };
  status.canaryState = state;
  let lastGeneration = 0;
  for (let i = 0; i < policy.steps.length; i++) {
    const step = policy.steps[i]!;
    // A pause holds the canary at its current weight before the next step starts.
    const held = await waitWhilePaused(ctx, i, step.weight, 0);
    if (held) return held;
    state.step = i;
    state.weight = step.weight;
    const { generation } = await routingWrite.setCanaryWeight({
      model: plan.model,
      modelVersionId,
      weight: step.weight,
      workflowId: ctx.workflowId,
      // v2: a step moves the routing only if nobody else has since the previous step (a rollback of the model,
      // another run); the first step's check is that no other candidate is routed.
      ...(ctx.v2 && lastGeneration > 0 ? { expectGeneration: lastGeneration } : {}),
    });
    lastGeneration = generation;
    // Date.now() in a workflow is the sandbox's clock (the current workflow task's time, replayed from history).
    const stepStartedAt = Date.now();
    let inconclusiveInStep = 0;
    for (let attempt = 0; ; attempt++) {
      const interrupted = await bakeInterruptibly(ctx, i, attempt, step.bakeSeconds);
      if (interrupted) return interruption(ctx, interrupted, i, step.weight, generation);
      let action: CanaryNextAction;
      for (;;) {
        const observed = await observe(ctx, generation, stepStartedAt);
        const counters = { breaches: state.breaches, inconclusiveInStep, consecutiveErrors: state.consecutiveMetricErrors };
        let verdict: CanaryStepRecord['verdict'];
        let reasons: string[];
        if (ctx.v2) {
          const decided = await decide.decideCanaryStep({
            ...(observed.window ? { window: observed.window } : { metricsError: observed.error }),
            policy,
            counters,
            weight: step.weight,
          });
          ({ verdict, reasons, next: action } = decided);
          ({ breaches: state.breaches, inconclusiveInStep, consecutiveErrors: state.consecutiveMetricErrors } = decided.counters);
        } else {
          const o: CanaryObservation = observed.window
            ? analyzeCanaryWindow(observed.window, policy)
            : { verdict: 'metrics-error', reasons: [observed.error ?? ''] };
          if (o.verdict === 'metrics-error') state.consecutiveMetricErrors += 1;
          else state.consecutiveMetricErrors = 0;
          if (o.verdict === 'breach') state.breaches += 1;
          if (o.verdict === 'inconclusive') inconclusiveInStep += 1;
          ({ verdict, reasons } = o);
          action = nextCanaryAction(
            o,
            { breaches: state.breaches, inconclusiveInStep, consecutiveErrors: state.consecutiveMetricErrors },
            policy,
            step.weight,
          );
        }
        status.canary.push({ ...record(i, step.weight, generation, verdict, reasons), ...observed.figures });
        log.info('canary step analysed', { step: i, weight: step.weight, verdict });
        if (action.action !== 'reread') break;
        const during = await waitInterruptibly(ctx, policy.metricsRetrySeconds * 1000);
        if (during) return interruption(ctx, during, i, step.weight, generation);
      }
      if (action.action === 'advance') break;
      if (action.action === 'rollback') return { outcome: 'rollback', reason: action.reason, automatic: true };
      if (action.action === 'hold') {
        ctx.responders.hold(`step ${i} at ${step.weight}% inconclusive`);
        const after = await waitWhilePaused(ctx, i, step.weight, generation);
        if (after) return after;
      }
      // rebake, or resumed from a hold: bake the same step again with fresh request keys.
    }
  }
  // A rollback, promote or pause that arrived while the last step was being analysed applies before promotion:
  // a rollback wins, a pause holds here (until resume, or its deadline rolls back). Runs recorded before this
  // check replay without it.
  if (patched(CANARY_FINAL_CHECK)) {
    const last = policy.steps.length - 1;
    const held = await waitWhilePaused(ctx, last, state.weight, lastGeneration);
    if (held) return held;
  }
  return { outcome: 'pass', generation: lastGeneration };
}

/** One read of the window's metrics: the window and its figures, or why the read failed (counted against the limit). */
interface Observation {
  window?: CanaryWindow;
  error?: string;
  figures: Partial<CanaryStepRecord>;
}

/** Read the window's metrics. */
async function observe(ctx: CanaryContext, generation: number, stepStartedAt: number): Promise<Observation> {
  let window: CanaryWindow;
  try {
    window = await metrics.getCanaryWindow({
      model: ctx.plan.model,
      generation,
      source: ctx.plan.canary.metricsSource,
      trustedFeedbackSources: ctx.plan.canary.trustedFeedbackSources,
      // The window a time-based source (Prometheus) reads: the step so far, rounded up to whole seconds.
      windowSeconds: Math.max(1, Math.ceil((Date.now() - stepStartedAt) / 1000)),
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { error: rootCauseMessage(err, MAX_METRICS_ERROR_CHARS), figures: {} };
  }
  return {
    window,
    figures: {
      candidateAccuracy: armAccuracy(window.candidate),
      championAccuracy: armAccuracy(window.champion),
      candidateP95LatencyMs: window.candidate.p95LatencyMs,
      championP95LatencyMs: window.champion.p95LatencyMs,
      candidateSamples: window.candidate.withFeedback,
      championSamples: window.champion.withFeedback,
    },
  };
}

type Interruption = { kind: 'rollback' | 'promote'; request: ResponderRequest };

function interruptionOf(ctx: CanaryContext): Interruption | undefined {
  const rollback = ctx.responders.rollback();
  if (rollback) return { kind: 'rollback', request: rollback };
  const promote = ctx.responders.promote();
  if (promote) return { kind: 'promote', request: promote };
  return undefined;
}

/** Record a responder's rollback or promote and turn it into the canary's outcome. */
function interruption(ctx: CanaryContext, i: Interruption, step: number, weight: number, generation: number): CanaryOutcome {
  const { request } = i;
  if (i.kind === 'rollback') {
    const reason = `rollback ${request.via}: ${request.reason}`;
    ctx.status.canary.push(record(step, weight, generation, 'rollback-signal', [reason]));
    return { outcome: 'rollback', reason, automatic: false, requestedBy: request };
  }
  ctx.status.canary.push(record(step, weight, generation, 'promote-signal', [`promote by ${request.actor}: ${request.reason}`]));
  return { outcome: 'pass', promotedBy: request, generation };
}

/** While paused, wait for resume, a rollback, a promote, or the pause deadline (which rolls back). */
async function waitWhilePaused(ctx: CanaryContext, step: number, weight: number, generation: number): Promise<CanaryOutcome | undefined> {
  const r = ctx.responders;
  const stop = interruptionOf(ctx);
  if (stop) return interruption(ctx, stop, step, weight, generation);
  const because = r.pausedBecause();
  if (because === undefined) return undefined;
  const timeoutSeconds = ctx.plan.canary.pauseTimeoutSeconds;
  // Every human wait has a deadline: the spec's pauseTimeoutSeconds, after which the canary rolls back.
  const ended = await condition(() => r.pausedBecause() === undefined || interruptionOf(ctx) !== undefined, timeoutSeconds * 1000);
  const after = interruptionOf(ctx);
  if (after) return interruption(ctx, after, step, weight, generation);
  if (!ended) {
    r.unpause();
    return { outcome: 'rollback', reason: `canary paused longer than ${timeoutSeconds} s at ${weight}% (${because})`, automatic: true };
  }
  return undefined;
}

/** Wait ms, or less when a responder rolls back or promotes meanwhile. */
async function waitInterruptibly(ctx: CanaryContext, ms: number): Promise<Interruption | undefined> {
  if (ms > 0) await condition(() => interruptionOf(ctx) !== undefined, ms);
  return interruptionOf(ctx);
}

/** Send the step's traffic and bake; returns a responder's rollback or promote if one arrives meanwhile. */
async function bakeInterruptibly(
  ctx: CanaryContext,
  step: number,
  attempt: number,
  bakeSeconds: number,
): Promise<Interruption | undefined> {
  const already = interruptionOf(ctx);
  if (already) return already;
  const requests = ctx.plan.canary.requestsPerStep;
  // Runs started before this patch waited for the traffic activity to finish cancelling before a rollback.
  const trafficProxy = patched(CANARY_TRAFFIC_TRY_CANCEL) ? trafficNoWait : traffic;
  const scope = new CancellationScope();
  const work = scope.run(async () => {
    // allSettled, not all: both the timer and the traffic activity settle before the bake ends or is interrupted.
    const settled = await Promise.allSettled([
      requests > 0
        ? trafficProxy.sendCanaryTraffic({
            dataset: ctx.plan.dataset,
            model: ctx.plan.model,
            versionId: ctx.datasetVersionId,
            requests,
            // Distinct request keys per step and extension, so sticky routing samples fresh keys each time.
            keyPrefix: `${ctx.workflowId}/s${step}/a${attempt}`,
          })
        : Promise.resolve(undefined),
      sleep(bakeSeconds * 1000),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  const interrupted = condition(() => interruptionOf(ctx) !== undefined);
  const first = await Promise.race([work.then(() => 'done' as const), interrupted.then(() => 'interrupted' as const)]);
  if (first === 'interrupted') {
    scope.cancel();
    try {
      await work;
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
    return interruptionOf(ctx);
  }
  return undefined;
}

function record(
  step: number,
  weight: number,
  generation: number,
  verdict: CanaryStepRecord['verdict'],
  reasons: string[],
): CanaryStepRecord {
  return { step, weight, generation, verdict, reasons, candidateSamples: 0, championSamples: 0 };
}
