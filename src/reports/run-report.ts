/**
 * The run report: one self-contained HTML page (inline CSS and SVG, no scripts or external resources) and a
 * Markdown summary per pipeline run, built from the run's status (counts, decisions) and the drift report
 * stored beside the dataset version. Never records or raw values: only counts, figures and ids.
 */
import type { DriftReport } from '../quality/drift';
import type { LabelLatencyStats } from '../registry/label-stats';
import type { EpochRecord, ExperimentRecord, PipelineStatus } from '../shared/types';
import {
  CSS,
  barsSvg,
  driftSvg,
  escapeHtml,
  formatCompact,
  formatCount as int,
  formatPercent as pct,
  htmlTable,
  type BarRow,
} from './html';
import { canarySvg, lossSvg } from './run-charts';

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
  /** Created → labeled per label source of the run's label tasks (M13). */
  labelLatency?: LabelLatencyStats[];
}

/**
 * The run's partition through the stages: records in, accepted, quarantined by reason, PII-dropped, duplicates,
 * labeled. Every row is a part of the partition's records in (one base for all of them); the dataset version's
 * rows span its whole window, a different base, and are reported apart ({@link versionNote}).
 */
function accountingRows(s: PipelineStatus): BarRow[] {
  const rows: BarRow[] = [];
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
  if (s.labeling) rows.push({ label: `labeled (of ${int(s.labeling.total)} to label)`, count: s.labeling.labeled });
  return rows;
}

/** The dataset version's size: rows over its window of partitions, not a part of this partition's records. */
function versionNote(s: PipelineStatus): string | undefined {
  const v = s.datasetVersion;
  if (!v) return undefined;
  const n = v.partitions.length;
  return `The dataset version ${v.versionId} holds ${int(v.rows)} rows from ${n} partition${n === 1 ? '' : 's'} (its window), a different base from the records above.`;
}

function piiRows(s: PipelineStatus): BarRow[] {
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

/** The epochs that reported a finite loss, in epoch order. */
function lossPoints(experiment: RunReportInput['experiment']): Array<EpochRecord & { loss: number }> {
  return (experiment?.epochs ?? [])
    .filter((ep): ep is EpochRecord & { loss: number } => typeof ep.loss === 'number' && Number.isFinite(ep.loss))
    .sort((a, b) => a.epoch - b.epoch);
}

/** A duration in seconds, in the unit that reads best (s, min, h). */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The labeling function's audit (M1) as a sentence, when the run had one. */
function auditNote(s: PipelineStatus): string | undefined {
  const a = s.labeling?.audit;
  if (!a) return undefined;
  const share = a.sampled > 0 ? `${pct(a.agreed / a.sampled)} agreed` : 'no estimate';
  return `Labeling function ${a.labeler} on the ${int(a.sampled)} source-labelled records it labeled: ${int(a.agreed)} agreed (${share}).`;
}

/** Label latency per source: labels, p50, p95. */
function latencyRows(r: RunReportInput): string[][] {
  return (r.labelLatency ?? []).map((l) => [l.source, int(l.count), duration(l.p50Seconds), duration(l.p95Seconds)]);
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
  const version = versionNote(s);
  if (version) out.push('', version);
  const audit = auditNote(s);
  const latency = latencyRows(r);
  if (audit || latency.length > 0) {
    out.push('', '## Labels');
    if (audit) out.push('', audit);
    if (latency.length > 0) {
      out.push('', '| label source | labels | latency p50 | latency p95 |', '| --- | ---: | ---: | ---: |');
      for (const row of latency) out.push(`| ${row.join(' | ')} |`);
    }
  }
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
    for (const p of loss) out.push(`| ${p.epoch} | ${formatCompact(p.loss)} |`);
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
  const version = versionNote(s);
  if (acc.length > 0) {
    const partition = s.logicalDate ? `partition ${s.logicalDate}` : "the run's partition";
    const base = s.ingest ? { count: s.ingest.recordsIn, label: `the ${int(s.ingest.recordsIn)} records in` } : undefined;
    parts.push(
      '<h2>Record accounting</h2>',
      `<p class="meta">${e(`Records of ${partition} through each stage${base ? `; percentages are of the ${int(base.count)} records in` : ''}.`)}</p>`,
      barsSvg(acc, {
        title: `record accounting of ${partition}: records per stage`,
        rowAxis: 'stage',
        valueAxis: 'records',
        base,
      }),
    );
  }
  if (version) parts.push(`<p>${e(version)}</p>`);
  const audit = auditNote(s);
  const latency = latencyRows(r);
  if (audit || latency.length > 0) parts.push('<h2>Labels</h2>');
  if (audit) parts.push(`<p>${e(audit)}</p>`);
  if (latency.length > 0) {
    parts.push(
      htmlTable(
        ['label source', 'labels', 'latency p50 (created → labeled)', 'latency p95'],
        latency.map((row) => row.map((c) => e(c))),
      ),
    );
  }
  const pii = piiRows(s);
  if (pii.length > 0) {
    const total = pii.reduce((a, p) => a + p.count, 0);
    parts.push(
      '<h2>PII findings by type</h2>',
      barsSvg(pii, {
        title: 'PII findings by type: values found per type',
        rowAxis: 'PII type',
        valueAxis: 'findings (values found; a record can hold several)',
        base: { count: total, label: `all ${int(total)} findings` },
      }),
    );
  }
  if (r.drift) {
    parts.push(
      '<h2>Drift per feature (against the previous version)</h2>',
      driftSvg(r.drift, "drift per feature against the previous version: each figure's value against its limit"),
    );
  }
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
