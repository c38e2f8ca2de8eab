/**
 * The HTML and SVG kit of the dataset card and the run report: escaping, number formats, the shared style sheet,
 * tables, and charts whose every figure names what it shows (a title, axis labels with units, a legend where there
 * is more than one kind of mark). Text from data is always escaped; the output is deterministic.
 */
import { figureName, formatFigure, type DriftFigure, type DriftReport } from '../quality/drift';

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A whole number with thousands separators: 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A fraction as a percentage with one decimal: 0.925 → "92.5 %"; "n/a" when absent. */
export function formatPercent(x: number | undefined): string {
  return x === undefined ? 'n/a' : `${(x * 100).toFixed(1)} %`;
}

/** `n` as a percentage of `base`; "n/a" when the base is empty. */
export function formatShare(n: number, base: number): string {
  return base > 0 ? formatPercent(n / base) : 'n/a';
}

/** A compact number for axis ticks and tables: four significant digits, exponent form when very large or small. */
export function formatCompact(v: number): string {
  return Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.001) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

/** Cut a label to `max` characters, marking the cut. */
export function clip(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** An SVG coordinate with at most one decimal. */
export function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** The style sheet of the card and the run report. */
export const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fff}
main{max-width:980px;margin:0 auto;padding:24px}h1{font-size:24px}h2{margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}.meta{font-weight:normal;color:#666;font-size:13px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 3px;border-radius:3px}
.bar{fill:#4c78a8}.bar.other{fill:#a0b4cc}.bar.breach{fill:#d62728}.bar.ungated{fill:#b0b0b0}
.limit{stroke:#222;stroke-width:2}.axis{stroke:#999}.grid{stroke:#eee}.tick{font-size:11px;fill:#333}.tick.end{text-anchor:end}
.tick.middle,.axis-label{text-anchor:middle}.axis-label{font-size:11px;fill:#555;font-style:italic}.axis-label.end{text-anchor:end}
.axis-label.start{text-anchor:start}.legend text{font-size:11px;fill:#333}
.series-candidate{stroke:#4c78a8;stroke-width:2;fill:none}.series-champion{stroke:#f58518;stroke-width:2;stroke-dasharray:6 4;fill:none}
.series-weight{stroke:#888;stroke-width:1.5;stroke-dasharray:2 3;fill:none}.series-loss{stroke:#222;stroke-width:2;fill:none}
.dot-candidate{fill:#4c78a8}.dot-champion{fill:#f58518}.dot-loss{fill:#4c78a8}.dot-pass{fill:#2a7d2a}.dot-fail{fill:#d62728}
.breach-text{fill:#d62728;font-weight:bold}.failed{color:#d62728;font-weight:bold}.passed{color:#2a7d2a;font-weight:bold}
svg{display:block;max-width:100%;height:auto;overflow:visible;margin:4px 0}`;

/** A table whose cells are HTML (escape text before passing it). */
export function htmlTable(head: string[], rows: string[][], cls = ''): string {
  const th = head.map((x) => `<th>${escapeHtml(x)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

/** An SVG figure: `title` says what it shows (for screen readers and as a tooltip); `body` is its markup. */
export function svgFigure(width: number, height: number, title: string, body: string): string {
  const t = escapeHtml(title);
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${t}"><title>${t}</title>${body}</svg>`;
}

/** An axis label (name and unit); `rotate` turns it to read upwards beside a vertical axis. */
export function axisLabel(text: string, x: number, y: number, rotate = false): string {
  const turn = rotate ? ` transform="rotate(-90 ${px(x)} ${px(y)})"` : '';
  return `<text x="${px(x)}" y="${px(y)}" class="axis-label"${turn}>${escapeHtml(text)}</text>`;
}

/** How a legend entry is drawn: with the same class as the mark it explains. */
export type LegendMark = { kind: 'line' | 'bar' | 'dot' | 'tick'; cls: string };

/** One legend entry. */
export type LegendEntry = { label: string; mark: LegendMark };

const LEGEND_ROW = 16;
/** Rough width of an 11 px character, to lay legend entries out without measuring text. */
const CHAR_WIDTH = 6.2;

function legendSwatch(m: LegendMark, x: number, y: number): string {
  switch (m.kind) {
    case 'line':
      return `<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + 22)}" y2="${px(y)}" class="${m.cls}"/>`;
    case 'bar':
      return `<rect x="${px(x + 4)}" y="${px(y - 5)}" width="14" height="10" class="${m.cls}"/>`;
    case 'dot':
      return `<circle cx="${px(x + 11)}" cy="${px(y)}" r="4" class="${m.cls}"/>`;
    case 'tick':
      return `<line x1="${px(x + 11)}" y1="${px(y - 6)}" x2="${px(x + 11)}" y2="${px(y + 6)}" class="${m.cls}"/>`;
  }
}

/** A legend laid out in rows within `width`, starting at (x, y); returns its markup and height. */
export function legendSvg(entries: LegendEntry[], x: number, y: number, width: number): { svg: string; height: number } {
  let cx = x;
  let row = 0;
  const items = entries.map((e) => {
    const w = 28 + e.label.length * CHAR_WIDTH + 14;
    if (cx > x && cx + w > x + width) {
      cx = x;
      row += 1;
    }
    const cy = y + row * LEGEND_ROW + LEGEND_ROW / 2;
    const item = `${legendSwatch(e.mark, cx, cy)}<text x="${px(cx + 28)}" y="${px(cy + 4)}">${escapeHtml(e.label)}</text>`;
    cx += w;
    return item;
  });
  return { svg: `<g class="legend">${items.join('')}</g>`, height: (row + 1) * LEGEND_ROW };
}

/** Where a plot sits in a chart of {@link CHART_WIDTH}: its legend on top, then the plot area. */
export interface PlotFrame {
  /** The legend's markup. */
  legend: string;
  left: number;
  right: number;
  /** y of the plot's top and of its x axis. */
  top: number;
  base: number;
}

/** Width of the line charts. */
export const CHART_WIDTH = 600;

/** The frame of a line chart: a legend across the top, then a plot `height` high from `left` to 20 px from the edge. */
export function plotFrame(entries: LegendEntry[], left: number, height: number): PlotFrame {
  const right = CHART_WIDTH - 20;
  const legend = legendSvg(entries, left, 2, right - left);
  const top = legend.height + 14;
  return { legend: legend.svg, left, right, top, base: top + height };
}

/** A horizontal bar: a label, a count, and a class other than `bar` when it stands apart (e.g. the other bucket). */
export type BarRow = { label: string; count: number; cls?: string };

/** What a bar chart shows. */
export interface BarChartOptions {
  /** What the chart shows, e.g. "records per stage of partition 2026-01-02". */
  title: string;
  /** What the rows are, printed above them, e.g. "stage". */
  rowAxis: string;
  /** What the bar length counts, with its unit, e.g. "records". */
  valueAxis: string;
  /**
   * The one base that every row is a part of: each bar then also shows its share of it, and the value axis says
   * of what. Without it no percentage is shown (rows that are not parts of one whole get none).
   */
  base?: { count: number; label: string };
  /** Explains bar classes other than the plain one. */
  legend?: LegendEntry[];
}

/** Horizontal bars with a label and a count (and, given a base, a share) per row; a value axis from 0. */
export function barsSvg(rows: BarRow[], o: BarChartOptions): string {
  const w = 600;
  const rh = 18;
  const lw = 210;
  const bwMax = w - lw - 170;
  const head = 16;
  const top = Math.max(1, ...rows.map((r) => r.count));
  const body = rows.map((r, i) => {
    const y = head + i * rh;
    const bw = (r.count / top) * bwMax;
    const value = o.base ? `${formatCount(r.count)} (${formatShare(r.count, o.base.count)})` : formatCount(r.count);
    return (
      `<text x="${lw - 6}" y="${y + 13}" class="tick end">${escapeHtml(clip(r.label, 34))}</text>` +
      `<rect x="${lw}" y="${y + 3}" width="${px(bw)}" height="${rh - 6}" class="${r.cls ?? 'bar'}"><title>${escapeHtml(`${clip(r.label, 200)}: ${value}`)}</title></rect>` +
      `<text x="${px(lw + bw + 4)}" y="${y + 13}" class="tick">${escapeHtml(value)}</text>`
    );
  });
  const yAxis = head + Math.max(1, rows.length) * rh + 2;
  const unit = o.base ? `${o.valueAxis} (in brackets: % of ${o.base.label})` : o.valueAxis;
  const parts = [
    `<text x="${lw - 6}" y="11" class="axis-label end">${escapeHtml(o.rowAxis)}</text>`,
    ...body,
    `<line x1="${lw}" y1="${yAxis}" x2="${lw + bwMax}" y2="${yAxis}" class="axis"/>`,
    `<text x="${lw}" y="${yAxis + 13}" class="tick middle">0</text>`,
    `<text x="${lw + bwMax}" y="${yAxis + 13}" class="tick middle">${escapeHtml(formatCount(top))}</text>`,
    axisLabel(unit, lw + bwMax / 2, yAxis + 28),
  ];
  let h = yAxis + 34;
  if (o.legend && o.legend.length > 0) {
    const legend = legendSvg(o.legend, lw, h, w - lw);
    parts.push(legend.svg);
    h += legend.height;
  }
  return svgFigure(w, h, o.title, parts.join(''));
}

/** A drift figure's status: ok, BREACH, or why it is not gated. */
export function driftStatus(f: DriftFigure): string {
  if (f.breached) return 'BREACH';
  if (!f.gated) return `not gated: ${f.note ?? ''}`;
  return 'ok';
}

const DRIFT_LEGEND: LegendEntry[] = [
  { label: 'value within its limit', mark: { kind: 'bar', cls: 'bar' } },
  { label: 'value over its limit (breach)', mark: { kind: 'bar', cls: 'bar breach' } },
  { label: 'not gated', mark: { kind: 'bar', cls: 'bar ungated' } },
  { label: 'limit', mark: { kind: 'tick', cls: 'limit' } },
];

/**
 * One row per drift figure: the value as a bar against its limit (a tick); breached bars red, ungated ones grey.
 * Metrics differ in unit (PSI, L∞ distance, KS statistic), so each row has its own scale, from 0 to 1.25 times
 * the larger of its value and limit; the figures are printed beside the bars.
 */
export function driftSvg(report: DriftReport, title: string): string {
  const w = 600;
  const rh = 20;
  const lw = 220;
  const bwMax = w - lw - 110;
  const head = 16;
  const body = report.figures.map((f, i) => {
    const y = head + i * rh;
    const scale = Math.max(f.limit, f.value ?? 0) * 1.25;
    const bw = f.value === null || !(scale > 0) ? 0 : (f.value / scale) * bwMax;
    const lx = lw + (scale > 0 ? (f.limit / scale) * bwMax : 0);
    const cls = f.breached ? 'bar breach' : f.gated ? 'bar' : 'bar ungated';
    const label = `${figureName(f)} ${f.metric}`;
    const text = f.value === null ? 'n/a' : `${formatFigure(f.value)} / ${f.limit}`;
    return (
      `<text x="${lw - 6}" y="${y + 14}" class="tick end">${escapeHtml(clip(label, 34))}</text>` +
      `<rect x="${lw}" y="${y + 4}" width="${px(bw)}" height="${rh - 8}" class="${cls}"><title>${escapeHtml(`${label}: ${driftStatus(f)}`)}</title></rect>` +
      `<line x1="${px(lx)}" y1="${y + 1}" x2="${px(lx)}" y2="${y + rh - 1}" class="limit"/>` +
      `<text x="${px(lw + bwMax + 6)}" y="${y + 14}" class="tick${f.breached ? ' breach-text' : ''}">${escapeHtml(text)}</text>`
    );
  });
  const yAxis = head + Math.max(1, report.figures.length) * rh + 2;
  const legend = legendSvg(DRIFT_LEGEND, 10, yAxis + 34, w - 20);
  const parts = [
    `<text x="${lw - 6}" y="11" class="axis-label end">feature and metric</text>`,
    `<text x="${px(lw + bwMax + 6)}" y="11" class="axis-label start">value / limit</text>`,
    ...body,
    `<line x1="${lw}" y1="${yAxis}" x2="${lw + bwMax}" y2="${yAxis}" class="axis"/>`,
    `<text x="${lw}" y="${yAxis + 13}" class="tick middle">0</text>`,
    axisLabel('metric value; each row on its own scale (metrics differ in unit)', lw + bwMax / 2, yAxis + 28),
    legend.svg,
  ];
  return svgFigure(w, yAxis + 34 + legend.height, title, parts.join(''));
}
