/** recordActivityResult: each activity's result lands in the right pipeline metric. */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { RunReportRequest } from '../../src/activities/report';
import type { DatasetVersionRef, DedupeResult, IngestResult, PiiResult, QualityResult, TrainResult } from '../../src/shared/types';
import { createPipelineMetrics, errorTypeOf, recordActivityFailure, recordActivityResult } from '../../src/workers/pipeline-metrics';
import { metricValue as value } from '../helpers/metric-value';

/** The value of one series, or undefined when it does not exist. */

const ds = { dataset: 'tickets', partition: '2026-11-01', specHash: 'h' };

describe('recordActivityResult', () => {
  it('counts records in, accepted and quarantined by stage and reason', async () => {
    const m = createPipelineMetrics();
    const ingest: IngestResult = {
      recordsIn: 100,
      accepted: 90,
      quarantined: 10,
      byReason: { invalid_json: 7, 'wrong_type:age': 3 },
      stagedKey: 'k',
      files: 1,
    };
    recordActivityResult(m, 'ingestPartition', ds, ingest);
    recordActivityResult(m, 'ingestPartition', ds, ingest);
    const pii: PiiResult = {
      records: 88,
      droppedRecords: 1,
      quarantined: 1,
      quarantineByReason: { pii_scan_timeout: 1 },
      findings: { EMAIL_ADDRESS: 4, US_SSN: 0 },
      findingsByField: {},
      cleanKey: 'c',
    };
    recordActivityResult(m, 'scanPii', { ...ds, stagedKey: 'k' }, pii);
    expect(await value(m, 'trainset_records_in_total', { dataset: 'tickets' })).toBe(200);
    expect(await value(m, 'trainset_records_accepted_total', { dataset: 'tickets' })).toBe(180);
    expect(await value(m, 'trainset_records_quarantined_total', { stage: 'ingest', reason: 'invalid_json' })).toBe(14);
    expect(await value(m, 'trainset_records_quarantined_total', { stage: 'pii', reason: 'pii_scan_timeout' })).toBe(1);
    expect(await value(m, 'trainset_pii_findings_total', { entity: 'EMAIL_ADDRESS' })).toBe(4);
    expect(await value(m, 'trainset_pii_findings_total', { entity: 'US_SSN' })).toBeUndefined();
    expect(await value(m, 'trainset_pii_dropped_records_total', { dataset: 'tickets' })).toBe(1);
  });

  it('splits duplicates into within-partition and cross-partition', async () => {
    const m = createPipelineMetrics();
    const r: DedupeResult = { records: 80, duplicates: 8, crossPartitionDuplicates: 3, dedupedKey: 'd' };
    recordActivityResult(m, 'dedupeRecords', ds, r);
    expect(await value(m, 'trainset_duplicates_total', { scope: 'partition' })).toBe(5);
    expect(await value(m, 'trainset_duplicates_total', { scope: 'cross_partition' })).toBe(3);
  });

  it('records version bytes, reused chunks and rows', async () => {
    const m = createPipelineMetrics();
    const v: DatasetVersionRef = {
      versionId: 'v1',
      created: true,
      rows: 500,
      partitions: ['2026-11-01'],
      manifestKey: 'm',
      objectsWritten: 3,
      bytesWritten: 4096,
      reusedChunks: 7,
    };
    recordActivityResult(m, 'createDatasetVersion', ds, v);
    expect(await value(m, 'trainset_dataset_version_bytes_written_total', { dataset: 'tickets' })).toBe(4096);
    expect(await value(m, 'trainset_dataset_version_reused_chunks', { dataset: 'tickets' })).toBe(7);
    expect(await value(m, 'trainset_dataset_versions_total', { created: 'true' })).toBe(1);
  });

  it('keeps the largest drift per feature relative to its limit, and drops features that left the top list', async () => {
    const m = createPipelineMetrics();
    const q = (top: NonNullable<QualityResult['drift']>['top']): QualityResult => ({
      trainRows: 1,
      validationRows: 1,
      testRows: 1,
      labelDistribution: {},
      completeness: {},
      drift: { against: 'v0', figures: 10, gated: 1, top },
    });
    recordActivityResult(
      m,
      'checkQuality',
      { dataset: 'tickets', versionId: 'v1' },
      q([
        { feature: 'priority', metric: 'psi', value: 0.3, limit: 0.2, gated: true },
        { feature: 'priority', metric: 'jensen_shannon', value: 0.05, limit: 0.1, gated: false },
        { feature: 'channel', metric: 'linf', value: 0.1, limit: 0.2, gated: false },
      ]),
    );
    expect(await value(m, 'trainset_drift_score_ratio', { feature: 'priority' })).toBeCloseTo(1.5);
    expect(await value(m, 'trainset_drift_score_ratio', { feature: 'channel' })).toBeCloseTo(0.5);
    expect(await value(m, 'trainset_drift_gated_figures', { dataset: 'tickets' })).toBe(1);
    recordActivityResult(
      m,
      'checkQuality',
      { dataset: 'tickets', versionId: 'v2' },
      q([{ feature: 'channel', metric: 'linf', value: 0.02, limit: 0.2, gated: false }]),
    );
    expect(await value(m, 'trainset_drift_score_ratio', { feature: 'priority' })).toBeUndefined();
    expect(await value(m, 'trainset_drift_score_ratio', { feature: 'channel' })).toBeCloseTo(0.1);
  });

  it('observes training time and follows the canary through steps to a decision', async () => {
    const m = createPipelineMetrics();
    const metrics = { accuracy: 0.9, macroF1: 0.88, n: 100 };
    const t: TrainResult = { artifactKey: 'a', trainMetrics: metrics, validationMetrics: metrics, epochs: 5, seconds: 42 };
    recordActivityResult(m, 'trainModel', { dataset: 'tickets', versionId: 'v1', jobKey: 'j' }, t);
    expect(await value(m, 'trainset_training_seconds_count', { dataset: 'tickets' })).toBe(1);
    expect(await value(m, 'trainset_training_seconds_sum', { dataset: 'tickets' })).toBe(42);
    const model = 'tickets-classifier';
    recordActivityResult(m, 'setCanaryWeight', { model, modelVersionId: 'mv', weight: 20, workflowId: 'w' }, { generation: 3 });
    expect(await value(m, 'trainset_canary_weight_percent', { model })).toBe(20);
    expect(await value(m, 'trainset_canary_steps_total', { model, weight: '20' })).toBe(1);
    recordActivityResult(m, 'restoreChampion', { model, modelVersionId: 'mv', reason: 'breach', workflowId: 'w' }, undefined);
    expect(await value(m, 'trainset_canary_decisions_total', { model, decision: 'restored' })).toBe(1);
    expect(await value(m, 'trainset_canary_weight_percent', { model })).toBe(0);
  });

  it('counts the gate decision, canary verdicts and outcome when the run report is written', async () => {
    const m = createPipelineMetrics();
    const req: RunReportRequest = {
      workflowId: 'w',
      runId: 'r',
      status: {
        dataset: 'tickets',
        stage: 'done',
        gate: { passed: false, rule: 'vs-champion', reasons: ['accuracy'], overridden: true },
        canary: [
          { step: 0, weight: 20, generation: 1, verdict: 'pass', reasons: [], candidateSamples: 50, championSamples: 50 },
          { step: 1, weight: 50, generation: 2, verdict: 'breach', reasons: ['accuracy'], candidateSamples: 50, championSamples: 50 },
        ],
        outcome: 'rolled_back',
      },
    };
    recordActivityResult(m, 'writeRunReport', req, { reportKey: 'r', summaryKey: 's' });
    expect(await value(m, 'trainset_gate_decisions_total', { decision: 'overridden' })).toBe(1);
    expect(await value(m, 'trainset_canary_verdicts_total', { verdict: 'breach' })).toBe(1);
    expect(await value(m, 'trainset_runs_total', { outcome: 'rolled_back' })).toBe(1);
  });

  it('exports a judged monitor window: live figures, drift ratios per feature, breaches, streaks and actions', async () => {
    const m = createPipelineMetrics();
    const figures = {
      model: 'tickets-classifier',
      championVersion: 'mv-1',
      start: '2026-12-01T10:00:00.000Z',
      end: '2026-12-01T10:05:00.000Z',
      requests: 200,
      errors: 4,
      p95LatencyMs: 25,
      feedback: 50,
      correct: 20,
      predictionShift: 0.3,
      drift: [
        { feature: 'channel', metric: 'linf', value: 0.3, limit: 0.2, breached: true },
        { feature: 'channel', metric: 'jensen_shannon', value: 0.05, limit: 0.1, breached: false },
        { feature: 'body', metric: 'psi', value: 0.05, limit: 0.25, breached: false },
      ],
      skew: [
        { feature: 'body', completenessGap: 0.4, value: 0.4 },
        { feature: 'channel', completenessGap: 0, unseenCategoryRate: 0.25, value: 0.25 },
      ],
    };
    const decision = {
      breaches: [
        { kind: 'accuracy' as const, reason: 'a' },
        { kind: 'drift' as const, reason: 'd' },
      ],
      notJudged: [],
      actions: [{ action: 'rollback' as const, kind: 'accuracy' as const, reason: 'r' }],
      state: { consecutive: { accuracy: 3, drift: 1 }, rolledBack: ['mv-1'], windows: 3 },
    };
    recordActivityResult(m, 'monitorWindow', { dataset: 'tickets' }, { served: true, figures, decision });
    const model = { model: 'tickets-classifier' };
    expect(await value(m, 'trainset_monitor_windows_total', model)).toBe(1);
    expect(await value(m, 'trainset_monitor_live_accuracy', model)).toBeCloseTo(0.4);
    expect(await value(m, 'trainset_monitor_feedback_samples', model)).toBe(50);
    expect(await value(m, 'trainset_monitor_requests', model)).toBe(200);
    expect(await value(m, 'trainset_monitor_error_rate', model)).toBeCloseTo(0.02);
    expect(await value(m, 'trainset_monitor_p95_latency_seconds', model)).toBeCloseTo(0.025);
    expect(await value(m, 'trainset_monitor_prediction_shift', model)).toBeCloseTo(0.3);
    expect(await value(m, 'trainset_monitor_drift_score_ratio', { ...model, feature: 'channel' })).toBeCloseTo(1.5);
    expect(await value(m, 'trainset_monitor_drift_score_ratio', { ...model, feature: 'body' })).toBeCloseTo(0.2);
    expect(await value(m, 'trainset_monitor_skew', { ...model, feature: 'body' })).toBeCloseTo(0.4);
    expect(await value(m, 'trainset_monitor_skew', { ...model, feature: 'channel' })).toBeCloseTo(0.25);
    expect(await value(m, 'trainset_monitor_breaches_total', { ...model, kind: 'drift' })).toBe(1);
    expect(await value(m, 'trainset_monitor_breaches_total', { ...model, kind: 'errors' })).toBeUndefined();
    expect(await value(m, 'trainset_monitor_breach_streak', { ...model, kind: 'accuracy' })).toBe(3);
    expect(await value(m, 'trainset_monitor_breach_streak', { ...model, kind: 'errors' })).toBe(0);
    expect(await value(m, 'trainset_monitor_actions_total', { ...model, action: 'rollback', kind: 'accuracy' })).toBe(1);
    // A window without feedback or requests leaves the last rates; nothing served records nothing.
    recordActivityResult(
      m,
      'monitorWindow',
      { dataset: 'tickets' },
      {
        served: true,
        figures: { ...figures, requests: 0, errors: 0, feedback: 0, correct: 0, drift: [], predictionShift: undefined },
        decision: { ...decision, breaches: [], actions: [] },
      },
    );
    expect(await value(m, 'trainset_monitor_live_accuracy', model)).toBeCloseTo(0.4);
    expect(await value(m, 'trainset_monitor_error_rate', model)).toBeCloseTo(0.02);
    expect(await value(m, 'trainset_monitor_requests', model)).toBe(0);
    recordActivityResult(m, 'monitorWindow', { dataset: 'tickets' }, { served: false });
    expect(await value(m, 'trainset_monitor_windows_total', model)).toBe(2);
  });

  it('ignores activities it does not know', () => {
    expect(() => recordActivityResult(createPipelineMetrics(), 'somethingNew', {}, 42)).not.toThrow();
  });
});

describe('recordActivityFailure', () => {
  it('counts by activity and failure type', async () => {
    const m = createPipelineMetrics();
    recordActivityFailure(m, 'ingestPartition', ApplicationFailure.nonRetryable('gone', 'PartitionNotFound'));
    recordActivityFailure(m, 'ingestPartition', new TypeError('x'));
    expect(await value(m, 'trainset_activity_failures_total', { activity: 'ingestPartition', error_type: 'PartitionNotFound' })).toBe(1);
    expect(await value(m, 'trainset_activity_failures_total', { error_type: 'TypeError' })).toBe(1);
    expect(errorTypeOf('plain string')).toBe('Unknown');
  });
});
