/**
 * `trainset gate recheck` and `trainset models show` against the real PostgreSQL registry: the recorded gate
 * evaluation of a version re-evaluated under a new policy, the version's details, and one CLI run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recheckModelVersion } from '../../src/cli/gate-command';
import { modelVersionDetails, modelVersionLines } from '../../src/cli/models-show';
import { evaluateGate } from '../../src/gate/evaluate-gate';
import { gateEvaluationAuditEntry } from '../../src/gate/recheck';
import { createRegistry, type Registry } from '../../src/registry';
import type { Evaluation, GatePolicy } from '../../src/shared/types';
import { createTestDatabase, type TestDatabase } from './registry-test-db';

const MODEL = 'tickets-classifier';
const policy: GatePolicy = { minAccuracy: 0.6, minMacroF1: 0.5, maxRegression: 0.03 };
const evaluation: Evaluation = {
  candidate: { accuracy: 0.83, macroF1: 0.81, n: 240, rocAuc: 0.95, ece: 0.08 },
  champion: { modelVersionId: 'mv-champ', metrics: { accuracy: 0.84, macroF1: 0.8, n: 240, rocAuc: 0.95, ece: 0.04 } },
  training: { train: { accuracy: 0.9, macroF1: 0.89, n: 800 }, validation: { accuracy: 0.85, macroF1: 0.84, n: 100 } },
  datasetVersionId: 'dv-2',
};

let db: TestDatabase;
let registry: Registry;
let tmp: string;

beforeAll(async () => {
  db = await createTestDatabase('postgres');
  registry = createRegistry(db.pool);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'trainset-gate-'));
  for (const [id, dv] of [
    ['mv-champ', 'dv-1'],
    ['mv-cand', 'dv-2'],
    ['mv-unvalidated', 'dv-3'],
  ] as const) {
    await registry.models.registerVersion({
      id,
      model: MODEL,
      datasetVersion: dv,
      artifactKey: `models/${MODEL}/${dv}/model.json`,
      metrics: { train: evaluation.training!.train, validation: evaluation.training!.validation },
      trainer: { kind: 'logreg-hashed', workflowId: `retrain-${dv}`, seconds: 12.5, epochs: 30, codeVersion: 'abc1234' },
      jobKey: `job-${id}`,
    });
  }
  await registry.models.moveAlias({ model: MODEL, alias: 'champion', toVersion: 'mv-champ', actor: 'test', reason: 'first' });
  await registry.models.moveAlias({ model: MODEL, alias: 'candidate', toVersion: 'mv-cand', actor: 'test', reason: 'trained' });
  await registry.audit.record(
    gateEvaluationAuditEntry(
      { modelVersionId: 'mv-cand', evaluation, policy, decision: evaluateGate(evaluation, policy), specHash: 'spec-1' },
      'retrain-dv-2',
    ),
  );
  await registry.audit.record({
    actor: 'alice',
    action: 'gate.override',
    subject: 'mv-cand',
    details: { reason: 'hotfix for the new queue', failedChecks: [], workflowId: 'retrain-dv-2' },
  });
});

afterAll(async () => {
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('gate recheck against the registry', () => {
  it('re-evaluates the recorded inputs: same verdict under the same policy, a flip under a stricter one', async () => {
    const same = await recheckModelVersion(registry, 'mv-cand', policy);
    expect(same).toMatchObject({ model: MODEL, version: 2, verdictChanged: false });
    expect(same.recorded.passed).toBe(true);
    expect(same.overrides).toEqual([{ actor: 'alice', at: expect.any(String), reason: 'hotfix for the new queue' }]);

    const stricter = await recheckModelVersion(registry, 'mv-cand', {
      ...policy,
      changes: [{ metric: 'ece', maxRelativeDegradation: 0.5 }],
    });
    expect(stricter.verdictChanged).toBe(true);
    expect(stricter.rechecked.reasons).toEqual(['ECE 0.080 is 100.0% worse than champion 0.040 (limit 50.0%)']);
  });

  it('says what is missing for an unknown version and for one never validated', async () => {
    await expect(recheckModelVersion(registry, 'mv-nope', policy)).rejects.toThrow(/no model version mv-nope/);
    await expect(recheckModelVersion(registry, 'mv-unvalidated', policy)).rejects.toThrow(/has no recorded gate evaluation/);
  });

  it('shows a version: artifact URI, dataset version, trainer, code version, cost, metrics and its gate record', async () => {
    const d = await modelVersionDetails(registry, 's3://bucket/prefix/', 'mv-cand');
    expect(d).toMatchObject({
      artifactUri: `s3://bucket/prefix/models/${MODEL}/dv-2/model.json`,
      datasetVersion: 'dv-2',
      aliases: ['candidate'],
      trainingSeconds: 12.5,
      codeVersion: 'abc1234',
    });
    const text = modelVersionLines(d).join('\n');
    expect(text).toMatch(/training cost {4}12\.5 s/);
    expect(text).toMatch(/test {13}accuracy 0\.830 {2}macro-F1 0\.810 {2}ROC-AUC 0\.950 {2}ECE 0\.080 {2}\(n 240\)/);
    expect(text).toMatch(/champion \(test\) {2}accuracy 0\.840/);
    expect(text).toMatch(/gate {13}passed \(vs-champion\)/);
    expect(text).toMatch(/override {9}by alice at .*: hotfix for the new queue/);
    expect(modelVersionLines(await modelVersionDetails(registry, 'file:///blobs', 'mv-unvalidated')).join('\n')).toMatch(
      /gate {13}no recorded evaluation/,
    );
  });

  it('runs as `trainset gate recheck <model-version> --policy <file> --json`', async () => {
    const file = path.join(tmp, 'policy.yaml');
    await writeFile(file, 'gates:\n  minAccuracy: 0.85\n');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TRAINSET_MODE: 'production',
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: 'localhost:7233',
      GATEWAY_URL: 'http://127.0.0.1:1',
      LOG_LEVEL: 'warn',
    };
    const out = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
      execFile(
        process.execPath,
        [path.resolve(__dirname, '../../bin/trainset.js'), 'gate', 'recheck', 'mv-cand', '--policy', file, '--json'],
        { env, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }),
      );
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as { verdictChanged: boolean; rechecked: { passed: boolean; reasons: string[] } };
    expect(report.verdictChanged).toBe(true);
    expect(report.rechecked.reasons).toEqual(['accuracy 0.830 < minimum 0.850']);
  }, 90_000);
});
