/**
 * `trainset models show <model-version>`: one version with its lineage, cost, metrics, experiment record
 * (hyperparameters, trainer identity, GPU cost, per-epoch loss and metrics) and gate record.
 */
import { GATE_OVERRIDE_ACTION, latestRecordedEvaluation, type RecordedGateEvaluation } from '../gate/recheck';
import type { ModelVersion, Registry } from '../registry';
import type { ExperimentRecord, Metrics } from '../shared/types';

/** The experiment record as `models show` reads it (hyperparameters, trainer identity, cost, epochs). */
export type ShownExperiment = NonNullable<ModelVersion['experiment']> | ExperimentRecord;

/** What `models show` prints. */
export interface ModelVersionDetails extends Omit<ModelVersion, 'experiment'> {
  /** The training job's experiment record; null for versions trained before trainset recorded experiments. */
  experiment: ShownExperiment | null;
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
    experiment: v.experiment ?? null,
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
  lines.push(...experimentLines(d.experiment));
  return lines;
}

/** What `models show` prints for a version without an experiment record. */
export const NO_EXPERIMENT = 'experiment: none recorded (trained before trainset recorded experiments)';

const seconds = (x: number): string => `${Number(x.toFixed(1))} s`;
const figure = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x));

/** A hyperparameter value on one line: numbers and strings as they are, anything else as JSON. */
function hyperparameter(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** The experiment record's lines: hyperparameters, trainer identity, cost, and a table of epochs. */
export function experimentLines(x: ShownExperiment | null | undefined): string[] {
  if (!x) return [`  ${NO_EXPERIMENT}`];
  const hp = Object.entries(x.hyperparameters).sort(([a], [b]) => a.localeCompare(b));
  const devices = x.devices && x.devices.length > 0 ? ` (devices ${x.devices.join(',')})` : '';
  const cost = [
    `${figure(x.gpuSeconds)} GPU-seconds on ${x.gpus} GPU${x.gpus === 1 ? '' : 's'}${devices}`,
    `wall ${seconds(x.wallSeconds)}`,
    x.resumedFromEpoch === undefined ? 'started at epoch 0' : `resumed from epoch ${x.resumedFromEpoch}`,
  ].join(', ');
  const lines = [
    '  experiment',
    `  hyperparameters  ${hp.length === 0 ? '-' : hp.map(([k, v]) => `${k}=${hyperparameter(v)}`).join('  ')}`,
    `  trainer identity ${x.trainer.backend}: ${x.trainer.identity} (digest ${x.trainer.digest.slice(0, 12)})`,
    `  cost             ${cost}`,
  ];
  if (x.epochs.length === 0) {
    lines.push('  epochs           none reported');
    return lines;
  }
  const rows = x.epochs.map((ep) => [
    String(ep.epoch),
    ep.loss === undefined ? '-' : figure(ep.loss),
    Object.entries(ep.metrics ?? {})
      .sort(([a], [b]) => a.localeCompare(b)) // jsonb does not keep key order
      .map(([k, v]) => `${k} ${figure(v)}`)
      .join('  ') || '-',
  ]);
  const head = ['epoch', 'loss', 'metrics'];
  const width = [0, 1].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const row = (r: string[]): string => `    ${r[0]!.padStart(width[0]!)}  ${r[1]!.padStart(width[1]!)}  ${r[2]}`.trimEnd();
  lines.push(row(head), ...rows.map(row));
  return lines;
}
