/** The run report's Labels part: the labeling function's audit (M1) and label latency per source (M13). */
import { describe, expect, it } from 'vitest';
import { renderRunReportHtml, renderRunReportMarkdown, type RunReportInput } from '../../src/reports/run-report';

const base: RunReportInput = {
  workflowId: 'retrain-tickets-2026-01-02',
  runId: 'r1',
  finishedAt: '2026-01-02T03:00:00.000Z',
  status: { dataset: 'tickets', logicalDate: '2026-01-02', stage: 'done', canary: [], labeling: { total: 100, labeled: 90 } },
};

const withLabels: RunReportInput = {
  ...base,
  status: { ...base.status, labeling: { total: 100, labeled: 90, audit: { labeler: 'ticket-keywords', sampled: 80, agreed: 72 } } },
  labelLatency: [
    { source: 'source', count: 80, sumSeconds: 8, p50Seconds: 0.1, p95Seconds: 0.2, bins: [{ upTo: 1, count: 80, sumSeconds: 8 }] },
    { source: 'human', count: 10, sumSeconds: 36_000, p50Seconds: 1800, p95Seconds: 7200, bins: [] },
  ],
};

describe('run report: labels', () => {
  it('gives the audit of the labeling function and the latency p50/p95 per label source in Markdown', () => {
    const md = renderRunReportMarkdown(withLabels);
    expect(md).toContain('## Labels');
    expect(md).toContain('Labeling function ticket-keywords on the 80 source-labelled records it labeled: 72 agreed (90');
    expect(md).toContain('| source | 80 | 0.1 s | 0.2 s |');
    expect(md).toContain('| human | 10 | 30.0 min | 2.0 h |');
  });

  it('gives the same in HTML', () => {
    const html = renderRunReportHtml(withLabels);
    expect(html).toContain('<h2>Labels</h2>');
    expect(html).toContain('<td>human</td><td>10</td><td>30.0 min</td><td>2.0 h</td>');
    expect(html).toContain('72 agreed');
  });

  it('has no Labels part without an audit or latencies', () => {
    expect(renderRunReportMarkdown(base)).not.toContain('## Labels');
    expect(renderRunReportHtml(base)).not.toContain('<h2>Labels</h2>');
  });
});
