/** The canary loop of retrainPipelineWorkflow: step the weight up, bake, analyse vs the champion, stop on a breach. */
import { CancellationScope, condition, isCancellation, log, sleep } from '@temporalio/workflow';
import type { CanaryStepRecord, PipelineStatus, RunPlan } from '../shared/types';
import { io, traffic } from './activity-proxies';
import { analyzeCanaryWindow, armAccuracy } from './decisions';

/** What the canary loop needs from the pipeline. */
export interface CanaryContext {
  plan: RunPlan;
  modelVersionId: string;
  datasetVersionId: string;
  workflowId: string;
  status: PipelineStatus;
  rollbackRequested: () => { reason: string } | undefined;
}

/** How the canary ended. */
export type CanaryOutcome = { outcome: 'pass' } | { outcome: 'rollback'; reason: string; automatic: boolean };

/**
 * Run every step of the spec's canary plan. A rollback signal interrupts the bake at once (the traffic
 * activity is cancelled); a breach, or an inconclusive step past the policy's extensions, rolls back.
 */
export async function runCanary(ctx: CanaryContext): Promise<CanaryOutcome> {
  const { plan, modelVersionId, status } = ctx;
  const policy = plan.canary;
  for (let i = 0; i < policy.steps.length; i++) {
    const step = policy.steps[i]!;
    const { generation } = await io.setCanaryWeight({ model: plan.model, modelVersionId, weight: step.weight, workflowId: ctx.workflowId });
    for (let attempt = 0; ; attempt++) {
      const interrupted = await bakeInterruptibly(ctx, i, attempt, step.bakeSeconds);
      if (interrupted) {
        const reason = `rollback signal: ${interrupted.reason}`;
        status.canary.push(record(i, step.weight, generation, 'rollback-signal', [reason]));
        return { outcome: 'rollback', reason, automatic: false };
      }
      const window = await io.getCanaryWindow({ model: plan.model, generation });
      const verdict = analyzeCanaryWindow(window, policy);
      const rec = record(i, step.weight, generation, verdict.verdict, verdict.reasons);
      rec.candidateAccuracy = armAccuracy(window.candidate);
      rec.championAccuracy = armAccuracy(window.champion);
      rec.candidateSamples = window.candidate.withFeedback;
      rec.championSamples = window.champion.withFeedback;
      status.canary.push(rec);
      log.info('canary step analysed', { step: i, weight: step.weight, verdict: verdict.verdict });
      if (verdict.verdict === 'pass') break;
      if (verdict.verdict === 'breach') {
        return { outcome: 'rollback', reason: `canary breach at ${step.weight}%: ${verdict.reasons.join('; ')}`, automatic: true };
      }
      if (policy.onInconclusive === 'rollback' || attempt >= policy.maxExtensions) {
        return { outcome: 'rollback', reason: `canary inconclusive at ${step.weight}%: ${verdict.reasons.join('; ')}`, automatic: true };
      }
    }
  }
  return { outcome: 'pass' };
}

/** Send the step's traffic and bake; returns the rollback request if one arrives meanwhile. */
async function bakeInterruptibly(
  ctx: CanaryContext,
  step: number,
  attempt: number,
  bakeSeconds: number,
): Promise<{ reason: string } | undefined> {
  const already = ctx.rollbackRequested();
  if (already) return already;
  const scope = new CancellationScope();
  const work = scope.run(async () => {
    // allSettled, not all: on a rollback the timer is cancelled at once, but the traffic activity must
    // finish cancelling (it stops at its next heartbeat) before routing is restored.
    const settled = await Promise.allSettled([
      traffic.sendCanaryTraffic({
        dataset: ctx.plan.dataset,
        model: ctx.plan.model,
        versionId: ctx.datasetVersionId,
        requests: ctx.plan.canary.requestsPerStep,
        // Distinct request keys per step and extension, so sticky routing samples fresh keys each time.
        keyPrefix: `${ctx.workflowId}/s${step}/a${attempt}`,
      }),
      sleep(bakeSeconds * 1000),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  const rollback = condition(() => ctx.rollbackRequested() !== undefined);
  const first = await Promise.race([work.then(() => 'done' as const), rollback.then(() => 'rollback' as const)]);
  if (first === 'rollback') {
    scope.cancel();
    try {
      await work;
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
    return ctx.rollbackRequested();
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
