/**
 * The dataset card of a version: its size, split, label balance, per-feature distributions and drift, as Markdown
 * and as one self-contained HTML page (inline CSS and SVG; no scripts, fonts or links). Feature names and category
 * values come from data, so every string is escaped. Deterministic: the same card renders the same bytes.
 */
import { driftFailureMessage, figureName, formatFigure, type DriftFigure, type DriftReport } from '../quality/drift';
import { OTHER_CATEGORY, type FeatureStats, type NumericSummary, type VersionStats } from '../quality/stats';

/** What a dataset card shows. */
export type DatasetCard = {
  dataset: string;
  versionId: string;
  logicalDate: string;
  rows: number;
  partitions: readonly string[];
  stats: VersionStats;
  drift?: { previous?: DriftReport; production?: DriftReport };
  split?: { train: number; validation: number; test: number };
  /** Shown when given (the card never reads the clock). */
  createdAt?: string;
};

const DRIFT_TITLES = { previous: 'the previous version', production: 'the production sample' } as const;
/** Categories drawn per feature; the table and the other bucket carry the rest. */
const CHART_CATEGORIES = 15;

const int = (n: number): string => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const share = (n: number, total: number): string => (total > 0 ? pct(n / total) : 'n/a');
const clip = (s: string, max = 40): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

function valueText(v: number, f: Pick<FeatureStats, 'type' | 'kind'>): string {
  if (f.type === 'timestamp' && f.kind === 'numeric' && Math.abs(v) < 8.64e15) return new Date(Math.round(v)).toISOString();
  return Number.isInteger(v) ? int(v) : formatFigure(v);
}

function numericLine(s: NumericSummary, f: FeatureStats): string {
  const v = (x: number): string => valueText(x, f);
  const prefix = f.kind === 'text' ? 'length ' : '';
  return `${prefix}min ${v(s.min)} · p50 ${v(s.quantiles.p50)} · p95 ${v(s.quantiles.p95)} · max ${v(s.max)} · mean ${v(s.mean)}`;
}

/** Top categories plus the other bucket, as drawn. */
function categoryBars(f: FeatureStats): Array<{ label: string; count: number }> {
  const c = f.categories;
  if (!c) return [];
  const shown = c.top.slice(0, CHART_CATEGORIES);
  const rest = c.count - shown.reduce((s, t) => s + t.count, 0);
  return [...shown.map((t) => ({ label: t.value, count: t.count })), ...(rest > 0 ? [{ label: OTHER_CATEGORY, count: rest }] : [])];
}

function status(f: DriftFigure): string {
  if (f.breached) return 'BREACH';
  if (!f.gated) return `not gated: ${f.note ?? ''}`;
  return 'ok';
}

function driftVerdict(report: DriftReport): { failure: string | undefined; summary: string } {
  const ungated = report.figures.filter((f) => !f.gated).length;
  return {
    failure: driftFailureMessage(report),
    summary: `${report.figures.length} figures on ${int(report.referenceRows)} reference and ${int(report.currentRows)} current rows; ${ungated} not gated (see their status).`,
  };
}

// ---------------------------------------------------------------------------------------------------- Markdown

/** A Markdown code span that is safe in a table cell: data never becomes markup or inline HTML. */
function code(s: string): string {
  const flat = s.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|');
  if (flat === '') return '(empty)';
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${flat} ${fence}` : `${fence}${flat}${fence}`;
}

function mdTable(head: string[], align: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function mdFeatureSummary(f: FeatureStats): string {
  const s = f.numeric ?? f.length;
  if (s) return numericLine(s, f);
  const c = f.categories;
  if (c) {
    const top = c.top.slice(0, 5).map((t) => `${code(t.value)} ${share(t.count, c.count)}`);
    return `${top.join(', ')}${c.top.length > 5 || c.other > 0 ? ', …' : ''} (${int(c.distinct)}${c.exact ? '' : '+'} distinct)`;
  }
  return '';
}

/** The card as Markdown (tables; data values in code spans). */
export function renderCardMarkdown(card: DatasetCard): string {
  const { stats } = card;
  const lines = [`# Dataset card: ${code(card.dataset)}`, ''];
  const facts: string[][] = [
    ['Version', code(card.versionId)],
    ['Logical date', code(card.logicalDate)],
    ['Rows', int(card.rows)],
    ['Partitions', `${card.partitions.map(code).join(', ')} (${card.partitions.length})`],
  ];
  if (card.split) {
    const { train, validation, test } = card.split;
    facts.push(['Split', `train ${int(train)} · validation ${int(validation)} · test ${int(test)}`]);
  }
  if (card.createdAt !== undefined) facts.push(['Created', code(card.createdAt)]);
  lines.push(...mdTable(['', ''], ['---', '---'], facts), '');

  const labeled = Object.values(stats.label.counts).reduce((a, b) => a + b, 0);
  lines.push(`## Label balance (${code(stats.label.field)})`, '');
  const labelRows = Object.entries(stats.label.counts).map(([l, n]) => [code(l), int(n), share(n, labeled)]);
  labelRows.push(['(unlabeled)', int(stats.label.unlabeled), '']);
  lines.push(...mdTable(['Class', 'Rows', 'Share'], ['---', '---:', '---:'], labelRows), '');

  for (const key of ['previous', 'production'] as const) {
    const report = card.drift?.[key];
    if (!report) continue;
    const { failure, summary } = driftVerdict(report);
    lines.push(`## Drift against ${DRIFT_TITLES[key]}`, '');
    lines.push(failure ? `**FAILED**: ${code(failure)}` : '**Passed**: no gated figure is over its limit.', '', summary, '');
    const rows = report.figures.map((f) => [
      code(figureName(f)),
      f.metric,
      f.value === null ? 'n/a' : formatFigure(f.value),
      String(f.limit),
      f.breached ? '**BREACH**' : status(f),
    ]);
    lines.push(...mdTable(['Feature', 'Metric', 'Value', 'Limit', 'Status'], ['---', '---', '---:', '---:', '---'], rows), '');
  }

  lines.push('## Features', '');
  const featureRows = Object.entries(stats.features).map(([name, f]) => [
    code(name),
    f.kind,
    f.type,
    pct(f.completeness),
    mdFeatureSummary(f),
  ]);
  lines.push(...mdTable(['Feature', 'Kind', 'Type', 'Completeness', 'Summary'], ['---', '---', '---', '---:', '---'], featureRows));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------- HTML

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const px = (n: number): string => String(Math.round(n * 10) / 10);

/** Vertical bars of a histogram, [min, max] under the axis. */
function histogramSvg(s: NumericSummary, f: FeatureStats, title: string): string {
  const w = 360;
  const h = 110;
  const counts = s.histogram.counts;
  const top = Math.max(1, ...counts);
  const bw = w / counts.length;
  const bars = counts.map((c, i) => {
    const bh = (c / top) * (h - 10);
    return `<rect x="${px(i * bw + 1)}" y="${px(h - bh)}" width="${px(bw - 2)}" height="${px(bh)}" class="bar"><title>${escapeHtml(int(c))}</title></rect>`;
  });
  const axis = `<text x="0" y="${h + 14}" class="tick">${escapeHtml(valueText(s.min, f))}</text><text x="${w}" y="${h + 14}" class="tick end">${escapeHtml(valueText(s.max, f))}</text>`;
  return `<svg viewBox="0 0 ${w} ${h + 18}" width="${w}" height="${h + 18}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${bars.join('')}<line x1="0" y1="${h}" x2="${w}" y2="${h}" class="axis"/>${axis}</svg>`;
}

/** Horizontal bars with a label and a count per row (also used by the run report). */
export function barsSvg(rows: Array<{ label: string; count: number }>, total: number, title: string): string {
  const w = 480;
  const rh = 18;
  const lw = 170;
  const bwMax = w - lw - 90;
  const top = Math.max(1, ...rows.map((r) => r.count));
  const body = rows.map((r, i) => {
    const y = i * rh;
    const bw = (r.count / top) * bwMax;
    return (
      `<text x="${lw - 6}" y="${y + 13}" class="tick end">${escapeHtml(clip(r.label, 28))}</text>` +
      `<rect x="${lw}" y="${y + 3}" width="${px(bw)}" height="${rh - 6}" class="${r.label === OTHER_CATEGORY ? 'bar other' : 'bar'}"><title>${escapeHtml(clip(r.label, 200))}</title></rect>` +
      `<text x="${px(lw + bw + 4)}" y="${y + 13}" class="tick">${escapeHtml(`${int(r.count)} (${share(r.count, total)})`)}</text>`
    );
  });
  const h = Math.max(rh, rows.length * rh);
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${body.join('')}</svg>`;
}

/** One row per figure: the value as a bar against its limit (a tick); breached bars red, ungated ones grey. */
export function driftSvg(report: DriftReport, title: string): string {
  const w = 600;
  const rh = 20;
  const lw = 220;
  const bwMax = w - lw - 110;
  const body = report.figures.map((f, i) => {
    const y = i * rh;
    const scale = Math.max(f.limit, f.value ?? 0) * 1.25;
    const bw = f.value === null ? 0 : (f.value / scale) * bwMax;
    const lx = lw + (f.limit / scale) * bwMax;
    const cls = f.breached ? 'bar breach' : f.gated ? 'bar' : 'bar ungated';
    const label = `${figureName(f)} ${f.metric}`;
    const text = f.value === null ? 'n/a' : `${formatFigure(f.value)} / ${f.limit}`;
    return (
      `<text x="${lw - 6}" y="${y + 14}" class="tick end">${escapeHtml(clip(label, 34))}</text>` +
      `<rect x="${lw}" y="${y + 4}" width="${px(bw)}" height="${rh - 8}" class="${cls}"><title>${escapeHtml(`${label}: ${status(f)}`)}</title></rect>` +
      `<line x1="${px(lx)}" y1="${y + 1}" x2="${px(lx)}" y2="${y + rh - 1}" class="limit"/>` +
      `<text x="${px(lw + bwMax + 6)}" y="${y + 14}" class="tick${f.breached ? ' breach-text' : ''}">${escapeHtml(text)}</text>`
    );
  });
  const h = Math.max(rh, report.figures.length * rh);
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${body.join('')}</svg>`;
}

/** A table whose cells are HTML (escape text before passing it). */
export function htmlTable(head: string[], rows: string[][], cls = ''): string {
  const th = head.map((x) => `<th>${escapeHtml(x)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

function featureHtml(name: string, f: FeatureStats): string {
  const head = `<h3><code>${escapeHtml(name)}</code> <span class="meta">${escapeHtml(`${f.kind} · ${f.type} · complete ${pct(f.completeness)} (${int(f.count)})`)}</span></h3>`;
  const s = f.numeric ?? f.length;
  const title = f.kind === 'text' ? `${name}: length distribution` : `${name}: distribution`;
  if (s) {
    const exactness = s.sampled < s.count ? ` (histogram estimated from a sample of ${int(s.sampled)})` : '';
    return `<article>${head}${histogramSvg(s, f, title)}<p>${escapeHtml(numericLine(s, f) + exactness)}</p></article>`;
  }
  if (f.categories) {
    const c = f.categories;
    const note = `${int(c.distinct)}${c.exact ? '' : '+'} distinct; top ${c.top.length} kept, ${int(c.other)} other`;
    return `<article>${head}${barsSvg(categoryBars(f), c.count, `${name}: top categories`)}<p>${escapeHtml(note)}</p></article>`;
  }
  return `<article>${head}</article>`;
}

/** The style sheet of the card and the run report. */
export const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fff}
main{max-width:980px;margin:0 auto;padding:24px}h1{font-size:24px}h2{margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}.meta{font-weight:normal;color:#666;font-size:13px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 3px;border-radius:3px}
.bar{fill:#4c78a8}.bar.other{fill:#a0b4cc}.bar.breach{fill:#d62728}.bar.ungated{fill:#b0b0b0}
.limit{stroke:#222;stroke-width:2}.axis{stroke:#999}.tick{font-size:11px;fill:#333}.tick.end{text-anchor:end}
.breach-text{fill:#d62728;font-weight:bold}.failed{color:#d62728;font-weight:bold}.passed{color:#2a7d2a;font-weight:bold}
svg{display:block;max-width:100%;height:auto;overflow:visible;margin:4px 0}`;

/** The card as one self-contained HTML page: inline CSS and SVG charts, no scripts, fonts or external resources. */
export function renderCardHtml(card: DatasetCard): string {
  const { stats } = card;
  const e = escapeHtml;
  const title = `Dataset card: ${card.dataset} @ ${card.versionId}`;
  const facts: string[][] = [
    ['Version', `<code>${e(card.versionId)}</code>`],
    ['Logical date', e(card.logicalDate)],
    ['Rows', e(int(card.rows))],
    ['Partitions', `${card.partitions.map((p) => `<code>${e(p)}</code>`).join(' ')} (${card.partitions.length})`],
  ];
  if (card.split) {
    const { train, validation, test } = card.split;
    facts.push(['Split', e(`train ${int(train)} · validation ${int(validation)} · test ${int(test)}`)]);
  }
  if (card.createdAt !== undefined) facts.push(['Created', e(card.createdAt)]);
  const parts = [
    `<h1>Dataset card: <code>${e(card.dataset)}</code></h1>`,
    `<table class="facts"><tbody>${facts.map(([k, v]) => `<tr><th>${e(k ?? '')}</th><td>${v}</td></tr>`).join('')}</tbody></table>`,
  ];

  const labeled = Object.values(stats.label.counts).reduce((a, b) => a + b, 0);
  const labelRows = Object.entries(stats.label.counts).map(([label, count]) => ({ label, count }));
  parts.push(
    `<section><h2>Label balance: <code>${e(stats.label.field)}</code></h2>`,
    barsSvg(labelRows, labeled, `label balance of ${stats.label.field}`),
    `<p>${e(`${int(labeled)} labeled, ${int(stats.label.unlabeled)} unlabeled`)}</p></section>`,
  );

  for (const key of ['previous', 'production'] as const) {
    const report = card.drift?.[key];
    if (!report) continue;
    const { failure, summary } = driftVerdict(report);
    const verdict = failure
      ? `<p class="failed">FAILED: ${e(failure)}</p>`
      : '<p class="passed">Passed: no gated figure is over its limit.</p>';
    const rows = report.figures.map((f) => [
      `<code>${e(figureName(f))}</code>`,
      e(f.metric),
      f.value === null ? 'n/a' : e(formatFigure(f.value)),
      e(String(f.limit)),
      f.breached ? '<strong class="failed">BREACH</strong>' : e(status(f)),
    ]);
    parts.push(
      `<section><h2>Drift against ${e(DRIFT_TITLES[key])}</h2>${verdict}<p>${e(summary)}</p>`,
      driftSvg(report, `drift against ${DRIFT_TITLES[key]}`),
      htmlTable(['Feature', 'Metric', 'Value', 'Limit', 'Status'], rows),
      '</section>',
    );
  }

  parts.push('<section><h2>Features</h2>', ...Object.entries(stats.features).map(([name, f]) => featureHtml(name, f)), '</section>');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(title)}</title><style>${CSS}</style></head>`,
    `<body><main>${parts.join('\n')}</main></body></html>`,
    '',
  ].join('\n');
}
