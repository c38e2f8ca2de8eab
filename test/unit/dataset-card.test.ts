import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCardHtml, renderCardMarkdown, type DatasetCard } from '../../src/datasets/dataset-card';
import { compareStats } from '../../src/quality/drift';
import { computeStats } from '../../src/quality/stats';
import { escapeHtml } from '../../src/reports/html';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';

const EVIL_FIELD = 'a<b>"c\'|`';
const SCRIPT = '<script>alert("x")</script>';

/** The tickets spec plus a categorical field whose name and values are hostile. */
function hostileSpec(): DatasetSpec {
  const raw = parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')) as {
    schema: { fields: Record<string, unknown>; categoricalFields: string[] };
  };
  raw.schema.fields[EVIL_FIELD] = { type: 'string', required: false };
  raw.schema.categoricalFields.push(EVIL_FIELD);
  return parseDatasetSpec(raw, 'hostile');
}

const spec = hostileSpec();

function rows(n: number, opts: { bodyLength: number; chatShare: number }): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `T-${i}`,
    created_at: new Date(Date.UTC(2024, 2, 1) + i * 60_000).toISOString(),
    channel: i < n * opts.chatShare ? 'chat' : 'email',
    subject: 'help',
    body: 'b'.repeat(opts.bodyLength + (i % 20)),
    queue: i % 4 === 0 ? 'billing' : i % 4 === 1 ? 'technical' : i % 4 === 2 ? '<b>zzz</b>' : undefined,
    [EVIL_FIELD]: i % 3 === 0 ? SCRIPT : i % 3 === 1 ? 'pipe|value' : 'tick`value',
  }));
}

function card(drifted: boolean, extra: Partial<DatasetCard> = {}): DatasetCard {
  const previous = computeStats(spec, rows(400, { bodyLength: 50, chatShare: 0.5 }));
  const stats = computeStats(spec, rows(400, drifted ? { bodyLength: 200, chatShare: 0.9 } : { bodyLength: 50, chatShare: 0.5 }));
  const production = computeStats(
    spec,
    rows(300, { bodyLength: 0, chatShare: 0.5 }).map(({ channel }) => ({ channel })),
  );
  return {
    dataset: 'tickets',
    versionId: 'v-0123abcd',
    logicalDate: '2024-03-07',
    rows: stats.rows,
    partitions: ['2024-03-06', '2024-03-07'],
    stats,
    drift: {
      previous: compareStats(previous, stats, spec.quality.drift),
      production: compareStats(stats, production, spec.quality.drift),
    },
    split: { train: 280, validation: 40, test: 80 },
    ...extra,
  };
}

/** Markdown with its code spans (single and double backtick fences) removed. */
const outsideCode = (md: string): string => md.replace(/``[^\n]*?``|`[^`\n]*`/g, '');

describe('escapeHtml', () => {
  it.each([
    ['<script>', '&lt;script&gt;'],
    ['a & b', 'a &amp; b'],
    ['"x" \'y\'', '&quot;x&quot; &#39;y&#39;'],
  ])('escapes %s', (input, output) => {
    expect(escapeHtml(input)).toBe(output);
  });
});

describe('renderCardHtml', () => {
  it('is a self-contained page: no scripts, links, fonts or external resources', () => {
    const html = renderCardHtml(card(true));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|@import|@font-face|url\(|https?:|src=|href=/i);
    expect(html).toContain('<style>');
    // Charts: label balance, two drift reports, and one per profiled feature with values.
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(1 + 2 + 5);
  });

  it('escapes feature names, category values and labels that come from data', () => {
    const html = renderCardHtml(card(true));
    expect(html).toContain(escapeHtml(SCRIPT));
    expect(html).toContain('&lt;b&gt;zzz&lt;/b&gt;');
    expect(html).toContain('a&lt;b&gt;&quot;c&#39;|`');
    expect(html).not.toContain(EVIL_FIELD);
    expect(html).not.toContain('<b>zzz');
  });

  it('shows drift per feature with the breached figures marked', () => {
    const html = renderCardHtml(card(true));
    expect(html).toMatch(/FAILED: drift gate: [^<]*channel linf=0\.4 &gt; 0\.2; body\.length psi=[\d.]+ &gt; 0\.25/);
    expect(html).toContain('class="bar breach"');
    expect(html).toMatch(/<code>body\.length<\/code><\/td><td>psi<\/td><td>[\d.]+<\/td><td>0\.25<\/td><td><strong class="failed">BREACH/);
    // The production sample has no text: recorded as not computable, never a crash.
    expect(html).toContain('not gated: not computable: no values on a side');
    const calm = renderCardHtml(card(false));
    expect(calm).toContain('Drift against the previous version</h2><p class="passed">');
  });

  it('labels both axes of every chart with what it measures and its unit, and explains the drift marks', () => {
    const html = renderCardHtml(card(true));
    const charts = html.match(/<svg[^>]*>.*?<\/svg>/gs) ?? [];
    expect(charts.length).toBeGreaterThanOrEqual(8);
    for (const svg of charts) expect((svg.match(/class="axis-label/g) ?? []).length, svg.slice(0, 120)).toBeGreaterThanOrEqual(2);
    const chart = (label: string): string => charts.find((svg) => svg.includes(`aria-label="${label}`)) ?? '';
    const body = chart('body: length distribution');
    expect(body).toMatch(/>length of body \(characters\); \d+ equal-width bins<\/text>/);
    expect(body).toMatch(/transform="rotate\(-90[^"]*">rows per bin<\/text>/);
    expect(chart('created_at: distribution')).toMatch(/>created_at \(UTC time\); \d+ equal-width bins<\/text>/);
    const labels = chart('label balance of queue');
    expect(labels).toContain('>class (queue)</text>');
    expect(labels).toContain('>labeled rows (in brackets: % of the 300 labeled rows)</text>');
    expect(labels).toContain('>100 (33.3 %)</text>');
    const drift = chart('drift against the previous version');
    const legend = /<g class="legend">.*?<\/g>/s.exec(drift)?.[0] ?? '';
    expect(legend).toMatch(/class="bar breach"\/><text [^>]*>value over its limit \(breach\)<\/text>/);
    expect(legend).toMatch(/class="limit"\/><text [^>]*>limit<\/text>/);
    expect(drift).toContain('>feature and metric</text>');
  });

  it('gives each bar a share only of the whole it is part of: no share above 100 %', () => {
    const html = renderCardHtml(card(true));
    const shares = [...html.matchAll(/(\d+(?:\.\d+)?) %/g)].map((m) => Number(m[1]));
    expect(shares.length).toBeGreaterThan(5);
    expect(shares.filter((p) => p > 100)).toEqual([]);
    expect(html).toContain('aria-label="channel: rows per value, top 2 values"');
    expect(html).toContain('>rows (in brackets: % of the 400 rows with a value)</text>');
  });

  it('is deterministic and shows a creation time only when given', () => {
    const a = renderCardHtml(card(true));
    expect(renderCardHtml(card(true))).toBe(a);
    expect(a).not.toContain('Created');
    expect(renderCardHtml(card(true, { createdAt: '2024-03-08T02:00:00Z' }))).toContain('<th>Created</th><td>2024-03-08T02:00:00Z</td>');
  });
});

describe('renderCardMarkdown', () => {
  it('names the offending features and figures of a failed drift gate', () => {
    const md = renderCardMarkdown(card(true));
    expect(md).toContain('## Drift against the previous version');
    expect(md).toMatch(/\*\*FAILED\*\*: `drift gate: [^`]*channel linf=0\.4 > 0\.2; body\.length psi=[\d.]+ > 0\.25`/);
    expect(md).toMatch(/\| `body\.length` \| psi \| [\d.]+ \| 0\.25 \| \*\*BREACH\*\* \|/);
    expect(md).toMatch(/\| `channel` \| linf \| 0\.4 \| 0\.2 \| \*\*BREACH\*\* \|/);
    expect(md).toMatch(/\| `subject\.length` \| psi \| n\/a \| 0\.25 \| not gated: not computable/);
    expect(renderCardMarkdown(card(false))).toContain('## Drift against the previous version\n\n**Passed**');
  });

  it('keeps data inside code spans so it can neither break a table nor inject HTML', () => {
    const md = renderCardMarkdown(card(true));
    expect(md).toContain('`<script>alert("x")</script>`');
    expect(md).toContain('`pipe\\|value`');
    expect(md).toContain('`` tick`value ``');
    expect(outsideCode(md)).not.toMatch(/<script|<b>/);
    // Every table row keeps its column count despite the pipe in the data.
    const featureRows = md.split('\n').filter((l) => l.startsWith('| `'));
    expect(featureRows.length).toBeGreaterThan(10);
  });

  it('lists the label balance, split and feature completeness', () => {
    const md = renderCardMarkdown(card(true));
    expect(md).toContain('| Split | train 280 · validation 40 · test 80 |');
    expect(md).toContain('| `billing` | 100 | 33.3 % |');
    expect(md).toContain('| (unlabeled) | 100 |  |');
    expect(md).toMatch(/\| `body` \| text \| string \| 100\.0 % \| length min 200 /);
    expect(renderCardMarkdown(card(true))).toBe(md);
  });
});
