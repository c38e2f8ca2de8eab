/**
 * The label SLIs on the real registry (PostgreSQL): a tickets partition through createLabelTasks,
 * runProgrammaticLabeler, human labels and writeRunReport, each result through the metrics interceptor's
 * recordActivityResult, then the Prometheus scrape: label accuracy on the audit sample (M1), the backlog, and label
 * latency per source (M13) counting every label the run's tasks got.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabelingActivities } from '../../src/activities/labeling';
import { createReportActivities, type RunReportResult } from '../../src/activities/report';
import { createRegistry, type Registry } from '../../src/registry';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import type { LabelCoverage, PipelineStatus, SubmitLabelsResult } from '../../src/shared/types';
import { createPipelineMetrics, recordActivityResult } from '../../src/workers/pipeline-metrics';
import { cpuDeps, WorkerActivityEnvironment } from '../activities/activity-fixtures';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { createTestDatabase, type TestDatabase } from './registry-test-db';

const DAY = '2026-11-03';
const KEY = `work/tickets/${DAY}/deduped.jsonl`;

/** One series' value from the scrape text, or undefined. */
function scraped(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('label SLIs on PostgreSQL', () => {
  let db: TestDatabase;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    registry = createRegistry(db.pool);
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('exports the audit accuracy, the backlog and the latency of every label the run’s tasks got', async () => {
    const blobs = new MemoryBlobStore();
    const lines = generateTicketLines({ date: DAY, count: 300, seed: 7, badLineFraction: 0, duplicateFraction: 0, unlabeledFraction: 0.3 });
    await blobs.put(KEY, lines.map((l, i) => JSON.stringify({ hash: `t${i}`, record: JSON.parse(l.line) as unknown })).join('\n'));
    const deps = cpuDeps(blobs, { registry });
    const labeling = createLabelingActivities(deps);
    const { writeRunReport } = createReportActivities(deps);
    const m = createPipelineMetrics();
    const env = new WorkerActivityEnvironment();
    const startedAt = new Date(Date.now() - 1000).toISOString();
    const input = { dataset: 'tickets', partition: DAY, specHash: 'x', dedupedKey: KEY };

    const created = (await env.run(labeling.createLabelTasks, input)) as LabelCoverage;
    recordActivityResult(m, 'createLabelTasks', input, created);
    const programmatic = (await env.run(labeling.runProgrammaticLabeler, input)) as LabelCoverage;
    recordActivityResult(m, 'runProgrammaticLabeler', input, programmatic);
    const audit = programmatic.audit!;
    expect(audit.sampled).toBeGreaterThan(100);
    expect(audit.agreed).toBeLessThan(audit.sampled);

    // A human labels one of the records the function abstained on, if any.
    const pending = await registry.labels.pendingTasks('tickets', DAY, 1);
    expect(pending).toHaveLength(1);
    const human = {
      dataset: 'tickets',
      partition: DAY,
      labels: pending.map((recordHash) => ({ recordHash, label: 'billing' })),
      labeledBy: 'ann',
    };
    const submitted = (await env.run(labeling.recordLabels, human)) as SubmitLabelsResult;
    recordActivityResult(m, 'recordLabels', human, submitted);
    // The backlog while the run is going: what the last labeling activity left.
    const left = submitted.coverage.total - submitted.coverage.labeled;
    const backlog = `trainset_label_tasks_pending{dataset="tickets",partition="${DAY}"}`;
    expect(scraped(await m.registry.metrics(), backlog)).toBe(left);

    const status: PipelineStatus = {
      dataset: 'tickets',
      logicalDate: DAY,
      stage: 'done',
      canary: [],
      labeling: programmatic,
      outcome: 'promoted',
    };
    const request = { workflowId: `retrain-tickets-${DAY}`, runId: 'r1', status, startedAt };
    const report = (await env.run(writeRunReport, request)) as RunReportResult;
    recordActivityResult(m, 'writeRunReport', request, report);

    const text = await m.registry.metrics();
    expect(scraped(text, 'trainset_label_accuracy{dataset="tickets",labeler="ticket-keywords"}')).toBeCloseTo(audit.agreed / audit.sampled);
    expect(scraped(text, 'trainset_label_audit_records_total{dataset="tickets",labeler="ticket-keywords",outcome="disagreed"}')).toBe(
      audit.sampled - audit.agreed,
    );
    // The run is over: its partition's backlog series is gone.
    expect(scraped(text, backlog)).toBeUndefined();
    // Every labeled task of the run is one latency observation, under its label source.
    const bySource = (source: string): number =>
      scraped(text, `trainset_label_latency_seconds_count{dataset="tickets",source="${source}"}`) ?? 0;
    expect(bySource('source') + bySource('programmatic') + bySource('human')).toBe(submitted.coverage.labeled);
    expect(bySource('source')).toBe(created.labeled);
    expect(bySource('human')).toBe(pending.length);
    const summary = (await blobs.get(report.summaryKey)).toString('utf8');
    expect(summary).toContain('## Labels');
    expect(summary).toMatch(/\| source \| \d+ \| [\d.]+ s \|/);
  }, 60_000);
});
