/**
 * The run report's line charts: the canary steps (each arm's accuracy and the candidate's traffic) and the training
 * loss per epoch, each with a legend and labelled axes.
 */
import type { CanaryStepRecord, EpochRecord } from '../shared/types';
import {
  CHART_WIDTH,
  axisLabel,
  escapeHtml,
  formatCompact,
  formatPercent as pct,
  plotFrame,
  px,
  svgFigure,
  type LegendEntry,
} from './html';

/** The canary chart's legend: each arm's accuracy line, the traffic line and the step verdicts, drawn as in the chart. */
const CANARY_LEGEND: LegendEntry[] = [
  { label: 'candidate accuracy', mark: { kind: 'line', cls: 'series-candidate' } },
  { label: 'champion accuracy', mark: { kind: 'line', cls: 'series-champion' } },
  { label: 'traffic to the candidate', mark: { kind: 'line', cls: 'series-weight' } },
  { label: 'step passed', mark: { kind: 'dot', cls: 'dot-pass' } },
  { label: 'step did not pass', mark: { kind: 'dot', cls: 'dot-fail' } },
];

/**
 * Canary steps over time on one 0–100 % scale: each arm's accuracy on feedback (candidate solid, champion dashed)
 * and the share of traffic sent to the candidate, its dots coloured by the step's verdict.
 */
export function canarySvg(steps: CanaryStepRecord[]): string {
  const n = steps.length;
  if (n === 0) return '';
  const plotH = 160;
  const { legend, left, right, top, base: yBase } = plotFrame(CANARY_LEGEND, 56, plotH);
  const x = (i: number): number => left + (n === 1 ? (right - left) / 2 : 30 + (i / (n - 1)) * (right - left - 60));
  const y = (fraction: number): number => yBase - fraction * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1].map(
    (v) =>
      `<line x1="${left}" y1="${px(y(v))}" x2="${right}" y2="${px(y(v))}" class="${v === 0 ? 'axis' : 'grid'}"/>` +
      `<text x="${left - 4}" y="${px(y(v) + 4)}" class="tick end">${v * 100} %</text>`,
  );
  const line = (vals: Array<number | undefined>, cls: string): string => {
    const pts = vals.flatMap((v, i) => (v === undefined ? [] : [`${px(x(i))},${px(y(v))}`]));
    return pts.length > 0 ? `<polyline points="${pts.join(' ')}" class="${cls}"/>` : '';
  };
  const dots = (vals: Array<number | undefined>, cls: string, what: (st: CanaryStepRecord) => string): string =>
    vals
      .map((v, i) =>
        v === undefined
          ? ''
          : `<circle cx="${px(x(i))}" cy="${px(y(v))}" r="3" class="${cls}"><title>${escapeHtml(what(steps[i]!))}</title></circle>`,
      )
      .join('');
  const weights = steps.map((st) => st.weight / 100);
  const candidate = steps.map((st) => st.candidateAccuracy);
  const champion = steps.map((st) => st.championAccuracy);
  const verdictDots = steps
    .map(
      (st, i) =>
        `<circle cx="${px(x(i))}" cy="${px(y(st.weight / 100))}" r="5" class="${st.verdict === 'pass' ? 'dot-pass' : 'dot-fail'}"><title>${escapeHtml(`step ${st.step + 1}: ${st.weight} % of traffic to the candidate → ${st.verdict}`)}</title></circle>`,
    )
    .join('');
  const ticks = steps
    .map(
      (st, i) =>
        `<text x="${px(x(i))}" y="${yBase + 14}" class="tick middle">${escapeHtml(`step ${st.step + 1}`)}</text>` +
        `<text x="${px(x(i))}" y="${yBase + 27}" class="tick middle">${escapeHtml(`${st.weight} % · ${st.verdict}`)}</text>`,
    )
    .join('');
  const body = [
    legend,
    ...grid,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${yBase}" class="axis"/>`,
    line(weights, 'series-weight'),
    line(champion, 'series-champion'),
    line(candidate, 'series-candidate'),
    dots(
      champion,
      'dot-champion',
      (st) => `step ${st.step + 1}: champion accuracy ${pct(st.championAccuracy)} on ${st.championSamples} samples`,
    ),
    dots(
      candidate,
      'dot-candidate',
      (st) => `step ${st.step + 1}: candidate accuracy ${pct(st.candidateAccuracy)} on ${st.candidateSamples} samples`,
    ),
    verdictDots,
    ticks,
    axisLabel('canary step (traffic to the candidate · verdict)', (left + right) / 2, yBase + 44),
    axisLabel('accuracy, traffic (%)', 14, top + plotH / 2, true),
  ];
  return svgFigure(
    CHART_WIDTH,
    yBase + 50,
    'canary steps: candidate vs champion accuracy on feedback, and traffic to the candidate, per step',
    body.join(''),
  );
}

const LOSS_LEGEND: LegendEntry[] = [
  { label: 'training loss, as the trainer reports it', mark: { kind: 'line', cls: 'series-loss' } },
  { label: 'an epoch that reported its loss', mark: { kind: 'dot', cls: 'dot-loss' } },
];

/** Training loss per epoch: a polyline over epoch (x) and loss (y), labelled axes with their ranges. */
export function lossSvg(points: Array<EpochRecord & { loss: number }>): string {
  const plotH = 150;
  const { legend, left, right, top, base: yBase } = plotFrame(LOSS_LEGEND, 70, plotH);
  const h = yBase + 40;
  const first = points[0]!.epoch;
  const last = points[points.length - 1]!.epoch;
  const lo = Math.min(0, ...points.map((p) => p.loss));
  const hi = Math.max(...points.map((p) => p.loss));
  const x = (epoch: number): number => left + (last === first ? (right - left) / 2 : ((epoch - first) / (last - first)) * (right - left));
  const y = (loss: number): number => yBase - (hi === lo ? 0.5 : (loss - lo) / (hi - lo)) * plotH;
  const xy = (p: { epoch: number; loss: number }): string => `${x(p.epoch).toFixed(1)},${y(p.loss).toFixed(1)}`;
  const dots = points
    .map(
      (p) =>
        `<circle cx="${x(p.epoch).toFixed(1)}" cy="${y(p.loss).toFixed(1)}" r="3" class="dot-loss"><title>${escapeHtml(`epoch ${p.epoch}: loss ${formatCompact(p.loss)}`)}</title></circle>`,
    )
    .join('');
  return svgFigure(
    CHART_WIDTH,
    h,
    'training loss per epoch',
    legend +
      `<line x1="${left}" y1="${yBase}" x2="${right}" y2="${yBase}" class="axis"/>` +
      `<line x1="${left}" y1="${top}" x2="${left}" y2="${yBase}" class="axis"/>` +
      `<text x="${left - 6}" y="${(y(hi) + 4).toFixed(1)}" class="tick end">${escapeHtml(formatCompact(hi))}</text>` +
      `<text x="${left - 6}" y="${(y(lo) + 4).toFixed(1)}" class="tick end">${escapeHtml(formatCompact(lo))}</text>` +
      `<text x="${x(first).toFixed(1)}" y="${yBase + 14}" class="tick">${first}</text>` +
      (last === first ? '' : `<text x="${x(last).toFixed(1)}" y="${yBase + 14}" class="tick end">${last}</text>`) +
      axisLabel('epoch (training passes over the data)', (left + right) / 2, h - 6) +
      axisLabel('loss (unitless)', 14, (top + yBase) / 2, true) +
      `<polyline points="${points.map(xy).join(' ')}" class="series-loss"/>` +
      dots,
  );
}
