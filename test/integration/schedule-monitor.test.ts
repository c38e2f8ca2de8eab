/**
 * The schedule monitor makes what the server does on its own visible: an overlap-skipped run of a nightly
 * schedule becomes a metric and a warning, and a running backfill's progress query becomes gauges.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipelineMetrics, type PipelineMetrics } from '../../src/workers/pipeline-metrics';
import { SCHEDULE_ID_PREFIX, startScheduleMonitor } from '../../src/workers/schedule-monitor';
import { serviceEnv } from '../helpers/services';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: serviceEnv().temporalCliPath }, log: { format: 'json', level: 'error' } },
  });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

/** Captures warnings. */
function memoryLogger() {
  const warnings: Array<{ obj: object; msg?: string }> = [];
  return { warnings, info: () => undefined, error: () => undefined, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) };
}

async function series(
  m: PipelineMetrics,
  name: string,
): Promise<Array<{ labels: Partial<Record<string, string | number>>; value: number }>> {
  return (await m.registry.getSingleMetric(name)!.get()).values;
}

describe('schedule monitor', () => {
  it('counts overlap-skipped runs once each and logs them', async () => {
    const scheduleId = `${SCHEDULE_ID_PREFIX}sm-${randomUUID().slice(0, 8)}`;
    const handle = await env.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: ['0 2 * * *'] },
      // No worker polls this queue, so the first triggered run stays open and the second overlaps it.
      action: {
        type: 'startWorkflow',
        workflowType: 'retrainPipelineWorkflow',
        taskQueue: `sm-${randomUUID()}`,
        args: [{ dataset: 'sm' }],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    const metrics = createPipelineMetrics();
    const logger = memoryLogger();
    const monitor = startScheduleMonitor({ client: env.client, metrics, logger, intervalMs: 60_000 });
    await monitor.poll(); // the first look: nothing skipped yet

    await handle.trigger(ScheduleOverlapPolicy.SKIP);
    for (let i = 0; i < 50 && (await handle.describe()).info.runningActions.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await handle.trigger(ScheduleOverlapPolicy.SKIP);
    for (let i = 0; i < 50 && (await handle.describe()).info.numActionsSkippedOverlap === 0; i++)
      await new Promise((r) => setTimeout(r, 100));

    await monitor.poll();
    await monitor.poll(); // nothing new: the counter must not grow again
    await monitor.stop();

    // A process starting now (a worker restart) takes the total without warning again.
    const restarted = createPipelineMetrics();
    const restartedLogger = memoryLogger();
    const again = startScheduleMonitor({ client: env.client, metrics: restarted, logger: restartedLogger, intervalMs: 60_000 });
    await again.poll();
    await again.stop();
    expect((await series(restarted, 'trainset_schedule_overlap_skipped_total')).find((s) => s.labels.schedule === scheduleId)?.value).toBe(
      1,
    );
    expect(restartedLogger.warnings.filter((w) => (w.obj as { schedule?: string }).schedule === scheduleId)).toEqual([]);

    const skipped = (await series(metrics, 'trainset_schedule_overlap_skipped_total')).find((s) => s.labels.schedule === scheduleId);
    expect(skipped?.value).toBe(1);
    const missed = (await series(metrics, 'trainset_schedule_missed_total')).find((s) => s.labels.schedule === scheduleId);
    expect(missed?.value).toBe(0);
    expect((await series(metrics, 'trainset_schedule_paused')).find((s) => s.labels.schedule === scheduleId)?.value).toBe(0);
    expect(logger.warnings.filter((w) => (w.obj as { schedule?: string }).schedule === scheduleId)).toEqual([
      expect.objectContaining({ msg: 'schedule skipped runs (overlap policy)' }),
    ]);
    await handle.delete();
  });

  it("exports a running backfill's progress and forgets it when it ends", async () => {
    const taskQueue = `bf-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../fixtures/backfill-progress-workflow.ts'),
        logger: new DefaultLogger('ERROR'),
      }),
    });
    await worker.runUntil(async () => {
      const wf = await env.client.workflow.start('backfillWorkflow', { taskQueue, workflowId: `backfill-${randomUUID()}` });
      const metrics = createPipelineMetrics();
      const monitor = startScheduleMonitor({ client: env.client, metrics, logger: memoryLogger(), intervalMs: 60_000 });
      const progress = async () =>
        Object.fromEntries(
          (await series(metrics, 'trainset_backfill_partitions'))
            .filter((s) => s.labels.backfill === wf.workflowId)
            .map((s) => [s.labels.state, s.value]),
        );
      for (let i = 0; i < 50 && Object.keys(await progress()).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 200)); // visibility lists the run shortly after it starts
        await monitor.poll();
      }
      expect(await progress()).toEqual({ done: 3, running: 2, waiting: 1, failed: 1, remaining: 10 });
      await wf.terminate('test over');
      for (let i = 0; i < 50 && Object.keys(await progress()).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        await monitor.poll();
      }
      expect(await progress()).toEqual({});
      await monitor.stop();
    });
  });
});
