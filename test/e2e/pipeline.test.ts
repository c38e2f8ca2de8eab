/**
 * End to end through real workers on the production adapters (real PostgreSQL, real S3 server, Temporal
 * dev server): a promotion, an automatic rollback of a bad model, a rollback by signal and by the rollback Update
 * (through the stock temporal CLI), an unchanged re-run, a CPU worker killed mid-canary, and rollbackWorkflow.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retrainPipelineWorkflow, rollbackWorkflow } from '../../src/workflows';
import { rollbackSignal, statusQuery } from '../../src/workflows/messages';
import { rollbackWorkflowId } from '../../src/shared/ids';
import { createGatewayClient } from '../../src/serving/http-client';
import { createCpuWorker } from '../../src/workers/workers';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainInput, RetrainResult } from '../../src/shared/types';
import { writeSamplePartitions } from '../../src/samples/index';
import { quietLogger, startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { copySpecs, withShuffledLabels, type SpecCopy } from '../helpers/spec-copy';
import { temporalCliOk } from '../helpers/temporal-cli';

const MODEL = 'tickets-classifier';
const DAYS = ['2026-10-05', '2026-10-06', '2026-10-07'];

let stack: E2eStack;
let specs: SpecCopy;

beforeAll(async () => {
  specs = await copySpecs();
  stack = await startE2eStack({ specsDir: specs.dir });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: DAYS, count: 400 });
}, 180_000);

/** Workers started by the tests (the replacement CPU worker), stopped before the stack. */
const extraWorkers: Array<{ worker: { shutdown(): void }; running: Promise<void> }> = [];

afterAll(async () => {
  for (const w of extraWorkers) w.worker.shutdown();
  await Promise.all(extraWorkers.map((w) => w.running));
  await stack?.stop();
  await specs?.remove();
});

async function run(workflowId: string, input: RetrainInput): Promise<RetrainResult> {
  return stack.env.client.workflow.execute(retrainPipelineWorkflow, { taskQueue: CPU_TASK_QUEUE, workflowId, args: [input] });
}

/** No history may carry a record: the planted e-mail domains never appear in it. Returns the history as JSON. */
async function expectNoPiiInHistory(workflowId: string): Promise<string> {
  const json = historyToJSON(await stack.env.client.workflow.getHandle(workflowId).fetchHistory());
  // Payloads are base64 in the JSON form; decode them before looking for PII.
  const decoded = json.replace(/"data":\s*"([A-Za-z0-9+/=]+)"/g, (_m, b64: string) =>
    JSON.stringify(Buffer.from(b64, 'base64').toString('utf8')),
  );
  expect(decoded).toContain('tickets');
  expect(decoded).not.toMatch(/@(mail\.)?example\.(com|org|net)/);
  return json;
}

/** Run the trainset CLI against the stack; resolves with its output and exit code. */
function cli(args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve(__dirname, '../../bin/trainset.js'), ...args],
      { env: stack.cliEnv, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ out: `${stdout}${stderr}`, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }),
    );
  });
}

/** Commit a history for the replay test when RECORD_HISTORIES=1. */
async function recordHistory(name: string, json: string): Promise<void> {
  if (process.env.RECORD_HISTORIES === '1') await writeFile(path.join(__dirname, '../histories', name), json);
}

describe('retrainPipelineWorkflow end to end', () => {
  it('sets the first champion, then promotes a better candidate through every canary step', async () => {
    const day1 = await run('e2e-day1', { dataset: 'tickets', logicalDate: DAYS[0] });
    expect(day1.outcome).toBe('first_champion');
    expect(day1.status.ingest!.recordsIn).toBe(day1.status.ingest!.accepted + day1.status.ingest!.quarantined);
    expect(day1.status.pii!.findings.EMAIL_ADDRESS).toBeGreaterThan(0);
    // The registry holds the same counts by field and type (never values).
    const stored = await stack.registry.piiFindings.forPartition('tickets', DAYS[0]!);
    const emails = stored.filter((f) => f.entity === 'EMAIL_ADDRESS').reduce((n, f) => n + f.count, 0);
    expect(emails).toBe(day1.status.pii!.findings.EMAIL_ADDRESS);

    const day2 = await run('e2e-day2', { dataset: 'tickets', logicalDate: DAYS[1] });
    expect(day2.outcome).toBe('promoted');
    expect(day2.status.canary.map((c) => [c.weight, c.verdict])).toEqual([
      [20, 'pass'],
      [50, 'pass'],
    ]);
    expect(day2.champion).toBe(day2.modelVersionId);

    const champion = await stack.registry.models.getAlias(MODEL, 'champion');
    expect(champion?.id).toBe(day2.modelVersionId);
    const history = await stack.registry.models.aliasHistory(MODEL);
    expect(history.filter((h) => h.alias === 'champion').map((h) => h.toVersion)).toEqual([day1.modelVersionId, day2.modelVersionId]);
    const deployment = await stack.registry.deployments.getDeployment(MODEL);
    expect(deployment).toMatchObject({ championVersion: day2.modelVersionId, candidateVersion: null, candidateWeight: 0 });
    // Lineage: raw partitions → dataset version → model version → deployment.
    const into = await stack.registry.datasets.lineageTo('dataset_version', day2.datasetVersionId);
    expect(into.map((e) => e.fromId).sort()).toEqual([`tickets/${DAYS[0]}`, `tickets/${DAYS[1]}`]);
    const models = await stack.registry.datasets.lineageFrom('dataset_version', day2.datasetVersionId);
    expect(models.map((e) => e.toId)).toContain(day2.modelVersionId);

    await recordHistory('retrain-promoted.json', await expectNoPiiInHistory('e2e-day2'));

    // The version's chunks are Parquet that an independent reader (DuckDB) reads: every row, labeled.
    const manifest = JSON.parse((await stack.blobs.get(day2.status.datasetVersion!.manifestKey)).toString('utf8')) as {
      rows: number;
      chunks: Array<{ hash: string; rows: number }>;
      delta: unknown[];
    };
    expect(manifest.delta).toEqual([]);
    expect(manifest.chunks.reduce((a, c) => a + c.rows, 0)).toBe(manifest.rows);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-parquet-'));
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const files: string[] = [];
      for (const c of manifest.chunks) {
        const file = path.join(dir, `${c.hash}.parquet`);
        await writeFile(file, await stack.blobs.get(`datasets/tickets/chunks/${c.hash}.parquet`));
        files.push(`'${file}'`);
      }
      const reader = await conn.runAndReadAll(
        `SELECT count(*) AS n, count(queue) AS labeled, count(DISTINCT _trainset_hash) AS hashes FROM read_parquet([${files.join(', ')}])`,
      );
      const n = BigInt(manifest.rows);
      expect(reader.getRowObjectsJS()[0]).toEqual({ n, labeled: n, hashes: n });
    } finally {
      conn.closeSync();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the datasets commands work on the real PostgreSQL and S3: list, verify, diff, lineage, gc dry run', async () => {
    const versions = await stack.registry.datasets.listVersions('tickets');
    const [newer, older] = versions;
    expect(newer && older).toBeTruthy();
    const list = await cli(['datasets', 'list', 'tickets']);
    expect(list.code, list.out).toBe(0);
    expect(list.out).toContain(newer!.id);
    expect(list.out).toMatch(/tags: latest/);

    const verify = await cli(['datasets', 'verify', newer!.id]);
    expect(verify.code, verify.out).toBe(0);
    expect(verify.out).toMatch(/\d+ objects, [\d.]+ MiB re-hashed, 0 problem\(s\)/);

    const diff = await cli(['datasets', 'diff', older!.id, newer!.id, '--json']);
    expect(diff.code, diff.out).toBe(0);
    const d = JSON.parse(diff.out) as { rows: { added: number; removed: number; unchanged: number }; drift: { figures: unknown[] } };
    // Day 2's version holds day 1 (unchanged) plus day 2's new records.
    expect(d.rows).toMatchObject({ removed: 0, unchanged: older!.rows, added: newer!.rows - older!.rows });
    expect(d.drift.figures.length).toBeGreaterThan(0);

    const champion = (await stack.registry.models.getAlias(MODEL, 'champion'))!.id;
    const lineage = await cli(['datasets', 'lineage', champion, '--json']);
    expect(lineage.code, lineage.out).toBe(0);
    const g = JSON.parse(lineage.out) as { upstream: Array<{ fromId: string }>; downstream: Array<{ toKind: string }> };
    expect(g.upstream.map((e) => e.fromId)).toEqual(expect.arrayContaining([newer!.id, `tickets/${DAYS[0]}`, `tickets/${DAYS[1]}`]));
    expect(g.downstream.map((e) => e.toKind)).toContain('deployment');

    const gc = await cli(['datasets', 'gc', 'tickets', '--json']);
    expect(gc.code, gc.out).toBe(0);
    expect(JSON.parse(gc.out)).toMatchObject({ dryRun: true, collectedVersions: [] });

    const missing = await cli(['datasets', 'verify', 'dv-doesnotexist']);
    expect(missing.code).not.toBe(0);
    expect(missing.out).toContain('no dataset version dv-doesnotexist');
  }, 240_000);

  it('re-running a processed day gives the same dataset version, stores nothing new, and changes nothing', async () => {
    const before = (await stack.blobs.list('datasets/')).length;
    const again = await run('e2e-day2-again', { dataset: 'tickets', logicalDate: DAYS[1] });
    expect(again.outcome).toBe('unchanged');
    expect(again.status.datasetVersion).toMatchObject({ created: false, objectsWritten: 0 });
    expect((await stack.blobs.list('datasets/')).length).toBe(before);
    const champion = await stack.registry.models.getAlias(MODEL, 'champion');
    expect(champion?.id).toBe(again.modelVersionId);
  });

  it('rolls a bad model back automatically at the first canary step', async () => {
    const champion = (await stack.registry.models.getAlias(MODEL, 'champion'))!.id;
    // The trainer section asks for permuted train labels (trainer.hyperparameters.shuffleLabels) for this run only.
    await specs.write('tickets', withShuffledLabels);
    const bad = await run('e2e-day3-bad', {
      dataset: 'tickets',
      logicalDate: DAYS[2],
      gateOverride: { reason: 'test: exercise the canary', actor: 'e2e' },
    }).finally(() => specs.write('tickets'));
    expect(bad.outcome).toBe('rolled_back');
    expect(bad.status.gate).toMatchObject({ passed: false, overridden: true });
    // Earlier canaries served requests: their input profiles are the production sample the quality gate compared.
    expect(bad.status.quality?.productionDrift?.requests).toBeGreaterThan(0);
    expect(bad.status.quality?.productionDrift?.figures).toBeGreaterThan(0);
    // The run report is written and listed.
    expect(bad.status.reportKey).toMatch(/^runs\/tickets\/e2e-day3-bad\/.+\/report\.html$/);
    expect((await stack.blobs.get(bad.status.reportKey!)).toString('utf8')).toContain('Canary steps over time');
    expect((await stack.registry.runs.get('e2e-day3-bad'))?.outcome).toBe('rolled_back');
    expect(bad.status.canary).toHaveLength(1);
    expect(bad.status.canary[0]!.verdict).toBe('breach');
    expect(bad.champion).toBe(champion);
    expect((await stack.registry.models.getVersion(bad.modelVersionId!))?.status).toBe('rejected');
    expect(await stack.registry.deployments.getDeployment(MODEL)).toMatchObject({ championVersion: champion, candidateVersion: null });
    const audit = await stack.registry.audit.list();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['gate.override', 'canary.rollback']));
    await recordHistory('retrain-rolled-back.json', await expectNoPiiInHistory('e2e-day3-bad'));
  });

  it('rolls back at once when a responder signals rollback during the canary', async () => {
    const champion = (await stack.registry.models.getAlias(MODEL, 'champion'))!.id;
    const handle = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'e2e-day3-signal',
      args: [{ dataset: 'tickets', logicalDate: DAYS[2] }],
    });
    for (let i = 0; i < 600; i++) {
      if ((await handle.query(statusQuery)).stage === 'canary') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await handle.signal(rollbackSignal, { reason: 'pager: error budget burn' });
    await handle.signal(rollbackSignal, { reason: 'second signal is ignored' });
    const result = await handle.result();
    expect(result.outcome).toBe('rolled_back');
    expect(result.status.rollbackRequest?.reason).toBe('pager: error budget burn');
    expect(result.champion).toBe(champion);
    expect(result.status.canary.at(-1)?.verdict).toBe('rollback-signal');
    expect(await stack.registry.deployments.getDeployment(MODEL)).toMatchObject({
      championVersion: champion,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await stack.registry.models.getVersion(result.modelVersionId!))?.status).toBe('rejected');
    await recordHistory('retrain-rollback-signal.json', await expectNoPiiInHistory('e2e-day3-signal'));
  });

  it('rolls back when a responder sends the rollback Update with the temporal CLI, answering once traffic is on the champion', async () => {
    const champion = (await stack.registry.models.getAlias(MODEL, 'champion'))!.id;
    const handle = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'e2e-day3-update',
      args: [{ dataset: 'tickets', logicalDate: DAYS[2] }],
    });
    await waitForStage(handle, 'canary');
    const out = await temporalCliOk(stack.env.address, [
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      'e2e-day3-update',
      '--name',
      'rollback',
      '--input',
      JSON.stringify({ reason: 'error budget burn', actor: 'oncall@example.com' }),
      '-o',
      'json',
    ]);
    expect(out).toContain('"accepted": true');
    expect(out).toContain('"outcome": "rolled_back"');
    // The Update answered after the rollback: routing is already back to 100 % champion.
    expect(await stack.registry.deployments.getDeployment(MODEL)).toMatchObject({
      championVersion: champion,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await handle.result()).outcome).toBe('rolled_back');
    const audit = (await stack.registry.audit.list()).filter((a) => a.action === 'canary.rollback').at(-1);
    expect(audit).toMatchObject({
      actor: 'oncall@example.com',
      details: expect.objectContaining({ via: 'update', workflowId: 'e2e-day3-update' }),
    });
  });

  it('resumes the canary at its step on a new CPU worker after the old one dies mid-bake, without training again', async () => {
    const [cpu] = stack.workers;
    const handle = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'e2e-day3-crash',
      args: [{ dataset: 'tickets', logicalDate: DAYS[2] }],
    });
    await waitForStage(handle, 'canary');
    await new Promise((r) => setTimeout(r, 300)); // into the first step's bake (its traffic is being sent)
    expect((await handle.query(statusQuery)).canary).toEqual([]);
    // Kill the worker during the first step's bake; nothing serves the CPU queue for a moment.
    cpu!.shutdown();
    for (let i = 0; i < 200 && cpu!.getState() !== 'STOPPED'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(cpu!.getState()).toBe('STOPPED');
    const replacement = await createCpuWorker({
      connection: stack.env.nativeConnection,
      namespace: 'default',
      shutdownGraceSeconds: 2,
      deps: {
        blobs: stack.blobs,
        registry: stack.registry,
        specs: stack.specs,
        gateway: createGatewayClient(stack.gatewayUrl),
        logger: quietLogger,
      },
    });
    // The replacement serves the CPU queue for the rest of the file.
    extraWorkers.push({ worker: replacement, running: replacement.run() });
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    expect(result.status.canary.map((c) => [c.weight, c.verdict])).toEqual([
      [20, 'pass'],
      [50, 'pass'],
    ]);
    const scheduled = (await handle.fetchHistory()).events!.flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    const count = (name: string): number => scheduled.filter((n) => n === name).length;
    expect(count('trainModel')).toBe(1);
    expect(count('registerModelVersion')).toBe(1);
    expect(count('setCanaryWeight')).toBe(2);
    expect((await stack.registry.models.listVersions(MODEL)).filter((v) => v.id === result.modelVersionId)).toHaveLength(1);
  });

  it('rollbackWorkflow (temporal workflow start) restores the previous champion, routing and alias together; a repeat changes nothing', async () => {
    const promoted = (await stack.registry.models.getAlias(MODEL, 'champion'))!.id;
    const history = await stack.registry.models.aliasHistory(MODEL);
    const previous = history.filter((h) => h.alias === 'champion' && h.toVersion === promoted).at(-1)!.fromVersion!;
    const workflowId = rollbackWorkflowId(MODEL, promoted);
    const input = { model: MODEL, fromVersion: promoted, reason: 'complaints about billing tickets', actor: 'oncall@example.com' };
    await temporalCliOk(stack.env.address, [
      'workflow',
      'start',
      '--type',
      'rollbackWorkflow',
      '--task-queue',
      CPU_TASK_QUEUE,
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify(input),
    ]);
    const result = await stack.env.client.workflow.getHandle<typeof rollbackWorkflow>(workflowId).result();
    expect(result).toMatchObject({ outcome: 'rolled_back', model: MODEL, champion: previous });
    expect((await stack.registry.models.getAlias(MODEL, 'champion'))?.id).toBe(previous);
    expect(await stack.registry.deployments.getDeployment(MODEL)).toMatchObject({
      championVersion: previous,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(stack.gateway.current()).toMatchObject({ championVersion: previous, candidateWeight: 0, generation: result.generation });
    expect((await stack.registry.models.getVersion(promoted))?.status).toBe('rejected');
    const move = (await stack.registry.models.aliasHistory(MODEL)).at(-1);
    expect(move).toMatchObject({ alias: 'champion', fromVersion: promoted, toVersion: previous, actor: 'oncall@example.com', workflowId });

    const again = await stack.env.client.workflow.execute(rollbackWorkflow, { taskQueue: CPU_TASK_QUEUE, workflowId, args: [input] });
    expect(again).toMatchObject({ outcome: 'already_rolled_back', champion: previous });
    expect((await stack.registry.models.aliasHistory(MODEL)).at(-1)?.id).toBe(move!.id);
  });
});

async function waitForStage(handle: { query: (q: typeof statusQuery) => Promise<{ stage: string }> }, stage: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await handle.query(statusQuery)).stage === stage) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run never reached stage ${stage}`);
}
