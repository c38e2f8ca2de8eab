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

/** Every <svg> element of a page. */
const charts = (html: string): string[] => html.match(/<svg[^>]*>.*?<\/svg>/gs) ?? [];
/** The chart whose aria-label starts with `prefix`. */
const chart = (html: string, prefix: string): string => {
  const found = charts(html).find((svg) => svg.includes(`aria-label="${prefix}`));
  expect(found, `a chart labelled "${prefix}…"`).toBeDefined();
  return found!;
};
/** The y coordinates of a polyline of class `cls`. */
const polylineYs = (svg: string, cls: string): number[] =>
  new RegExp(`<polyline points="([^"]+)" class="${cls}"`)
    .exec(svg)![1]!
    .split(' ')
    .map((p) => Number(p.split(',')[1]));

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

  it("gives the canary chart a legend naming both arms, drawn in the style of each arm's line", () => {
    const svg = chart(renderRunReportHtml(input), 'canary steps');
    const legend = /<g class="legend">.*?<\/g>/s.exec(svg)?.[0] ?? '';
    const swatch = (label: string): string | undefined => new RegExp(`class="([^"]+)"/><text [^>]*>${label}</text>`).exec(legend)?.[1];
    const candidate = swatch('candidate accuracy');
    const champion = swatch('champion accuracy');
    expect(candidate).toBeDefined();
    expect(champion).toBeDefined();
    expect(candidate).not.toBe(champion);
    // The line of that class is that arm's: the candidate fell from 90 % to 60 % (y grows downwards), the champion
    // rose from 85 % to 86 %.
    const [c1, c2] = polylineYs(svg, candidate!);
    const [h1, h2] = polylineYs(svg, champion!);
    expect(c2!).toBeGreaterThan(c1!);
    expect(h2!).toBeLessThan(h1!);
    // Solid candidate, dashed champion, in the style sheet the page carries.
    const style = (cls: string): string => new RegExp(`\\.${cls}\\{([^}]*)\\}`).exec(renderRunReportHtml(input))?.[1] ?? '';
    expect(style(champion!)).toContain('stroke-dasharray');
    expect(style(candidate!)).not.toContain('stroke-dasharray');
    expect(legend).toContain('>traffic to the candidate<');
  });

  it('labels both axes of every chart with what they measure and its unit', () => {
    const html = renderRunReportHtml(input);
    const all = charts(html);
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const svg of all) expect((svg.match(/class="axis-label/g) ?? []).length, svg.slice(0, 120)).toBeGreaterThanOrEqual(2);
    const canary = chart(html, 'canary steps');
    expect(canary).toContain('>canary step (traffic to the candidate · verdict)</text>');
    expect(canary).toMatch(/transform="rotate\(-90[^"]*">accuracy, traffic \(%\)<\/text>/);
    expect(canary).toContain('>100 %</text>');
    expect(chart(html, 'record accounting')).toContain('>records (in brackets: % of the 1,000 records in)</text>');
    expect(chart(html, 'PII findings')).toContain('>PII type</text>');
  });

  it('shows percentages only against one base: none over 100 %, none on the version rows of a wider window', () => {
    const html = renderRunReportHtml(input);
    const shares = [...html.matchAll(/(\d+(?:\.\d+)?) %/g)].map((m) => Number(m[1]));
    expect(shares.length).toBeGreaterThan(5);
    expect(shares.filter((p) => p > 100)).toEqual([]);
    const accounting = chart(html, 'record accounting');
    expect(accounting).toContain('>950 (95.0 %)</text>');
    expect(accounting).toContain('>quarantined: &lt;script&gt;x&lt;/script&gt;</text>');
    expect(accounting).toContain('>930 (93.0 %)</text>');
    // The version's 1,930 rows span two partitions: told apart, without a share of this partition's records.
    expect(accounting).not.toContain('1,930');
    const note = /<p>The dataset version dv-abc holds 1,930 rows[^<]*<\/p>/.exec(html)?.[0];
    expect(note).toContain('from 2 partitions');
    expect(note).not.toContain('%');
    expect(renderRunReportMarkdown(input)).toContain('\nThe dataset version dv-abc holds 1,930 rows from 2 partitions');
  });
});
