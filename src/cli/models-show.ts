/** `trainset models show <model-version>`: one version with its lineage, cost, metrics and gate record. */
import { GATE_OVERRIDE_ACTION, latestRecordedEvaluation, type RecordedGateEvaluation } from '../gate/recheck';
import type { ModelVersion, Registry } from '../registry';
import type { Metrics } from '../shared/types';

/** What `models show` prints. */
export interface ModelVersionDetails extends ModelVersion {
  artifactUri: string;
  /** Aliases (champion, candidate) pointing at this version now. */
  aliases: string[];
  trainingSeconds?: number;
  codeVersion?: string;
  /** The latest recorded gate evaluation (test-split metrics vs the champion, policy, verdict). */
  gate?: RecordedGateEvaluation;
  overrides: Array<{ actor: string; at: string; reason: string }>;
}

/** Gather a version's details from the registry; artifact URIs are made absolute with the blob store's base URI. */
export async function modelVersionDetails(registry: Registry, blobsUri: string, id: string): Promise<ModelVersionDetails> {
  const v = await registry.models.getVersion(id);
  if (!v) throw new Error(`no model version ${id} (see: npx trainset models list <dataset>)`);
  const aliases: string[] = [];
  for (const alias of ['champion', 'candidate']) {
    if ((await registry.models.getAlias(v.model, alias))?.id === v.id) aliases.push(alias);
  }
  const audit = await registry.audit.list(v.id);
  const details: ModelVersionDetails = {
    ...v,
    artifactUri: `${blobsUri.replace(/\/+$/, '')}/${v.artifactKey}`,
    aliases,
    gate: latestRecordedEvaluation(v.id, audit),
    overrides: audit
      .filter((a) => a.action === GATE_OVERRIDE_ACTION)
      .map((a) => ({ actor: a.actor, at: a.at, reason: String(a.details.reason ?? '') })),
  };
  if (typeof v.trainer.seconds === 'number') details.trainingSeconds = v.trainer.seconds;
  if (typeof v.trainer.codeVersion === 'string') details.codeVersion = v.trainer.codeVersion;
  return details;
}

const f3 = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(3));

/** One line of headline metrics. */
export function metricsLine(m: Metrics): string {
  const extra = [m.rocAuc === undefined ? '' : `  ROC-AUC ${f3(m.rocAuc)}`, m.ece === undefined ? '' : `  ECE ${f3(m.ece)}`].join('');
  return `accuracy ${f3(m.accuracy)}  macro-F1 ${f3(m.macroF1)}${extra}  (n ${m.n})`;
}

/** Human-readable lines of a version's details. */
export function modelVersionLines(d: ModelVersionDetails): string[] {
  const asMetrics = (x: unknown): Metrics | undefined =>
    typeof x === 'object' && x !== null && typeof (x as Metrics).accuracy === 'number' ? (x as Metrics) : undefined;
  const train = asMetrics(d.metrics.train);
  const validation = asMetrics(d.metrics.validation);
  const trainerWorkflow = typeof d.trainer.workflowId === 'string' ? ` by workflow ${d.trainer.workflowId}` : '';
  const lines = [
    `${d.id}  ${d.model} v${d.version}  ${d.status}${d.aliases.length > 0 ? `  [${d.aliases.join(', ')}]` : ''}`,
    `  created          ${d.createdAt}`,
    `  artifact         ${d.artifactUri}`,
    `  dataset version  ${d.datasetVersion}`,
    `  trainer          ${String(d.trainer.kind ?? '-')}${trainerWorkflow}${typeof d.trainer.epochs === 'number' ? `, ${d.trainer.epochs} epochs` : ''}`,
    `  code version     ${d.codeVersion ?? '-'}`,
    `  training cost    ${d.trainingSeconds === undefined ? '-' : `${d.trainingSeconds.toFixed(1)} s`}`,
  ];
  if (train) lines.push(`  train            ${metricsLine(train)}`);
  if (validation) lines.push(`  validation       ${metricsLine(validation)}`);
  const g = d.gate;
  if (g) {
    const test = g.evaluation.candidate;
    lines.push(`  test             ${metricsLine(test)}`);
    const champ = g.evaluation.champion;
    if (champ) lines.push(`  champion (test)  ${metricsLine(champ.metrics)}  ${champ.modelVersionId}`);
    for (const [cls, c] of Object.entries(test.perClass ?? {})) {
      lines.push(
        `    ${cls.padEnd(14)} precision ${f3(c.precision)}  recall ${f3(c.recall)}  ROC-AUC ${f3(c.rocAuc)}  (support ${c.support})`,
      );
    }
    for (const [field, byValue] of Object.entries(test.slices ?? {})) {
      lines.push(`  slices by ${field}`);
      for (const [value, m] of Object.entries(byValue)) lines.push(`    ${value.padEnd(14)} ${metricsLine(m)}`);
    }
    lines.push(
      `  gate             ${g.decision.passed ? 'passed' : 'failed'} (${g.decision.rule})`,
      ...g.decision.reasons.map((r) => `    - ${r}`),
    );
  } else {
    lines.push('  gate             no recorded evaluation');
  }
  for (const o of d.overrides) lines.push(`  override         by ${o.actor} at ${o.at}: ${o.reason}`);
  return lines;
}
