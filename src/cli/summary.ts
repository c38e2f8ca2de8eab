/** Human-readable lines for a pipeline status and result (demo, `trainset status`). */
import type { PipelineStatus, RetrainResult } from '../shared/types';

const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(x * 100).toFixed(1)}%`);

type DriftTop = NonNullable<NonNullable<PipelineStatus['quality']>['drift']>;

/**
 * The drift part of the quality line: the largest gated figure against its limit, and apart from it the largest
 * figure recorded but not gated (a timestamp moves every day by nature: it is no breach, and must not read as one).
 */
export function driftSummary(d: DriftTop): string {
  const fig = (f: DriftTop['top'][number]): string => `${f.feature} ${f.metric}=${f.value.toFixed(3)}`;
  const gated = d.top.find((f) => f.gated);
  const ungated = d.top.find((f) => !f.gated);
  return (
    `${d.figures} figures, ${d.gated} gated, largest gated ${gated ? `${fig(gated)} (limit ${gated.limit})` : 'n/a'}` +
    (ungated ? `; largest not gated: ${fig(ungated)}` : '')
  );
}

/** One short progress line for the current stage. */
export function progressLine(s: PipelineStatus): string {
  switch (s.stage) {
    case 'ingest':
      return 'ingest: validating records';
    case 'pii':
      return `ingest: ${s.ingest?.recordsIn ?? 0} in, ${s.ingest?.accepted ?? 0} accepted, ${s.ingest?.quarantined ?? 0} quarantined; PII scan`;
    case 'labeling':
      return `labeling: ${s.labeling?.labeled ?? 0}/${s.labeling?.total ?? 0} labeled`;
    case 'canary': {
      const last = s.canary[s.canary.length - 1];
      return last ? `canary: step ${last.step + 1} at ${last.weight}% → ${last.verdict}` : 'canary: starting';
    }
    default:
      return s.stage;
  }
}

/** The full summary of a finished run. */
export function summaryLines(r: RetrainResult, extra: { uiUrl?: string; workflowId: string }): string[] {
  const s = r.status;
  const out: string[] = [];
  out.push(`run ${extra.workflowId}: ${r.outcome.toUpperCase()}${s.error ? ` (${s.error})` : ''}`);
  out.push(
    `  dataset version    ${r.datasetVersionId}${s.datasetVersion ? ` (${s.datasetVersion.rows} rows over ${s.datasetVersion.partitions.length} partition(s), ${s.datasetVersion.objectsWritten} new objects)` : ''}`,
  );
  if (s.ingest) {
    const reasons = Object.entries(s.ingest.byReason)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    out.push(
      `  records            in ${s.ingest.recordsIn} / accepted ${s.ingest.accepted} / quarantined ${s.ingest.quarantined}${reasons ? ` (${reasons})` : ''}`,
    );
  }
  if (s.pii) {
    const f =
      Object.entries(s.pii.findings)
        .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0) || a[0].localeCompare(b[0]))
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'none';
    const q = s.pii.quarantined ? `; ${s.pii.quarantined} quarantined (scan could not finish)` : '';
    out.push(`  PII findings       ${f}${s.pii.droppedRecords ? `; ${s.pii.droppedRecords} records dropped` : ''}${q}`);
  }
  if (s.dedupe) out.push(`  duplicates         ${s.dedupe.duplicates} dropped`);
  if (s.labeling) out.push(`  labels             ${s.labeling.labeled}/${s.labeling.total}`);
  if (s.datasetVersion?.bytesWritten !== undefined) {
    out.push(
      `  storage            ${(s.datasetVersion.bytesWritten / 1024).toFixed(0)} KiB new, ${s.datasetVersion.reusedChunks ?? 0} chunk(s) shared with the previous version`,
    );
  }
  if (s.quality) {
    const d = s.quality.drift;
    out.push(
      `  quality            split ${s.quality.trainRows}/${s.quality.validationRows}/${s.quality.testRows}` +
        (d ? `; drift vs ${d.against}: ${driftSummary(d)}` : '; no previous version to compare'),
    );
    if (s.quality.cardKey) out.push(`  dataset card       ${s.quality.cardKey}`);
  }
  if (s.evaluation) {
    const c = s.evaluation.candidate;
    const ch = s.evaluation.champion;
    out.push(
      `  candidate          ${r.modelVersionId ?? '?'}: accuracy ${pct(c.accuracy)}, macro-F1 ${pct(c.macroF1)} on ${c.n} test records`,
    );
    out.push(
      ch
        ? `  champion           ${ch.modelVersionId}: accuracy ${pct(ch.metrics.accuracy)}, macro-F1 ${pct(ch.metrics.macroF1)} (same test split)`
        : '  champion           none (first model: absolute gates only)',
    );
  }
  if (s.gate)
    out.push(
      `  gate               ${s.gate.passed ? 'passed' : s.gate.overridden ? 'FAILED, overridden' : 'FAILED'} (${s.gate.rule})${s.gate.reasons.length ? `: ${s.gate.reasons.join('; ')}` : ''}`,
    );
  for (const c of s.canary) {
    out.push(
      `  canary step ${c.step + 1}      ${c.weight}% → ${c.verdict}; candidate ${pct(c.candidateAccuracy)} on ${c.candidateSamples}, champion ${pct(c.championAccuracy)} on ${c.championSamples}${c.reasons.length ? ` (${c.reasons.join('; ')})` : ''}`,
    );
  }
  out.push(`  champion now       ${r.champion ?? 'none'}`);
  if (extra.uiUrl) out.push(`  inspect            ${extra.uiUrl}/namespaces/default/workflows/${encodeURIComponent(extra.workflowId)}`);
  return out;
}
