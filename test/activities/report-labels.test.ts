/** writeRunReport measures the label latency (M13) of the run's own label tasks and returns it for the metrics. */
import { describe, expect, it } from 'vitest';
import { createReportActivities, type RunReportRequest, type RunReportResult } from '../../src/activities/report';
import type { LabelLatencyQuery, LabelLatencyStats } from '../../src/registry';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const human: LabelLatencyStats = {
  source: 'human',
  count: 2,
  sumSeconds: 600,
  p50Seconds: 300,
  p95Seconds: 500,
  bins: [{ upTo: 512, count: 2, sumSeconds: 600 }],
};

function fakeRegistry() {
  const queries: LabelLatencyQuery[] = [];
  return {
    queries,
    registry: {
      models: { getVersion: async () => undefined },
      runs: { record: async () => undefined },
      labelStats: {
        labelLatency: async (q: LabelLatencyQuery) => {
          queries.push(q);
          return [human];
        },
      },
    },
  };
}

const request = (labeling: boolean): RunReportRequest => ({
  workflowId: 'retrain-tickets-2026-11-01',
  runId: 'r1',
  startedAt: '2026-11-02T01:00:00.000Z',
  status: {
    dataset: 'tickets',
    logicalDate: '2026-11-01',
    stage: 'done',
    canary: [],
    ...(labeling ? { labeling: { total: 2, labeled: 2 } } : {}),
  },
});

describe('writeRunReport', () => {
  it('measures the label latency of the tasks the run created, returns it and writes it into the summary', async () => {
    const blobs = new MemoryBlobStore();
    const { registry, queries } = fakeRegistry();
    const { writeRunReport } = createReportActivities(cpuDeps(blobs, { registry }));
    const r = (await new WorkerActivityEnvironment().run(writeRunReport, request(true))) as RunReportResult;
    expect(queries).toEqual([{ dataset: 'tickets', partition: '2026-11-01', createdSince: '2026-11-02T01:00:00.000Z' }]);
    expect(r.labelLatency).toEqual([human]);
    const summary = (await blobs.get(r.summaryKey)).toString('utf8');
    expect(summary).toContain('| human | 2 | 5.0 min | 8.3 min |');
  });

  it('does not query label latency for a run that never reached labeling', async () => {
    const { registry, queries } = fakeRegistry();
    const { writeRunReport } = createReportActivities(cpuDeps(new MemoryBlobStore(), { registry }));
    const r = (await new WorkerActivityEnvironment().run(writeRunReport, request(false))) as RunReportResult;
    expect(queries).toEqual([]);
    expect(r.labelLatency).toBeUndefined();
  });
});
