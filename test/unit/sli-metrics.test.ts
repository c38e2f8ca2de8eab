/** The SLI metrics from activity results: label backlog, label accuracy (M1), data freshness (M4), label latency (M13). */
import { describe, expect, it } from 'vitest';
import type { RunReportRequest, RunReportResult } from '../../src/activities/report';
import type { LabelCoverage, MonitorDecision, MonitorWindowFigures, SubmitLabelsResult } from '../../src/shared/types';
import { createPipelineMetrics, recordActivityResult } from '../../src/workers/pipeline-metrics';
import { metricValue as value } from '../helpers/metric-value';

/** The value of one series, or undefined when it does not exist. */

const input = { dataset: 'tickets', partition: '2026-11-01', specHash: 'h', dedupedKey: 'k' };

describe('label backlog and label accuracy (M1)', () => {
  it('sets the pending tasks of the partition from each labeling result, keeping a zero', async () => {
    const m = createPipelineMetrics();
    const series = { dataset: 'tickets', partition: '2026-11-01' };
    recordActivityResult(m, 'createLabelTasks', input, { total: 100, labeled: 60 } satisfies LabelCoverage);
    expect(await value(m, 'trainset_label_tasks_pending', series)).toBe(40);
    recordActivityResult(m, 'runProgrammaticLabeler', input, { total: 100, labeled: 90 } satisfies LabelCoverage);
    expect(await value(m, 'trainset_label_tasks_pending', series)).toBe(10);
    const submitted: SubmitLabelsResult = { accepted: 10, rejected: 0, coverage: { total: 100, labeled: 100 } };
    recordActivityResult(m, 'recordLabels', { dataset: 'tickets', partition: '2026-11-01', labels: [], labeledBy: 'x' }, submitted);
    expect(await value(m, 'trainset_label_tasks_pending', series)).toBe(0);
    expect(await value(m, 'trainset_label_tasks_pending', { partition: '2026-11-02' })).toBeUndefined();
  });

  it("drops a partition's backlog when its run ends, so the series (and the alert) cover only runs still going", async () => {
    const m = createPipelineMetrics();
    recordActivityResult(m, 'createLabelTasks', input, { total: 100, labeled: 60 } satisfies LabelCoverage);
    recordActivityResult(m, 'createLabelTasks', { ...input, partition: '2026-11-02' }, { total: 50, labeled: 20 } satisfies LabelCoverage);
    const report = { workflowId: 'w', runId: 'r', status: { dataset: 'tickets', logicalDate: '2026-11-01', stage: 'failed', canary: [] } };
    recordActivityResult(m, 'writeRunReport', report, { reportKey: 'r', summaryKey: 's' });
    expect(await value(m, 'trainset_label_tasks_pending', { dataset: 'tickets', partition: '2026-11-01' })).toBeUndefined();
    expect(await value(m, 'trainset_label_tasks_pending', { dataset: 'tickets', partition: '2026-11-02' })).toBe(30);
  });

  it('exports the audited accuracy of the labeling function and counts audited records by outcome', async () => {
    const m = createPipelineMetrics();
    const coverage: LabelCoverage = { total: 100, labeled: 95, audit: { labeler: 'ticket-keywords', sampled: 80, agreed: 72 } };
    recordActivityResult(m, 'runProgrammaticLabeler', input, coverage);
    recordActivityResult(m, 'runProgrammaticLabeler', input, {
      ...coverage,
      audit: { labeler: 'ticket-keywords', sampled: 20, agreed: 10 },
    });
    const series = { dataset: 'tickets', labeler: 'ticket-keywords' };
    // The gauge is the latest audit; the counters add up every audit.
    expect(await value(m, 'trainset_label_accuracy', series)).toBeCloseTo(0.5);
    expect(await value(m, 'trainset_label_audit_records_total', { ...series, outcome: 'agreed' })).toBe(82);
    expect(await value(m, 'trainset_label_audit_records_total', { ...series, outcome: 'disagreed' })).toBe(18);
  });

  it('leaves the accuracy unset for an empty audit sample (no estimate is not 0)', async () => {
    const m = createPipelineMetrics();
    recordActivityResult(m, 'runProgrammaticLabeler', input, { total: 10, labeled: 5, audit: { labeler: 'lf', sampled: 0, agreed: 0 } });
    expect(await value(m, 'trainset_label_accuracy', { labeler: 'lf' })).toBeUndefined();
  });
});

describe('data freshness (M4)', () => {
  const figures: MonitorWindowFigures = {
    model: 'tickets-classifier',
    championVersion: 'mv-1',
    start: '2026-12-01T10:00:00.000Z',
    end: '2026-12-01T10:05:00.000Z',
    requests: 0,
    errors: 0,
    p95LatencyMs: 0,
    feedback: 0,
    correct: 0,
    drift: [],
  };
  const decision: MonitorDecision = { breaches: [], notJudged: [], actions: [], state: { consecutive: {}, rolledBack: [], windows: 1 } };

  it('exports the age of the champion’s training data from a judged window, and keeps it when a window lacks it', async () => {
    const m = createPipelineMetrics();
    const model = { model: 'tickets-classifier' };
    recordActivityResult(m, 'monitorWindow', {}, { served: true, figures: { ...figures, dataFreshnessSeconds: 36_300 }, decision });
    expect(await value(m, 'trainset_monitor_data_freshness_seconds', model)).toBe(36_300);
    recordActivityResult(m, 'monitorWindow', {}, { served: true, figures, decision });
    expect(await value(m, 'trainset_monitor_data_freshness_seconds', model)).toBe(36_300);
  });
});

describe('label latency (M13)', () => {
  it('fills the histogram exactly from the report’s power-of-two bins, per label source', async () => {
    const m = createPipelineMetrics();
    const request = {
      workflowId: 'w',
      runId: 'r',
      status: { dataset: 'tickets', stage: 'done', canary: [], outcome: 'promoted' },
    } as unknown as RunReportRequest;
    const result: RunReportResult = {
      reportKey: 'a',
      summaryKey: 'b',
      labelLatency: [
        { source: 'source', count: 3, sumSeconds: 0.6, p50Seconds: 0.2, p95Seconds: 0.2, bins: [{ upTo: 1, count: 3, sumSeconds: 0.6 }] },
        {
          source: 'human',
          count: 3,
          sumSeconds: 3100,
          p50Seconds: 50,
          p95Seconds: 3000,
          bins: [
            { upTo: 32, count: 1, sumSeconds: 20 },
            { upTo: 64, count: 1, sumSeconds: 50 },
            { upTo: 4096, count: 1, sumSeconds: 3030 },
          ],
        },
      ],
    };
    recordActivityResult(m, 'writeRunReport', request, result);
    const human = { dataset: 'tickets', source: 'human' };
    expect(await value(m, 'trainset_label_latency_seconds_count', human)).toBe(3);
    expect(await value(m, 'trainset_label_latency_seconds_sum', human)).toBeCloseTo(3100);
    expect(await value(m, 'trainset_label_latency_seconds_bucket', { ...human, le: '16' })).toBe(0);
    expect(await value(m, 'trainset_label_latency_seconds_bucket', { ...human, le: '64' })).toBe(2);
    expect(await value(m, 'trainset_label_latency_seconds_bucket', { ...human, le: '1024' })).toBe(2);
    expect(await value(m, 'trainset_label_latency_seconds_bucket', { ...human, le: '4096' })).toBe(3);
    expect(await value(m, 'trainset_label_latency_seconds_bucket', { dataset: 'tickets', source: 'source', le: '1' })).toBe(3);
    // The run itself is still counted.
    expect(await value(m, 'trainset_runs_total', { dataset: 'tickets', outcome: 'promoted' })).toBe(1);
  });

  it('observes nothing for a report without latencies', async () => {
    const m = createPipelineMetrics();
    const request = {
      workflowId: 'w',
      runId: 'r',
      status: { dataset: 'tickets', stage: 'done', canary: [] },
    } as unknown as RunReportRequest;
    recordActivityResult(m, 'writeRunReport', request, { reportKey: 'a', summaryKey: 'b' } satisfies RunReportResult);
    expect(await value(m, 'trainset_label_latency_seconds_count', { dataset: 'tickets' })).toBeUndefined();
  });
});
