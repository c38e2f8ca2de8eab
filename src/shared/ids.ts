/** A dataset name: lowercase letters, digits, "-" or "_", starting with a letter, at most 63 characters. */
export const DATASET_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** Workflow id of the retraining run for one dataset partition (a logical date, YYYY-MM-DD). */
export function retrainWorkflowId(dataset: string, logicalDate: string): string {
  return `retrain-${dataset}-${logicalDate}`;
}

/** Schedule id of a dataset's nightly retraining. */
export function nightlyScheduleId(dataset: string): string {
  return `trainset-nightly-${dataset}`;
}

/** Blob key prefix of a raw partition. */
export function rawPartitionPrefix(dataset: string, partition: string): string {
  return `raw/${dataset}/${partition}/`;
}

/**
 * Name of the model trained from a dataset: the spec's `model` when it names one, else `<dataset>-classifier`.
 * Pass the spec wherever one is loaded; a dataset name alone gives the default.
 */
export function modelNameFor(specOrDataset: string | { dataset: string; model?: string }): string {
  if (typeof specOrDataset === 'string') return `${specOrDataset}-classifier`;
  return specOrDataset.model ?? `${specOrDataset.dataset}-classifier`;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** True when s is a calendar date written YYYY-MM-DD. */
export function isLogicalDate(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}

/** The date `days` before (negative: after) a YYYY-MM-DD date. */
export function shiftDate(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

/** Workflow id of rolling back a promoted model version: one per (model, version), so a repeat is refused or a no-op. */
export function rollbackWorkflowId(model: string, fromVersion: string): string {
  return `rollback-${model}-${fromVersion}`;
}

/** Workflow id of a backfill over from … to (one at a time per range; a finished one may be started again). */
export function backfillWorkflowId(dataset: string, from: string, to: string): string {
  return `backfill-${dataset}-${from}-${to}`;
}

/** Workflow id of a served model's monitor (monitorWorkflow): one per model, so a second start finds the running one. */
export function monitorWorkflowId(model: string): string {
  return `monitor-${model}`;
}
