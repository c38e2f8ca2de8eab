/**
 * Worker telemetry end to end on the real dev server: a tiny workflow runs through a worker with the tracing
 * and metrics interceptors; spans come out of an in-memory exporter, metrics out of the worker's /metrics,
 * which also re-serves the Temporal SDK's own metrics.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ApplicationFailure } from '@temporalio/activity';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestResult } from '../../src/shared/types';
import { sdkPrometheus } from '../../src/workers/logger';
import { startMetricsServer, type MetricsServer } from '../../src/workers/metrics-server';
import { createPipelineMetrics } from '../../src/workers/pipeline-metrics';
import { freePort } from '../../src/workers/telemetry';
import { createTracing, OTEL_WORKFLOW_INTERCEPTOR_MODULE, type Tracing } from '../../src/workers/tracing';
import { workerTelemetryOptions, workflowBundle } from '../../src/workers/workers';
import { SDK_METRIC_NAMES } from '../helpers/sdk-metric-names';
import { serviceEnv } from '../helpers/services';
import type { tinyIngestWorkflow } from '../fixtures/telemetry-workflows';

const taskQueue = `telemetry-${randomUUID()}`;
const exporter = new InMemorySpanExporter();
let env: TestWorkflowEnvironment;
let tracing: Tracing;
let server: MetricsServer;
let client: Client;
let worker: Worker;
let running: Promise<void>;

const ingestResult = (): IngestResult => ({
  recordsIn: 12,
  accepted: 10,
  quarantined: 2,
  byReason: { invalid_json: 2 },
  stagedKey: 'work/staged',
  files: 1,
});

beforeAll(async () => {
  // test/setup.ts installed a runtime without metrics; replace it (nothing uses it yet in this process).
  await Runtime.instance().shutdown();
  const sdkAddress = `127.0.0.1:${await freePort()}`;
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { metrics: sdkPrometheus(sdkAddress) } });
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: serviceEnv().temporalCliPath }, log: { format: 'json', level: 'error' } },
  });
  tracing = createTracing({ exporter, serviceName: 'trainset-test' })!;
  const metrics = createPipelineMetrics();
  server = await startMetricsServer({
    registry: metrics.registry,
    port: 0,
    host: '127.0.0.1',
    sdkMetricsUrl: `http://${sdkAddress}/metrics`,
  });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../fixtures/telemetry-workflows.ts'),
    workflowInterceptorModules: [OTEL_WORKFLOW_INTERCEPTOR_MODULE],
    logger: new DefaultLogger('ERROR'),
  });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: {
      ingestPartition: async ({ dataset }: { dataset: string }): Promise<IngestResult> => {
        if (dataset === 'broken') throw ApplicationFailure.nonRetryable('partition is missing', 'PartitionNotFound');
        return ingestResult();
      },
    },
    ...workerTelemetryOptions({ metrics, tracing }),
  });
  running = worker.run();
  client = new Client({ connection: env.connection, interceptors: { workflow: tracing.clientInterceptors } });
}, 120_000);

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await server?.close();
  await tracing?.shutdown();
  await env?.teardown();
});

const run = (dataset: string) =>
  client.workflow.execute<typeof tinyIngestWorkflow>('tinyIngestWorkflow', {
    taskQueue,
    workflowId: `tiny-${randomUUID()}`,
    args: [dataset],
  });

/** Spans of one workflow id, once the sink has delivered the workflow's own (they leave the sandbox after the activation). */
async function spansOf(workflowId: string, names: string[]): Promise<ReadableSpan[]> {
  for (let i = 0; i < 50; i++) {
    await tracing.provider.forceFlush();
    const traceIds = new Set(
      exporter
        .getFinishedSpans()
        .filter((s) => s.attributes.temporalWorkflowId === workflowId)
        .map((s) => s.spanContext().traceId),
    );
    const spans = exporter.getFinishedSpans().filter((s) => traceIds.has(s.spanContext().traceId));
    if (names.every((n) => spans.some((s) => s.name === n))) return spans;
    await new Promise((r) => setTimeout(r, 100));
  }
  return exporter.getFinishedSpans().filter((s) => s.attributes.temporalWorkflowId === workflowId);
}

async function scrape(): Promise<string> {
  const res = await fetch(server.url);
  expect(res.status).toBe(200);
  return res.text();
}

describe('worker telemetry', () => {
  it('exports one trace with the client, workflow and activity spans', async () => {
    const workflowId = `tiny-${randomUUID()}`;
    await expect(
      client.workflow.execute<typeof tinyIngestWorkflow>('tinyIngestWorkflow', { taskQueue, workflowId, args: ['tickets'] }),
    ).resolves.toBe(10);
    const names = [
      'StartWorkflow:tinyIngestWorkflow',
      'RunWorkflow:tinyIngestWorkflow',
      'StartActivity:ingestPartition',
      'RunActivity:ingestPartition',
    ];
    const spans = await spansOf(workflowId, names);
    expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining(names));
    const byName = new Map(spans.map((s) => [s.name, s]));
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    // The activity runs under the span that scheduled it: the trace header crossed the server.
    expect(byName.get('RunActivity:ingestPartition')!.parentSpanId).toBe(byName.get('StartActivity:ingestPartition')!.spanContext().spanId);
    expect(byName.get('RunActivity:ingestPartition')!.resource.attributes['service.name']).toBe('trainset-test');
  });

  it('counts the activity result and failures on /metrics, next to the SDK metrics', async () => {
    await run('tickets');
    await expect(run('broken')).rejects.toBeInstanceOf(WorkflowFailedError);
    const text = await scrape();
    expect(text).toContain('trainset_records_in_total{dataset="tickets"}');
    expect(text).toMatch(/trainset_records_quarantined_total\{dataset="tickets",stage="ingest",reason="invalid_json"\} \d+/);
    expect(text).toContain('trainset_activity_failures_total{activity="ingestPartition",error_type="PartitionNotFound"} 1');
    const names = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    expect(SDK_METRIC_NAMES.filter((n) => !names.has(n))).toEqual([]);
  });

  it('replays the committed histories with the tracing interceptors in the bundle (they add no commands)', async () => {
    const dir = path.resolve(__dirname, '../histories');
    const histories = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ workflowId: f, history: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as unknown }));
    expect(histories.length).toBeGreaterThan(0);
    const bundle = await workflowBundle({ tracing: true });
    for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, sinks: tracing.sinks }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  }, 120_000);
});
