/**
 * The run report: one self-contained HTML page (inline CSS and SVG, no scripts or external resources) and a
 * Markdown summary per pipeline run, built from the run's status (counts, decisions) and the drift report
 * stored beside the dataset version. Never records or raw values: only counts, figures and ids.
 */
import { CSS, barsSvg, driftSvg, escapeHtml, htmlTable } from '../datasets/dataset-card';
import type { DriftReport } from '../quality/drift';
import type { CanaryStepRecord, EpochRecord, ExperimentRecord, PipelineStatus } from '../shared/types';

/** What a report is built from. */
export interface RunReportInput {
  workflowId: string;
  runId: string;
  status: PipelineStatus;
  /** When the run started and when the report was written (ISO-8601). */
  startedAt?: string;
  finishedAt: string;
  /** The version's drift against the previous one, when the quality stage computed it. */
  drift?: DriftReport;
  /** Where the dataset card lives (a blob URI or key). */
  cardKey?: string;
  /** The experiment record of the run's model version (its loss curve); absent or null when it has none. */
  experiment?: Pick<ExperimentRecord, 'epochs' | 'resumedFromEpoch'> | null;
}

const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const int = (n: number): string => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Record accounting as labeled bars: in, accepted, quarantined by reason, PII-dropped, duplicates, labeled. */
function accountingRows(s: PipelineStatus): Array<{ label: string; count: number }> {
  const rows: Array<{ label: string; count: number }> = [];
  if (s.ingest) {
    rows.push({ label: 'records in', count: s.ingest.recordsIn }, { label: 'accepted', count: s.ingest.accepted });
    for (const [reason, n] of Object.entries(s.ingest.byReason).sort((a, b) => b[1] - a[1])) {
      rows.push({ label: `quarantined: ${reason}`, count: n });
    }
  }
  if (s.pii) {
    if (s.pii.droppedRecords) rows.push({ label: 'dropped by PII policy', count: s.pii.droppedRecords });
    if (s.pii.quarantined) rows.push({ label: 'quarantined: PII scan', count: s.pii.quarantined });
  }
  if (s.dedupe) rows.push({ label: 'duplicates', count: s.dedupe.duplicates });
  if (s.labeling) rows.push({ label: 'labeled', count: s.labeling.labeled });
  if (s.datasetVersion) rows.push({ label: 'rows in the version', count: s.datasetVersion.rows });
  return rows;
}

function piiRows(s: PipelineStatus): Array<{ label: string; count: number }> {
  return Object.entries(s.pii?.findings ?? {})
    .map(([label, count]) => ({ label, count: count ?? 0 }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

/** Candidate vs champion on the same test split: the overall metrics and, when recorded, each slice. */
function metricRows(s: PipelineStatus): string[][] {
  const ev = s.evaluation;
  if (!ev) return [];
  const rows: string[][] = [];
  const c = ev.candidate as unknown as Record<string, unknown>;
  const ch = ev.champion?.metrics as unknown as Record<string, unknown> | undefined;
  for (const m of ['accuracy', 'macroF1', 'rocAuc', 'ece']) {
    if (typeof c[m] !== 'number' && typeof ch?.[m] !== 'number') continue;
    rows.push(['all', m, pct(c[m] as number | undefined), ch ? pct(ch[m] as number | undefined) : '—']);
  }
  const slices = (c.slices ?? {}) as Record<string, Record<string, number>>;
  const champSlices = (ch?.slices ?? {}) as Record<string, Record<string, number>>;
  for (const [slice, metrics] of Object.entries(slices)) {
    for (const m of ['accuracy', 'macroF1']) {
      if (typeof metrics[m] === 'number') rows.push([slice, m, pct(metrics[m]), pct(champSlices[slice]?.[m])]);
    }
  }
  return rows;
}

/** Canary steps over time: weight per step, with each arm's accuracy on feedback. */
function canarySvg(steps: CanaryStepRecord[]): string {
  const w = 600;
  const h = 140;
  const n = steps.length;
  if (n === 0) return '';
  const x = (i: number): number => 40 + (n === 1 ? 0 : (i / (n - 1)) * (w - 80));
  const y = (v: number): number => h - 10 - v * (h - 30);
  const line = (vals: Array<number | undefined>, cls: string): string => {
    const pts = vals.map((v, i) => (v === undefined ? undefined : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter((p) => p !== undefined);
    return pts.length > 0 ? `<polyline points="${pts.join(' ')}" class="${cls}" fill="none"/>` : '';
  };
  const dots = steps
    .map(
      (st, i) =>
        `<circle cx="${x(i).toFixed(1)}" cy="${y(st.weight / 100).toFixed(1)}" r="4" class="${st.verdict === 'pass' ? 'bar' : 'bar breach'}"><title>${escapeHtml(`step ${st.step + 1}: ${st.weight}% → ${st.verdict}`)}</title></circle>` +
        `<text x="${x(i).toFixed(1)}" y="${h + 4}" class="tick">${escapeHtml(`${st.weight}% ${st.verdict}`)}</text>`,
    )
    .join('');
  return (
    `<svg viewBox="0 0 ${w} ${h + 10}" width="${w}" height="${h + 10}" role="img" aria-label="canary steps"><title>canary steps: weight (dots), candidate accuracy (solid), champion accuracy (dashed)</title>` +
    `<line x1="30" y1="${y(0)}" x2="${w - 20}" y2="${y(0)}" class="axis"/>` +
    line(
      steps.map((s) => s.weight / 100),
      'limit',
    ) +
    line(
      steps.map((s) => s.candidateAccuracy),
      'limit',
    ) +
    line(
      steps.map((s) => s.championAccuracy),
      'axis',
    ) +
    dots +
    '</svg>'
  );
}

/** The epochs that reported a finite loss, in epoch order. */
function lossPoints(experiment: RunReportInput['experiment']): Array<EpochRecord & { loss: number }> {
  return (experiment?.epochs ?? [])
    .filter((ep): ep is EpochRecord & { loss: number } => typeof ep.loss === 'number' && Number.isFinite(ep.loss))
    .sort((a, b) => a.epoch - b.epoch);
}

/** Compact number for axis ticks and tables. */
const fig = (v: number): string =>
  Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.001) ? v.toExponential(2) : String(Number(v.toPrecision(4)));

/** Training loss per epoch: a polyline over epoch (x) and loss (y), labelled axes with their ranges. */
function lossSvg(points: Array<EpochRecord & { loss: number }>): string {
  const w = 600;
  const h = 180;
  const left = 70;
  const right = 20;
  const top = 10;
  const bottom = 40;
  const first = points[0]!.epoch;
  const last = points[points.length - 1]!.epoch;
  const lo = Math.min(0, ...points.map((p) => p.loss));
  const hi = Math.max(...points.map((p) => p.loss));
  const x = (epoch: number): number =>
    left + (last === first ? (w - left - right) / 2 : ((epoch - first) / (last - first)) * (w - left - right));
  const y = (loss: number): number => h - bottom - (hi === lo ? 0.5 : (loss - lo) / (hi - lo)) * (h - top - bottom);
  const xy = (p: { epoch: number; loss: number }): string => `${x(p.epoch).toFixed(1)},${y(p.loss).toFixed(1)}`;
  const dots = points
    .map(
      (p) =>
        `<circle cx="${x(p.epoch).toFixed(1)}" cy="${y(p.loss).toFixed(1)}" r="3" class="bar"><title>${escapeHtml(`epoch ${p.epoch}: loss ${fig(p.loss)}`)}</title></circle>`,
    )
    .join('');
  const x0 = left;
  const yBase = h - bottom;
  return (
    `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="training loss per epoch"><title>training loss per epoch</title>` +
    `<line x1="${x0}" y1="${yBase}" x2="${w - right}" y2="${yBase}" class="axis"/>` +
    `<line x1="${x0}" y1="${top}" x2="${x0}" y2="${yBase}" class="axis"/>` +
    `<text x="${x0 - 6}" y="${(y(hi) + 4).toFixed(1)}" class="tick end">${escapeHtml(fig(hi))}</text>` +
    `<text x="${x0 - 6}" y="${(y(lo) + 4).toFixed(1)}" class="tick end">${escapeHtml(fig(lo))}</text>` +
    `<text x="${x(first).toFixed(1)}" y="${yBase + 14}" class="tick">${first}</text>` +
    (last === first ? '' : `<text x="${x(last).toFixed(1)}" y="${yBase + 14}" class="tick end">${last}</text>`) +
    `<text x="${((x0 + w - right) / 2).toFixed(1)}" y="${h - 6}" class="tick">epoch</text>` +
    `<text x="14" y="${((top + yBase) / 2).toFixed(1)}" class="tick" transform="rotate(-90 14 ${((top + yBase) / 2).toFixed(1)})">loss</text>` +
    `<polyline points="${points.map(xy).join(' ')}" class="limit" fill="none"/>` +
    dots +
    '</svg>'
  );
}

/** The run report as Markdown. */
export function renderRunReportMarkdown(r: RunReportInput): string {
  const s = r.status;
  const out: string[] = [];
  out.push(`# Run ${r.workflowId}`, '');
  out.push(`- outcome: **${s.outcome ?? 'unfinished'}**${s.error ? ` — ${s.error}` : ''}`);
  out.push(`- dataset: \`${s.dataset}\`, logical date ${s.logicalDate ?? 'n/a'}, run id \`${r.runId}\``);
  if (r.startedAt) out.push(`- started ${r.startedAt}, report written ${r.finishedAt}`);
  if (s.datasetVersion) out.push(`- dataset version \`${s.datasetVersion.versionId}\` (${int(s.datasetVersion.rows)} rows)`);
  if (s.modelVersion) out.push(`- model version \`${s.modelVersion.modelVersionId}\``);
  if (r.cardKey) out.push(`- dataset card: ${r.cardKey}`);
  out.push('', '## Record accounting', '', '| | records |', '| --- | ---: |');
  for (const row of accountingRows(s)) out.push(`| ${row.label.replace(/\|/g, '\\|')} | ${int(row.count)} |`);
  const pii = piiRows(s);
  if (pii.length > 0) {
    out.push('', '## PII findings by type', '', '| type | findings |', '| --- | ---: |');
    for (const p of pii) out.push(`| ${p.label} | ${int(p.count)} |`);
  }
  if (r.drift) {
    out.push(
      '',
      '## Drift against the previous version',
      '',
      '| feature | metric | value | limit | gated |',
      '| --- | --- | ---: | ---: | --- |',
    );
    for (const f of r.drift.figures) {
      out.push(
        `| ${f.feature} | ${f.metric} | ${f.value === null ? 'n/a' : f.value.toFixed(4)} | ${f.limit} | ${f.breached ? '**breached**' : f.gated ? 'yes' : 'no'} |`,
      );
    }
  }
  const metrics = metricRows(s);
  if (metrics.length > 0) {
    out.push(
      '',
      '## Candidate vs champion (same test split)',
      '',
      '| slice | metric | candidate | champion |',
      '| --- | --- | ---: | ---: |',
    );
    for (const m of metrics) out.push(`| ${m.join(' | ')} |`);
  }
  if (s.gate) out.push('', `Gate: ${s.gate.passed ? 'passed' : 'failed'}${s.gate.reasons.length ? ` — ${s.gate.reasons.join('; ')}` : ''}`);
  const loss = lossPoints(r.experiment);
  if (loss.length > 0) {
    out.push('', '## Training loss', '', '| epoch | loss |', '| ---: | ---: |');
    for (const p of loss) out.push(`| ${p.epoch} | ${fig(p.loss)} |`);
  }
  if (s.canary.length > 0) {
    out.push(
      '',
      '## Canary',
      '',
      '| step | weight | verdict | candidate acc. | champion acc. | samples |',
      '| ---: | ---: | --- | ---: | ---: | ---: |',
    );
    for (const c of s.canary) {
      out.push(
        `| ${c.step + 1} | ${c.weight} % | ${c.verdict} | ${pct(c.candidateAccuracy)} | ${pct(c.championAccuracy)} | ${c.candidateSamples}/${c.championSamples} |`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** The run report as one self-contained HTML page. */
export function renderRunReportHtml(r: RunReportInput): string {
  const s = r.status;
  const e = escapeHtml;
  const facts: string[][] = [
    [
      'Outcome',
      `<span class="${s.outcome === 'rolled_back' || s.outcome === 'rejected' || s.error ? 'failed' : 'passed'}">${e(s.outcome ?? 'unfinished')}</span>${s.error ? ` — ${e(s.error)}` : ''}`,
    ],
    ['Dataset', `<code>${e(s.dataset)}</code> · logical date ${e(s.logicalDate ?? 'n/a')}`],
    ['Run', `<code>${e(r.workflowId)}</code> / <code>${e(r.runId)}</code>`],
    ['Written', e(`${r.startedAt ? `started ${r.startedAt}, ` : ''}report ${r.finishedAt}`)],
  ];
  if (s.datasetVersion)
    facts.push(['Dataset version', `<code>${e(s.datasetVersion.versionId)}</code> (${e(int(s.datasetVersion.rows))} rows)`]);
  if (s.modelVersion) facts.push(['Model version', `<code>${e(s.modelVersion.modelVersionId)}</code>`]);
  if (r.cardKey) facts.push(['Dataset card', `<code>${e(r.cardKey)}</code>`]);
  const parts = [`<h1>${e(`Run report: ${r.workflowId}`)}</h1>`, htmlTable(['', ''], facts)];
  const acc = accountingRows(s);
  if (acc.length > 0) parts.push('<h2>Record accounting</h2>', barsSvg(acc, s.ingest?.recordsIn ?? acc[0]!.count, 'record accounting'));
  const pii = piiRows(s);
  if (pii.length > 0)
    parts.push(
      '<h2>PII findings by type</h2>',
      barsSvg(
        pii,
        pii.reduce((a, p) => a + p.count, 0),
        'PII findings by type',
      ),
    );
  if (r.drift) parts.push('<h2>Drift per feature (against the previous version)</h2>', driftSvg(r.drift, 'drift per feature'));
  const metrics = metricRows(s);
  if (metrics.length > 0) {
    parts.push(
      '<h2>Metrics vs champion (same test split)</h2>',
      htmlTable(
        ['slice', 'metric', 'candidate', 'champion'],
        metrics.map((m) => m.map((c) => e(c))),
      ),
    );
  }
  if (s.gate)
    parts.push(
      `<p>Gate: <span class="${s.gate.passed ? 'passed' : 'failed'}">${s.gate.passed ? 'passed' : 'failed'}</span> ${e(s.gate.reasons.join('; '))}</p>`,
    );
  const loss = lossPoints(r.experiment);
  if (loss.length > 0) {
    const resumed = r.experiment?.resumedFromEpoch;
    parts.push(
      `<h2>Training loss</h2>`,
      `<p class="meta">${e(`model version ${s.modelVersion?.modelVersionId ?? ''}`.trim())}${resumed === undefined ? '' : e(`; the finishing attempt resumed from epoch ${resumed}`)}</p>`,
      lossSvg(loss),
    );
  }
  if (s.canary.length > 0) {
    parts.push(
      '<h2>Canary steps over time</h2>',
      canarySvg(s.canary),
      htmlTable(
        ['step', 'weight', 'verdict', 'candidate acc.', 'champion acc.', 'samples', 'reasons'],
        s.canary.map((c) => [
          e(String(c.step + 1)),
          e(`${c.weight} %`),
          e(c.verdict),
          e(pct(c.candidateAccuracy)),
          e(pct(c.championAccuracy)),
          e(`${c.candidateSamples}/${c.championSamples}`),
          e(c.reasons.join('; ')),
        ]),
      ),
    );
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(`Run report: ${r.workflowId}`)}</title><style>${CSS}</style></head><body><main>${parts.join('\n')}</main></body></html>\n`;
}
