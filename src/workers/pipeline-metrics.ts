/**
 * The pipeline's own Prometheus metrics (prefix `trainset_`), on a registry of their own, and how each
 * activity's result updates them. The activities stay unaware: the metrics interceptor calls
 * recordActivityResult after an activity succeeds and recordActivityFailure when it throws.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunReportRequest, RunReportResult } from '../activities/report';
import type { MonitorWindowResult } from '../activities/monitor';
import { MONITOR_BREACH_KINDS } from '../shared/monitor-kinds';
import type {
  DatasetVersionRef,
  DedupeResult,
  IngestResult,
  LabelCoverage,
  PiiResult,
  QualityResult,
  SubmitLabelsResult,
  TrainResult,
} from '../shared/types';

/** Every pipeline metric, by role. */
export interface PipelineMetrics {
  registry: Registry;
  recordsIn: Counter<'dataset'>;
  recordsAccepted: Counter<'dataset'>;
  recordsQuarantined: Counter<'dataset' | 'stage' | 'reason'>;
  piiFindings: Counter<'dataset' | 'entity'>;
  piiDroppedRecords: Counter<'dataset'>;
  duplicates: Counter<'dataset' | 'scope'>;
  versions: Counter<'dataset' | 'created'>;
  versionBytesWritten: Counter<'dataset'>;
  versionReusedChunks: Gauge<'dataset'>;
  versionRows: Gauge<'dataset'>;
  driftScore: Gauge<'dataset' | 'feature'>;
  driftGated: Gauge<'dataset'>;
  trainingSeconds: Histogram<'dataset'>;
  validationAccuracy: Gauge<'dataset'>;
  gateDecisions: Counter<'dataset' | 'decision'>;
  canarySteps: Counter<'model' | 'weight'>;
  canaryWeight: Gauge<'model'>;
  canaryVerdicts: Counter<'dataset' | 'verdict'>;
  monitorWindows: Counter<'model'>;
  monitorLiveAccuracy: Gauge<'model'>;
  monitorFeedback: Gauge<'model'>;
  monitorRequests: Gauge<'model'>;
  monitorErrorRate: Gauge<'model'>;
  monitorP95: Gauge<'model'>;
  monitorPredictionShift: Gauge<'model'>;
  monitorDrift: Gauge<'model' | 'feature'>;
  monitorSkew: Gauge<'model' | 'feature'>;
  monitorBreaches: Counter<'model' | 'kind'>;
  monitorStreak: Gauge<'model' | 'kind'>;
  monitorActions: Counter<'model' | 'action' | 'kind'>;
  monitorDataFreshness: Gauge<'model'>;
  labelTasksPending: Gauge<'dataset' | 'partition'>;
  labelAccuracy: Gauge<'dataset' | 'labeler'>;
  labelAudited: Counter<'dataset' | 'labeler' | 'outcome'>;
  labelLatency: Histogram<'dataset' | 'source'>;
  canaryDecisions: Counter<'model' | 'decision'>;
  runs: Counter<'dataset' | 'outcome'>;
  activityFailures: Counter<'activity' | 'error_type'>;
  backfillPartitions: Gauge<'backfill' | 'state'>;
  scheduleMissed: Counter<'schedule'>;
  scheduleOverlapSkipped: Counter<'schedule'>;
  schedulePaused: Gauge<'schedule'>;
}

/** Create the metrics on a fresh registry (never the global one: several stacks may share a process). */
export function createPipelineMetrics(): PipelineMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
    new Gauge({ name, help, labelNames, registers });
  return {
    registry,
    recordsIn: counter('trainset_records_in_total', 'Raw records read by ingest.', ['dataset']),
    recordsAccepted: counter('trainset_records_accepted_total', 'Records that passed the contract at ingest.', ['dataset']),
    recordsQuarantined: counter('trainset_records_quarantined_total', 'Records quarantined, by stage (ingest, pii) and reason.', [
      'dataset',
      'stage',
      'reason',
    ]),
    piiFindings: counter('trainset_pii_findings_total', 'PII findings by entity type.', ['dataset', 'entity']),
    piiDroppedRecords: counter('trainset_pii_dropped_records_total', 'Records dropped by a drop_record PII policy.', ['dataset']),
    duplicates: counter(
      'trainset_duplicates_total',
      'Duplicates dropped by dedupe; scope is partition (within it) or cross_partition (of earlier partitions).',
      ['dataset', 'scope'],
    ),
    versions: counter('trainset_dataset_versions_total', 'Dataset version requests; created=false when the content already existed.', [
      'dataset',
      'created',
    ]),
    versionBytesWritten: counter('trainset_dataset_version_bytes_written_total', 'Bytes of new chunks and delta segments stored.', [
      'dataset',
    ]),
    versionReusedChunks: gauge('trainset_dataset_version_reused_chunks', 'Base chunks the latest version shares with its predecessor.', [
      'dataset',
    ]),
    versionRows: gauge('trainset_dataset_version_rows', 'Rows of the latest dataset version.', ['dataset']),
    driftScore: gauge(
      'trainset_drift_score_ratio',
      'Largest drift figure of each feature relative to its limit (1 = at the limit) in the latest quality check.',
      ['dataset', 'feature'],
    ),
    driftGated: gauge('trainset_drift_gated_figures', 'Drift figures over their gating limit in the latest quality check.', ['dataset']),
    trainingSeconds: new Histogram({
      name: 'trainset_training_seconds',
      help: 'Wall time of successful training activities.',
      labelNames: ['dataset'] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
      registers,
    }),
    validationAccuracy: gauge('trainset_model_validation_accuracy', 'Validation accuracy of the latest trained candidate.', ['dataset']),
    gateDecisions: counter('trainset_gate_decisions_total', 'Validation gate decisions (passed, failed, overridden).', [
      'dataset',
      'decision',
    ]),
    canarySteps: counter('trainset_canary_steps_total', 'Canary steps started, by weight (percent to the candidate).', ['model', 'weight']),
    canaryWeight: gauge('trainset_canary_weight_percent', 'Candidate weight the pipeline last set.', ['model']),
    canaryVerdicts: counter(
      'trainset_canary_verdicts_total',
      'Canary step analyses by verdict (pass, breach, inconclusive, rollback-signal).',
      ['dataset', 'verdict'],
    ),
    canaryDecisions: counter('trainset_canary_decisions_total', 'Champion changes: promoted, restored (rollback) or rejected.', [
      'model',
      'decision',
    ]),
    runs: counter('trainset_runs_total', 'Finished pipeline runs by outcome (the run report is written at the end).', [
      'dataset',
      'outcome',
    ]),
    activityFailures: counter('trainset_activity_failures_total', 'Failed activity attempts by activity type and error type.', [
      'activity',
      'error_type',
    ]),
    backfillPartitions: gauge('trainset_backfill_partitions', 'Partitions of each running backfill by state.', ['backfill', 'state']),
    scheduleMissed: counter(
      'trainset_schedule_missed_total',
      'Scheduled runs the server skipped because they were past the catch-up window (seen by the schedule monitor).',
      ['schedule'],
    ),
    scheduleOverlapSkipped: counter(
      'trainset_schedule_overlap_skipped_total',
      'Scheduled runs skipped by the overlap policy (seen by the schedule monitor).',
      ['schedule'],
    ),
    schedulePaused: gauge('trainset_schedule_paused', '1 when the schedule is paused.', ['schedule']),
    monitorWindows: counter('trainset_monitor_windows_total', 'Windows of served traffic the monitor judged.', ['model']),
    monitorLiveAccuracy: gauge(
      'trainset_monitor_live_accuracy',
      "Champion's accuracy on the trusted feedback of the last window that had any (M10).",
      ['model'],
    ),
    monitorFeedback: gauge('trainset_monitor_feedback_samples', 'Trusted feedback labels in the last judged window.', ['model']),
    monitorRequests: gauge('trainset_monitor_requests', 'Champion requests in the last judged window.', ['model']),
    monitorErrorRate: gauge('trainset_monitor_error_rate', 'Share of failed champion requests in the last window that had any.', ['model']),
    monitorP95: gauge('trainset_monitor_p95_latency_seconds', 'p95 latency of champion requests in the last window that had any.', [
      'model',
    ]),
    monitorPredictionShift: gauge(
      'trainset_monitor_prediction_shift',
      "L∞ distance of the last window's predicted-label shares from the training set's label shares.",
      ['model'],
    ),
    monitorDrift: gauge(
      'trainset_monitor_drift_score_ratio',
      "Input drift of the last window against the champion's training set: largest gated figure ÷ its limit, per feature (M6).",
      ['model', 'feature'],
    ),
    monitorSkew: gauge(
      'trainset_monitor_skew',
      'Train/serve skew of the last window, per field the model reads: the larger of its completeness gap and its share of unseen categories (src/monitor/skew.ts).',
      ['model', 'feature'],
    ),
    monitorBreaches: counter('trainset_monitor_breaches_total', 'Judged windows that breached, by kind (drift: M15).', ['model', 'kind']),
    monitorStreak: gauge('trainset_monitor_breach_streak', 'Breached windows in a row, by kind.', ['model', 'kind']),
    monitorActions: counter('trainset_monitor_actions_total', 'Actions the monitor took: alert, retrain, rollback.', [
      'model',
      'action',
      'kind',
    ]),
    monitorDataFreshness: gauge(
      'trainset_monitor_data_freshness_seconds',
      "Age of the champion's training data at the last judged window: its version's newest partition day end to the window end (M4).",
      ['model'],
    ),
    labelTasksPending: gauge(
      'trainset_label_tasks_pending',
      "Required label tasks of a partition still without a label, as the last labeling activity left them (min across workers); removed when the partition's run ends. Production records, whose labels are optional, are not counted.",
      ['dataset', 'partition'],
    ),
    labelAccuracy: gauge(
      'trainset_label_accuracy',
      'Share of the audit sample (records with a source label) on which the labeling function agreed, in the latest audit (M1).',
      ['dataset', 'labeler'],
    ),
    labelAudited: counter(
      'trainset_label_audit_records_total',
      'Records audited against their source label, by outcome (agreed, disagreed).',
      ['dataset', 'labeler', 'outcome'],
    ),
    labelLatency: new Histogram({
      name: 'trainset_label_latency_seconds',
      help: "Label latency, task created → labeled, by label source, of each run's own label tasks, observed when its report is written (M13).",
      labelNames: ['dataset', 'source'] as const,
      // Powers of two only (every fourth): the report's bins are power-of-two, so each bin lands in one bucket.
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576],
      registers,
    }),
  };
}

/** Drift features last exported per dataset, so features that left the top list are removed. */
const driftFeatures = new WeakMap<PipelineMetrics, Map<string, Set<string>>>();

/** Update the metrics from a successful activity's input and result; unknown activities are ignored. */
export function recordActivityResult(m: PipelineMetrics, activityType: string, input: unknown, result: unknown): void {
  const dataset = str((input as { dataset?: unknown } | undefined)?.dataset);
  const model = str((input as { model?: unknown } | undefined)?.model);
  switch (activityType) {
    case 'ingestPartition': {
      const r = result as IngestResult;
      m.recordsIn.inc({ dataset }, r.recordsIn);
      m.recordsAccepted.inc({ dataset }, r.accepted);
      for (const [reason, n] of Object.entries(r.byReason ?? {})) m.recordsQuarantined.inc({ dataset, stage: 'ingest', reason }, n);
      break;
    }
    case 'scanPii': {
      const r = result as PiiResult;
      for (const [entity, n] of Object.entries(r.findings ?? {})) if (n) m.piiFindings.inc({ dataset, entity }, n);
      if (r.droppedRecords) m.piiDroppedRecords.inc({ dataset }, r.droppedRecords);
      for (const [reason, n] of Object.entries(r.quarantineByReason ?? {})) m.recordsQuarantined.inc({ dataset, stage: 'pii', reason }, n);
      break;
    }
    case 'dedupeRecords': {
      const r = result as DedupeResult;
      const cross = r.crossPartitionDuplicates ?? 0;
      m.duplicates.inc({ dataset, scope: 'partition' }, Math.max(0, r.duplicates - cross));
      m.duplicates.inc({ dataset, scope: 'cross_partition' }, cross);
      break;
    }
    case 'createDatasetVersion': {
      const r = result as DatasetVersionRef;
      m.versions.inc({ dataset, created: String(r.created) });
      m.versionBytesWritten.inc({ dataset }, r.bytesWritten ?? 0);
      m.versionReusedChunks.set({ dataset }, r.reusedChunks ?? 0);
      m.versionRows.set({ dataset }, r.rows);
      break;
    }
    case 'checkQuality':
      recordDrift(m, dataset, (result as QualityResult).drift);
      break;
    case 'trainModel': {
      const r = result as TrainResult;
      m.trainingSeconds.observe({ dataset }, r.seconds);
      m.validationAccuracy.set({ dataset }, r.validationMetrics.accuracy);
      break;
    }
    case 'setCanaryWeight': {
      const weight = Number((input as { weight?: unknown }).weight);
      m.canarySteps.inc({ model, weight: String(weight) });
      m.canaryWeight.set({ model }, weight);
      break;
    }
    case 'promoteCandidate':
      m.canaryDecisions.inc({ model, decision: 'promoted' });
      m.canaryWeight.set({ model }, 0);
      break;
    case 'restoreChampion':
      m.canaryDecisions.inc({ model, decision: 'restored' });
      m.canaryWeight.set({ model }, 0);
      break;
    case 'rejectCandidate':
      m.canaryDecisions.inc({ model, decision: 'rejected' });
      break;
    case 'monitorWindow':
      recordMonitorWindow(m, result as MonitorWindowResult);
      break;
    case 'createLabelTasks':
    case 'runProgrammaticLabeler':
      recordLabelCoverage(m, dataset, input, result as LabelCoverage);
      break;
    case 'recordLabels':
      recordLabelCoverage(m, dataset, input, (result as SubmitLabelsResult).coverage);
      break;
    case 'writeRunReport':
      recordRunEnd(m, (input as RunReportRequest).status);
      // The run is over: its partition's backlog is no longer anyone's wait (the partition is the logical date).
      removeLabelBacklog(m, (input as RunReportRequest).status);
      recordLabelLatency(m, (input as RunReportRequest).status?.dataset ?? dataset, result as RunReportResult | undefined);
      break;
  }
}

/** A failed activity attempt: counted by activity type and the failure's type. */
export function recordActivityFailure(m: PipelineMetrics, activityType: string, err: unknown): void {
  m.activityFailures.inc({ activity: activityType, error_type: errorTypeOf(err) });
}

/** ApplicationFailure.type, else the error's name (CancelledFailure, TypeError, …). */
export function errorTypeOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { type?: unknown; name?: unknown };
    if (typeof e.type === 'string' && e.type) return e.type;
    if (typeof e.name === 'string' && e.name) return e.name;
  }
  return 'Unknown';
}

function recordDrift(m: PipelineMetrics, dataset: string, drift: QualityResult['drift']): void {
  const perFeature = new Map<string, number>();
  for (const f of drift?.top ?? []) {
    const ratio = f.limit > 0 ? f.value / f.limit : f.value;
    perFeature.set(f.feature, Math.max(perFeature.get(f.feature) ?? 0, ratio));
  }
  let seen = driftFeatures.get(m);
  if (!seen) driftFeatures.set(m, (seen = new Map()));
  for (const feature of seen.get(dataset) ?? []) if (!perFeature.has(feature)) m.driftScore.remove({ dataset, feature });
  for (const [feature, ratio] of perFeature) m.driftScore.set({ dataset, feature }, ratio);
  seen.set(dataset, new Set(perFeature.keys()));
  m.driftGated.set({ dataset }, drift?.gated ?? 0);
}

function recordRunEnd(m: PipelineMetrics, status: RunReportRequest['status'] | undefined): void {
  if (!status) return;
  const dataset = status.dataset;
  if (status.gate) {
    const decision = status.gate.passed ? 'passed' : status.gate.overridden ? 'overridden' : 'failed';
    m.gateDecisions.inc({ dataset, decision });
  }
  for (const step of status.canary ?? []) m.canaryVerdicts.inc({ dataset, verdict: step.verdict });
  m.runs.inc({ dataset, outcome: status.outcome ?? (status.error ? 'failed' : 'unfinished') });
}

/**
 * A partition's label backlog, and the labeling function's audit (M1) when the result has one. The backlog only shrinks
 * once a partition's tasks exist, so a zero is kept (never removed): `min by (dataset, partition)` across workers is
 * then the freshest figure, whichever worker ran the partition's last labeling activity.
 */
/** Drop a finished run's backlog series: the gauge holds the partitions whose runs are still going. */
function removeLabelBacklog(m: PipelineMetrics, status: RunReportRequest['status'] | undefined): void {
  if (status?.dataset && status.logicalDate) m.labelTasksPending.remove({ dataset: status.dataset, partition: status.logicalDate });
}

function recordLabelCoverage(m: PipelineMetrics, dataset: string, input: unknown, c: LabelCoverage | undefined): void {
  if (!c) return;
  const partition = str((input as { partition?: unknown } | undefined)?.partition);
  m.labelTasksPending.set({ dataset, partition }, Math.max(0, c.total - c.labeled));
  const a = c.audit;
  if (!a || a.sampled === 0) return;
  const labeler = a.labeler;
  m.labelAccuracy.set({ dataset, labeler }, a.agreed / a.sampled);
  m.labelAudited.inc({ dataset, labeler, outcome: 'agreed' }, a.agreed);
  m.labelAudited.inc({ dataset, labeler, outcome: 'disagreed' }, a.sampled - a.agreed);
}

/**
 * The run's label latencies (M13) into the histogram. The report gives power-of-two bins with their count and sum;
 * observing each bin's mean once per label keeps the count, the sum and every bucket exact.
 */
function recordLabelLatency(m: PipelineMetrics, dataset: string, r: RunReportResult | undefined): void {
  for (const s of r?.labelLatency ?? []) {
    for (const bin of s.bins) {
      const mean = bin.count > 0 ? bin.sumSeconds / bin.count : 0;
      for (let i = 0; i < bin.count; i += 1) m.labelLatency.observe({ dataset, source: s.source }, mean);
    }
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The monitor's gauges from a judged window; rates only from windows that had requests (feedback) behind them. */
function recordMonitorWindow(m: PipelineMetrics, r: MonitorWindowResult): void {
  if (!r.served) return;
  const f = r.figures;
  const model = f.model;
  m.monitorWindows.inc({ model });
  m.monitorRequests.set({ model }, f.requests);
  m.monitorFeedback.set({ model }, f.feedback);
  if (f.feedback > 0) m.monitorLiveAccuracy.set({ model }, f.correct / f.feedback);
  if (f.requests > 0) {
    m.monitorErrorRate.set({ model }, f.errors / f.requests);
    m.monitorP95.set({ model }, f.p95LatencyMs / 1000);
  }
  if (f.predictionShift !== undefined) m.monitorPredictionShift.set({ model }, f.predictionShift);
  if (f.dataFreshnessSeconds !== undefined) m.monitorDataFreshness.set({ model }, f.dataFreshnessSeconds);
  const ratios = new Map<string, number>();
  for (const d of f.drift) ratios.set(d.feature, Math.max(ratios.get(d.feature) ?? 0, d.limit > 0 ? d.value / d.limit : 0));
  for (const [feature, ratio] of ratios) m.monitorDrift.set({ model, feature }, ratio);
  for (const k of f.skew ?? []) m.monitorSkew.set({ model, feature: k.feature }, k.value);
  for (const b of r.decision.breaches) m.monitorBreaches.inc({ model, kind: b.kind });
  for (const kind of MONITOR_BREACH_KINDS) {
    m.monitorStreak.set({ model, kind }, r.decision.state.consecutive[kind] ?? 0);
  }
  for (const a of r.decision.actions) m.monitorActions.inc({ model, action: a.action, kind: a.kind });
}
