/** The run report: self-contained HTML and Markdown built from a run's status, counts only. */
import { describe, expect, it } from 'vitest';
import { renderRunReportHtml, renderRunReportMarkdown, type RunReportInput } from '../../src/reports/run-report';
import type { PipelineStatus } from '../../src/shared/types';

const status: PipelineStatus = {
  dataset: 'tickets',
  logicalDate: '2026-01-02',
  stage: 'done',
  ingest: { recordsIn: 1000, accepted: 950, quarantined: 50, byReason: { invalid_json: 30, '<script>x</script>': 20 }, files: 1 },
  pii: {
    records: 950,
    droppedRecords: 2,
    quarantined: 0,
    quarantineByReason: {},
    findings: { EMAIL_ADDRESS: 40, PHONE_NUMBER: 7 },
    findingsByField: {},
  },
  dedupe: { records: 940, duplicates: 8, crossPartitionDuplicates: 1 },
  labeling: { total: 940, labeled: 930 },
  datasetVersion: {
    versionId: 'dv-abc',
    created: true,
    rows: 1930,
    partitions: ['2026-01-01', '2026-01-02'],
    manifestKey: 'm',
    objectsWritten: 3,
  },
  modelVersion: { modelVersionId: 'mv-1', version: 2 },
  gate: { passed: true, rule: 'vs-champion', reasons: [] },
  canary: [
    {
      step: 0,
      weight: 20,
      generation: 2,
      verdict: 'pass',
      reasons: [],
      candidateAccuracy: 0.9,
      championAccuracy: 0.85,
      candidateSamples: 80,
      championSamples: 320,
    },
    {
      step: 1,
      weight: 50,
      generation: 3,
      verdict: 'breach',
      reasons: ['accuracy'],
      candidateAccuracy: 0.6,
      championAccuracy: 0.86,
      candidateSamples: 200,
      championSamples: 200,
    },
  ],
  outcome: 'rolled_back',
} as PipelineStatus;

const input: RunReportInput = {
  workflowId: 'retrain-tickets-2026-01-02',
  runId: 'run-1',
  status,
  finishedAt: '2026-01-03T00:00:00.000Z',
  drift: {
    referenceRows: 1000,
    currentRows: 1930,
    minRows: 200,
    figures: [
      {
        feature: 'channel',
        kind: 'categorical',
        metric: 'linf',
        value: 0.31,
        limit: 0.2,
        gated: true,
        breached: true,
        referenceCount: 1000,
        currentCount: 1930,
      },
    ],
  },
};

describe('run report', () => {
  it('renders accounting, PII by type, drift, canary steps as one self-contained, escaped HTML page', () => {
    const html = renderRunReportHtml(input);
    for (const part of [
      'Record accounting',
      'PII findings by type',
      'Drift per feature',
      'Canary steps over time',
      'EMAIL_ADDRESS',
      'rolled_back',
    ]) {
      expect(html).toContain(part);
    }
    expect(html).not.toMatch(/<script|src=|href=|@import|url\(/i);
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(4);
  });

  it('renders the same facts as Markdown tables', () => {
    const md = renderRunReportMarkdown(input);
    expect(md).toContain('- outcome: **rolled_back**');
    expect(md).toContain('| quarantined: invalid_json | 30 |');
    expect(md).toContain('| EMAIL_ADDRESS | 40 |');
    expect(md).toContain('| channel | linf | 0.3100 | 0.2 | **breached** |');
    expect(md).toContain('| 2 | 50 % | breach | 60.0 % | 86.0 % | 200/200 |');
  });
});
