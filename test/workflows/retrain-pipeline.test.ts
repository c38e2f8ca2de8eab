/**
 * retrainPipelineWorkflow on the real dev server with mocked activities: first model, validation gate
 * (reject / override), saga compensation on a failure after side effects, logical date, status query,
 * and no record content in the history.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/shared/errors';
import { shiftDate } from '../../src/shared/ids';
import { statusQuery } from '../../src/workflows/messages';
import { recordHistory } from '../helpers/record-history';
import {
  PipelineHarness,
  TEST_MODEL_VERSION,
  TEST_VERSION,
  canaryMocks,
  canaryWindow,
  dataStageMocks,
  deferred,
  deploymentMocks,
  evaluation,
  historyText,
  waitForStatus,
} from '../helpers/workflow-harness';

let h: PipelineHarness;

beforeAll(async () => {
  h = await PipelineHarness.start();
}, 120_000);

afterAll(async () => {
  await h?.teardown();
});

const DATE = '2024-03-01';
const goodWindow = (g: number) => canaryWindow(g, { n: 100, correct: 90 }, { n: 100, correct: 88 });

describe('retrainPipelineWorkflow', () => {
  it('makes the first model champion without a canary when there is no champion', async () => {
    const result = await h.withRun({ ...dataStageMocks(), promoteCandidate: async () => ({ generation: 1 }) }, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      const r = await handle.result();
      expect(run.inputsOf('promoteCandidate')).toEqual([
        expect.objectContaining({ model: 'tickets-classifier', modelVersionId: TEST_MODEL_VERSION.modelVersionId }),
      ]);
      expect(run.callNames()).not.toContain('setCanaryWeight');
      expect(run.callNames()).not.toContain('sendCanaryTraffic');
      // Data flows between stages by reference: each stage gets the previous stage's key.
      expect(run.inputsOf('scanPii')[0]?.stagedKey).toBe(`work/tickets/${DATE}/ingested-abc.jsonl`);
      expect(run.inputsOf('dedupeRecords')[0]?.cleanKey).toBe(`work/tickets/${DATE}/clean-abc.jsonl`);
      expect(run.inputsOf('trainModel')[0]).toMatchObject({ dataset: 'tickets', versionId: TEST_VERSION.versionId });
      return r;
    });
    expect(result.outcome).toBe('first_champion');
    expect(result.logicalDate).toBe(DATE);
    expect(result.datasetVersionId).toBe(TEST_VERSION.versionId);
    expect(result.modelVersionId).toBe(TEST_MODEL_VERSION.modelVersionId);
    expect(result.status.stage).toBe('done');
    expect(result.status.gate).toMatchObject({ passed: true, rule: 'first-model' });
    expect(result.status.canary).toEqual([]);
  });

  it('rejects a candidate that fails the validation gate and marks it rejected', async () => {
    const mocks = {
      ...dataStageMocks({ evaluation: evaluation(0.5, 0.85), champion: 'mv-champion' }),
      rejectCandidate: async () => undefined,
    };
    const result = await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      const r = await handle.result();
      await recordHistory('pipeline-v2-gate-rejected.json', handle);
      expect(run.inputsOf('rejectCandidate')).toEqual([expect.objectContaining({ modelVersionId: TEST_MODEL_VERSION.modelVersionId })]);
      expect(run.inputsOf('rejectCandidate')[0]?.reason).toMatch(/validation gate failed/);
      expect(run.callNames()).not.toContain('promoteCandidate');
      expect(run.callNames()).not.toContain('setCanaryWeight');
      return r;
    });
    expect(result.outcome).toBe('rejected');
    expect(result.champion).toBe('mv-champion');
    expect(result.status.gate?.passed).toBe(false);
    expect(result.status.gate?.reasons.join(' ')).toMatch(/accuracy 0\.500 < minimum 0\.600/);
  });

  it('lets an overridden gate failure through to the canary and audits the override', async () => {
    const mocks = {
      ...dataStageMocks({ evaluation: evaluation(0.8, 0.9) }),
      ...deploymentMocks(),
      ...canaryMocks(goodWindow),
      recordAudit: async () => undefined,
    };
    const result = await h.withRun(mocks, async (run) => {
      const handle = await run.start({
        dataset: 'tickets',
        logicalDate: DATE,
        gateOverride: { reason: 'hotfix for the new queue', actor: 'alice' },
      });
      const r = await handle.result();
      expect(run.inputsOf('recordAudit')).toEqual([
        {
          actor: 'alice',
          action: 'gate.override',
          subject: TEST_MODEL_VERSION.modelVersionId,
          details: {
            reason: 'hotfix for the new queue',
            failedChecks: [expect.stringMatching(/^accuracy 0\.800 regresses/), expect.stringMatching(/^macro-F1 0\.780 regresses/)],
            workflowId: handle.workflowId,
          },
        },
      ]);
      const names = run.callNames();
      expect(names.indexOf('recordAudit')).toBeLessThan(names.indexOf('setCanaryWeight'));
      expect(run.inputsOf('promoteCandidate')).toHaveLength(1);
      return r;
    });
    expect(result.outcome).toBe('promoted');
    expect(result.status.gate).toMatchObject({ passed: false, overridden: true, rule: 'vs-champion' });
  });

  it('untags the dataset version and fails non-retryably with TrainingFailed when training fails permanently', async () => {
    const mocks = {
      ...dataStageMocks(),
      trainModel: async () => {
        throw ApplicationFailure.nonRetryable('training failed: the job config is invalid', ErrorType.TrainingFailed);
      },
      untagDatasetVersion: async () => undefined,
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe(ErrorType.TrainingFailed);
      expect((cause as ApplicationFailure).nonRetryable).toBe(true);
      expect(run.inputsOf('trainModel')).toHaveLength(1); // non-retryable: no second attempt
      expect(run.inputsOf('untagDatasetVersion')).toEqual([
        {
          dataset: 'tickets',
          tag: 'latest',
          versionId: TEST_VERSION.versionId,
          restoreTo: TEST_VERSION.previousLatest,
          workflowId: handle.workflowId,
        },
      ]);
      expect(run.callNames()).not.toContain('registerModelVersion');
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('failed');
      expect(status.error).toMatch(/^TrainingFailed: /);
    });
  });

  it('processes the day before the start time when no logical date is given', async () => {
    await h.withRun({ ...dataStageMocks(), promoteCandidate: async () => ({ generation: 1 }) }, async (run) => {
      const handle = await run.start({ dataset: 'tickets' });
      const result = await handle.result();
      const { startTime } = await handle.describe();
      const expected = shiftDate(startTime.toISOString().slice(0, 10), 1);
      expect(run.inputsOf('resolveRun')).toEqual([{ dataset: 'tickets', logicalDate: expected }]);
      expect(run.inputsOf('ingestPartition')[0]).toMatchObject({ dataset: 'tickets', partition: expected });
      expect(result.logicalDate).toBe(expected);
    });
  });

  it('fails at once with InvalidInput on a malformed logical date', async () => {
    await h.withRun({}, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: '2024-02-30' });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(ErrorType.InvalidInput);
      expect(run.calls).toEqual([]);
    });
  });

  it('answers the status query with the stage and the counters so far mid-run', async () => {
    const gate = deferred();
    const qualityStarted = deferred();
    const base = dataStageMocks();
    const mocks = {
      ...base,
      checkQuality: async (input: { dataset: string; versionId: string }) => {
        qualityStarted.resolve();
        await gate.promise;
        return base.checkQuality!(input);
      },
      promoteCandidate: async () => ({ generation: 1 }),
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await qualityStarted.promise;
      const status = await waitForStatus(handle, (s) => s.stage === 'quality');
      expect(status).toMatchObject({
        dataset: 'tickets',
        logicalDate: DATE,
        stage: 'quality',
        ingest: { recordsIn: 500, accepted: 490, quarantined: 10, byReason: { invalid_json: 10 }, files: 1 },
        pii: { records: 488, droppedRecords: 2, findings: { EMAIL_ADDRESS: 40, PHONE_NUMBER: 12 } },
        dedupe: { records: 480, duplicates: 8 },
        labeling: { total: 480, labeled: 480 },
        datasetVersion: { versionId: TEST_VERSION.versionId },
        canary: [],
      });
      // Work-area keys stay out of the status; only counts are shown.
      expect(status.ingest).not.toHaveProperty('stagedKey');
      expect(status.training).toBeUndefined();
      gate.resolve();
      const result = await handle.result();
      expect(result.status.training).toEqual({ epochs: 30, seconds: 1.5, validationAccuracy: 0.9 });
    });
  });

  it('keeps record content out of the workflow history', async () => {
    const planted = { email: 'jane.planted@example.org', phone: '+1 415 555 0199', body: 'my card 4111 1111 1111 1111 was charged twice' };
    const base = dataStageMocks();
    const mocks = {
      ...base,
      // The activity sees records with PII; what it hands the workflow is counts and keys only.
      ingestPartition: async (ref: Parameters<NonNullable<typeof base.ingestPartition>>[0]) => {
        const records = [{ id: 't1', customer_email: planted.email, body: `${planted.body}, call ${planted.phone}` }];
        const r = await base.ingestPartition!(ref);
        return { ...r, recordsIn: records.length, accepted: records.length, quarantined: 0, byReason: {} };
      },
      promoteCandidate: async () => ({ generation: 1 }),
    };
    await h.withRun(mocks, async (run) => {
      const handle = await run.start({ dataset: 'tickets', logicalDate: DATE });
      await handle.result();
      const text = await historyText(handle);
      // Positive control: payloads are decoded, so strings from activity results are visible.
      expect(text).toContain(TEST_VERSION.versionId);
      expect(text).toContain('tickets-classifier');
      for (const value of [planted.email, planted.phone, '4111 1111 1111 1111', 'charged twice']) expect(text).not.toContain(value);
    });
  });
});
