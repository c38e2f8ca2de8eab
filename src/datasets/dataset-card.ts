/**
 * The dataset card of a version: its size, split, label balance, per-feature distributions and drift, as Markdown
 * and as one self-contained HTML page (inline CSS and SVG; no scripts, fonts or links). Feature names and category
 * values come from data, so every string is escaped. Deterministic: the same card renders the same bytes.
 */
import { driftFailureMessage, figureName, formatFigure, type DriftReport } from '../quality/drift';
import { OTHER_CATEGORY, type FeatureStats, type NumericSummary, type VersionStats } from '../quality/stats';
import {
  CSS,
  axisLabel,
  barsSvg,
  driftStatus,
  driftSvg,
  escapeHtml,
  formatCount as int,
  formatPercent as pct,
  formatShare as share,
  htmlTable,
  px,
  svgFigure,
  clip,
  type BarRow,
  type LegendEntry,
} from '../reports/html';
import type { ProductionLineage } from './manifest';

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
  /** Rows that came from production (the gateway's feedback capture) and the model versions that served them. */
  production?: ProductionLineage;
};

/** The production rows by serving model version, most rows first (then by name): the card's lineage table. */
function productionRows(p: ProductionLineage, rows: number): Array<[string, number, string]> {
  return Object.entries(p.servedBy)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([served, n]) => [served, n, share(n, rows)]);
}

const DRIFT_TITLES = { previous: 'the previous version', production: 'the production sample' } as const;
/** Categories drawn per feature; the table and the other bucket carry the rest. */
const CHART_CATEGORIES = 15;
const CATEGORY_LEGEND: LegendEntry[] = [
  { label: 'one value', mark: { kind: 'bar', cls: 'bar' } },
  { label: `${OTHER_CATEGORY}: every value not drawn, together`, mark: { kind: 'bar', cls: 'bar other' } },
];

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
function categoryBars(f: FeatureStats): BarRow[] {
  const c = f.categories;
  if (!c) return [];
  const shown = c.top.slice(0, CHART_CATEGORIES);
  const rest = c.count - shown.reduce((s, t) => s + t.count, 0);
  const other: BarRow[] = rest > 0 ? [{ label: OTHER_CATEGORY, count: rest, cls: 'bar other' }] : [];
  return [...shown.map((t) => ({ label: t.value, count: t.count })), ...other];
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
      f.breached ? '**BREACH**' : driftStatus(f),
    ]);
    lines.push(...mdTable(['Feature', 'Metric', 'Value', 'Limit', 'Status'], ['---', '---', '---:', '---:', '---'], rows), '');
  }

  if (card.production && card.production.records > 0) {
    const p = card.production;
    lines.push('## Production records', '');
    lines.push(`${int(p.records)} of ${int(card.rows)} rows came from production (served by the gateway), served by:`, '');
    const rows = productionRows(p, card.rows).map(([served, n, sh]) => [code(served), int(n), sh]);
    lines.push(...mdTable(['Model version', 'Rows', 'Share'], ['---', '---:', '---:'], rows), '');
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

/** What a histogram's x axis measures, with its unit. */
function histogramAxis(name: string, f: FeatureStats, bins: number): string {
  const what =
    f.kind === 'text'
      ? `length of ${name} (characters)`
      : f.type === 'timestamp'
        ? `${name} (UTC time)`
        : `${name} (value in the field's unit)`;
  return `${what}; ${bins} equal-width bins`;
}

/** Vertical bars of a histogram: rows per bin over [min, max], both axes labelled. */
function histogramSvg(s: NumericSummary, f: FeatureStats, name: string, title: string): string {
  const left = 56;
  const w = 360;
  const h = 110;
  const top = 6;
  const counts = s.histogram.counts;
  const most = Math.max(1, ...counts);
  const bw = w / counts.length;
  const yBase = top + h;
  const bars = counts.map((c, i) => {
    const bh = (c / most) * (h - 10);
    return `<rect x="${px(left + i * bw + 1)}" y="${px(yBase - bh)}" width="${px(bw - 2)}" height="${px(bh)}" class="bar"><title>${escapeHtml(`${int(c)} rows`)}</title></rect>`;
  });
  const yLabel = s.sampled < s.count ? 'rows per bin (estimated)' : 'rows per bin';
  const axes = [
    `<line x1="${left}" y1="${yBase}" x2="${left + w}" y2="${yBase}" class="axis"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${yBase}" class="axis"/>`,
    `<text x="${left - 4}" y="${yBase}" class="tick end">0</text>`,
    `<text x="${left - 4}" y="${px(yBase - (h - 10) + 4)}" class="tick end">${escapeHtml(int(most))}</text>`,
    `<text x="${left}" y="${yBase + 14}" class="tick">${escapeHtml(valueText(s.min, f))}</text>`,
    `<text x="${left + w}" y="${yBase + 14}" class="tick end">${escapeHtml(valueText(s.max, f))}</text>`,
    axisLabel(histogramAxis(name, f, counts.length), left + w / 2, yBase + 30),
    axisLabel(yLabel, 14, top + h / 2, true),
  ];
  return svgFigure(left + w + 10, yBase + 36, title, bars.join('') + axes.join(''));
}

function featureHtml(name: string, f: FeatureStats): string {
  const head = `<h3><code>${escapeHtml(name)}</code> <span class="meta">${escapeHtml(`${f.kind} · ${f.type} · complete ${pct(f.completeness)} (${int(f.count)})`)}</span></h3>`;
  const s = f.numeric ?? f.length;
  const title = f.kind === 'text' ? `${name}: length distribution` : `${name}: distribution`;
  if (s) {
    const exactness = s.sampled < s.count ? ` (histogram estimated from a sample of ${int(s.sampled)})` : '';
    return `<article>${head}${histogramSvg(s, f, name, title)}<p>${escapeHtml(numericLine(s, f) + exactness)}</p></article>`;
  }
  if (f.categories) {
    const c = f.categories;
    const note = `${int(c.distinct)}${c.exact ? '' : '+'} distinct; top ${c.top.length} kept, ${int(c.other)} other`;
    const bars = categoryBars(f);
    const chart = barsSvg(bars, {
      title: `${name}: rows per value, top ${Math.min(c.top.length, CHART_CATEGORIES)} values`,
      rowAxis: `value of ${clip(name, 24)}`,
      valueAxis: 'rows',
      base: { count: c.count, label: `the ${int(c.count)} rows with a value` },
      ...(bars.some((b) => b.label === OTHER_CATEGORY) ? { legend: CATEGORY_LEGEND } : {}),
    });
    return `<article>${head}${chart}<p>${escapeHtml(note)}</p></article>`;
  }
  return `<article>${head}</article>`;
}

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
    barsSvg(labelRows, {
      title: `label balance of ${stats.label.field}: labeled rows per class`,
      rowAxis: `class (${clip(stats.label.field, 24)})`,
      valueAxis: 'labeled rows',
      base: { count: labeled, label: `the ${int(labeled)} labeled rows` },
    }),
    `<p>${e(`${int(labeled)} labeled, ${int(stats.label.unlabeled)} unlabeled`)}</p></section>`,
  );

  if (card.production && card.production.records > 0) {
    const p = card.production;
    const rows = productionRows(p, card.rows).map(([served, n, sh]) => [`<code>${e(served)}</code>`, e(int(n)), e(sh)]);
    parts.push(
      '<section><h2>Production records</h2>',
      `<p>${e(`${int(p.records)} of ${int(card.rows)} rows came from production (served by the gateway), served by:`)}</p>`,
      htmlTable(['Model version', 'Rows', 'Share'], rows),
      '</section>',
    );
  }

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
      f.breached ? '<strong class="failed">BREACH</strong>' : e(driftStatus(f)),
    ]);
    parts.push(
      `<section><h2>Drift against ${e(DRIFT_TITLES[key])}</h2>${verdict}<p>${e(summary)}</p>`,
      driftSvg(report, `drift against ${DRIFT_TITLES[key]}: each figure's value against its limit`),
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
