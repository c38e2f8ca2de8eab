/**
 * The chaos scenarios of this cut. Each starts its workers, runs the pipeline, injects one fault when an
 * observable point is reached, lets the run finish, and returns the runs it made for the invariant checks.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { readDedupedRecords } from '../src/datasets/work-files';
import { writeSamplePartitions } from '../src/samples/index';
import { programmaticLabel } from '../src/samples/tickets/labeler';
import { CPU_TASK_QUEUE } from '../src/shared/task-queues';
import type { RetrainResult } from '../src/shared/types';
import { builtinTrainerCommand } from '../src/training/process-backend';
import { retrainPipelineWorkflow } from '../src/workflows';
import { rollbackSignal, statusQuery, submitLabelsUpdate } from '../src/workflows/messages';
import { checkInvariants, startPrivatePostgres, startPrivateS3, startStack, until, type Stack, type WorkerProc } from './harness';

/** What the runner hands a scenario. */
export interface ScenarioContext {
  svc: Record<string, string>;
  temporalAddress: string;
  /** kill -9 of the dev server, then the same server again on its port and database file. */
  restartTemporal(): Promise<void>;
  log(msg: string): void;
}

/** A scenario's outcome line and the invariants that failed (empty: all held). */
export interface ScenarioResult {
  outcome: string;
  failed: string[];
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

const DAY1 = '2026-09-01';
const DAY2 = '2026-09-02';
// 600 lines a day, as the demo: with fewer the first model can miss the accuracy gate.
const COUNT = 600;
// Enough records for a stage's first work-file part to pass 8 MiB, so it goes up as a multipart upload.
const BIG_COUNT = 40_000;

type Run = { logicalDate: string; ingest?: { recordsIn: number; accepted: number; quarantined: number } };

type RunHandle = WorkflowHandle<typeof retrainPipelineWorkflow>;

async function startRun(s: Stack, name: string, date: string): Promise<RunHandle> {
  return s.client.workflow.start(retrainPipelineWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: `chaos-${name}-${s.prefix}-${date}`,
    args: [{ dataset: 'tickets', logicalDate: date }],
  });
}

/** The innermost message of a workflow failure. */
function failureOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

const asRun = (r: RetrainResult): Run => ({ logicalDate: r.logicalDate, ingest: r.status.ingest });

/** Sample partitions for `dates`, then a CPU and a GPU worker. */
async function prepare(s: Stack, dates: string[], count = COUNT): Promise<{ cpu: WorkerProc; gpu: WorkerProc }> {
  await writeSamplePartitions(s.blobs, { dataset: 'tickets', dates, count });
  const cpu = await s.startWorker('cpu');
  const gpu = await s.startWorker('gpu');
  return { cpu, gpu };
}

/**
 * The run's result; a dev server restarted meanwhile makes the long poll fail with UNAVAILABLE, so it is asked
 * again (for at most 10 minutes) until the run closes.
 */
async function resultOf(handle: RunHandle): Promise<RetrainResult> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      return await handle.result();
    } catch (err) {
      const msg = String(err instanceof Error ? `${err.message} ${String(err.cause)}` : err);
      if (Date.now() > deadline || !/UNAVAILABLE|ECONNREFUSED|No connection established|Connection dropped/i.test(msg)) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Whether the run has closed (then `until` stops waiting for a point it will never reach). */
async function closed(handle: RunHandle): Promise<boolean> {
  return (await handle.describe()).status.name !== 'RUNNING';
}

/** Wait until `point` holds, failing when the run closes first: a kill point not reached is a scenario error. */
async function reach(handle: RunHandle, what: string, point: () => Promise<boolean> | boolean, seconds = 300): Promise<void> {
  await until(
    what,
    async () => {
      if (await point()) return true;
      if (await closed(handle)) {
        const r = await handle.result().then((x) => x.outcome, failureOf);
        throw new Error(`the run closed (${r}) before ${what}`);
      }
      return false;
    },
    seconds,
  );
}

/** kill -9 of a worker and a fresh one of the same kind in its place; returns the new one. */
async function killAndReplace(ctx: ScenarioContext, s: Stack, w: WorkerProc, at: string): Promise<WorkerProc> {
  await s.kill9(w);
  ctx.log(`killed the ${w.kind.toUpperCase()} worker ${at}`);
  return s.startWorker(w.kind);
}

/**
 * kill -9 of the CPU worker inside a routing change: after its registry commit (`committed`), while its activity
 * waits for the gateway to serve the new routing. The workers' gateway refresh calls are held meanwhile; each that
 * arrived before a check found nothing committed (earlier routing changes) is let through, so the change's own wait
 * is the one still held when its commit is seen. Then a new CPU worker.
 */
async function killInRoutingChange(
  ctx: ScenarioContext,
  s: Stack,
  handle: RunHandle,
  cpu: WorkerProc,
  change: string,
  committed: () => Promise<boolean>,
): Promise<WorkerProc> {
  s.holdRefresh(true);
  try {
    await reach(handle, `the commit of ${change}`, async () => {
      const checkedAt = Date.now();
      if (await committed()) return true;
      s.releaseHeld(checkedAt);
      return false;
    });
    await s.kill9(cpu);
    ctx.log(`killed the CPU worker during ${change} (committed, waiting for the gateway)`);
  } finally {
    s.holdRefresh(false);
  }
  return s.startWorker('cpu');
}

/** The candidate weight of the model's routing in the registry (0 when there is none yet). */
async function candidateWeight(s: Stack): Promise<number> {
  const rows = await s.pool.query<{ w: number }>(`SELECT candidate_weight AS w FROM deployments WHERE model = 'tickets-classifier'`);
  return rows.rows[0]?.w ?? 0;
}

/** Rows of a registry query's count. */
async function count(s: Stack, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await s.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, params)).rows[0]!.n);
}

/** A paced builtin trainer (a checkpoint line each epoch, then PACE_SECONDS of pause), so training lasts ~15 s. */
function pacedTrainer(spec: Record<string, unknown>): void {
  spec.trainer = {
    backend: 'process',
    command: ['/bin/bash', 'test/fixtures/trainers/paced.sh', ...builtinTrainerCommand()],
    files: ['test/fixtures/trainers/paced.sh'],
    epochs: 30,
    seed: 3,
    features: 4096,
    // The builtin trainer's own keys (src/training/job.ts); the process backend passes them through as given.
    hyperparameters: { kind: 'logreg-hashed', learningRate: 0.5, l2: 1e-4 },
    env: { PACE_SECONDS: '0.5' },
  };
}

/** Canary steps that bake long enough (5 s) for a poll to see each one. */
function slowerCanary(spec: Record<string, unknown>): void {
  const canary = spec.canary as { steps: Array<{ weight: number; bakeSeconds: number }> };
  canary.steps = canary.steps.map((st) => ({ ...st, bakeSeconds: 5 }));
}

/** Start both workers, run `body`, check the invariants, stop everything. */
async function withStack(
  ctx: ScenarioContext,
  name: string,
  opts: { databaseUrl?: string; svc?: Record<string, string>; editSpec?: (spec: Record<string, unknown>) => void },
  body: (s: Stack) => Promise<{ outcome: string; runs: Run[] }>,
): Promise<ScenarioResult> {
  const s = await startStack({
    name,
    svc: opts.svc ?? ctx.svc,
    temporalAddress: ctx.temporalAddress,
    databaseUrl: opts.databaseUrl ?? ctx.svc.DATABASE_URL!,
    editSpec: opts.editSpec,
  });
  try {
    ctx.log(`logs in ${s.logDir}`);
    const { outcome, runs } = await body(s);
    return { outcome, failed: await checkInvariants(s, runs) };
  } finally {
    await s.stop();
  }
}

export const scenarios: Scenario[] = [
  {
    name: 'cpu-kill-ingest',
    description: 'kill -9 of the CPU worker right after the ingest stage puts its staged work file; a new CPU worker takes over',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-ingest', {}, async (s) => {
        const { cpu } = await prepare(s, [DAY1]);
        const handle = await startRun(s, 'ingest', DAY1);
        await reach(
          handle,
          'an ingested work file in the blob store',
          async () => (await s.blobs.list(`work/tickets/${DAY1}/ingested-`)).length > 0,
        );
        await killAndReplace(ctx, s, cpu, 'after the ingest put');
        const r = await resultOf(handle);
        return { outcome: r.outcome, runs: [asRun(r)] };
      }),
  },
  {
    name: 'cpu-kill-registry-commits',
    description: 'kill -9 of the CPU worker right after the dataset version row commits, and again after the model version row commits',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-registry-commits', {}, async (s) => {
        let { cpu } = await prepare(s, [DAY1]);
        const handle = await startRun(s, 'registry', DAY1);
        await reach(handle, 'a dataset_versions row', async () => (await count(s, 'dataset_versions')) > 0);
        cpu = await killAndReplace(ctx, s, cpu, 'after the dataset version commit');
        await reach(handle, 'a model_versions row', async () => (await count(s, 'model_versions')) > 0);
        await killAndReplace(ctx, s, cpu, 'after the model version commit');
        const r = await resultOf(handle);
        return { outcome: r.outcome, runs: [asRun(r)] };
      }),
  },
  {
    name: 'cpu-kill-multipart',
    description: `kill -9 of the CPU worker while a work file's multipart upload is open (${BIG_COUNT} records: parts past 8 MiB)`,
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-multipart', {}, async (s) => {
        const { cpu } = await prepare(s, [DAY1], BIG_COUNT);
        const handle = await startRun(s, 'multipart', DAY1);
        let openKey = '';
        await reach(handle, 'an open multipart upload', async () => {
          const r = await s.s3.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: `${s.prefix}/work/` }));
          openKey = r.Uploads?.[0]?.Key ?? '';
          return openKey !== '';
        });
        await killAndReplace(ctx, s, cpu, `mid-upload of ${openKey.slice(s.prefix.length + 1)}`);
        const r = await resultOf(handle);
        return { outcome: r.outcome, runs: [asRun(r)] };
      }),
  },
  {
    name: 'cpu-kill-label-wait',
    description: 'human labeling: kill -9 of the CPU worker while the run waits for labels; the labels go to the new worker',
    run: (ctx) =>
      withStack(
        ctx,
        'cpu-kill-label-wait',
        {
          editSpec: (spec) => {
            spec.labels = { ...(spec.labels as object), labeler: 'human', deadlineSeconds: 600, minCoverage: 0.9 };
          },
        },
        async (s) => {
          const { cpu } = await prepare(s, [DAY1]);
          const handle = await startRun(s, 'labels', DAY1);
          await reach(handle, 'the run waiting for labels', async () => {
            const st = await handle.query(statusQuery);
            return st.stage === 'labeling' && st.labeling?.deadline !== undefined;
          });
          await killAndReplace(ctx, s, cpu, 'in the label wait');
          // What a labeling tool does: open tasks from the registry, PII-clean text from the dedupe output.
          const pending = await s.registry.labels.pendingTasks('tickets', DAY1, 10_000);
          const byHash = new Map<string, Record<string, unknown>>();
          for await (const r of readDedupedRecords(s.blobs, 'tickets', DAY1)) byHash.set(r.hash, r.record);
          const labels = pending.map((h) => ({ recordHash: h, label: programmaticLabel(byHash.get(h)!) ?? 'billing' }));
          const answer = await handle.executeUpdate(submitLabelsUpdate, { args: [{ labels, labeledBy: 'chaos-annotator' }] });
          ctx.log(`submitted ${labels.length} labels: ${JSON.stringify(answer)}`);
          const r = await resultOf(handle);
          return { outcome: `${r.outcome} (${r.status.labeling?.labeled}/${r.status.labeling?.total} labeled)`, runs: [asRun(r)] };
        },
      ),
  },
  {
    name: 'cpu-kill-canary-steps',
    description: 'day 2: kill -9 of the CPU worker in each canary step (20 %, then 50 %) and right after the promotion commits',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-canary-steps', { editSpec: slowerCanary }, async (s) => {
        let { cpu } = await prepare(s, [DAY1, DAY2]);
        const r1 = await resultOf(await startRun(s, 'canary', DAY1));
        ctx.log(`day 1: ${r1.outcome}`);
        const promotions = `audit_log WHERE action = 'deployment.promote'`;
        const promotedBefore = await count(s, promotions);
        const handle = await startRun(s, 'canary', DAY2);
        await reach(handle, 'the first canary step (weight 20)', async () => (await candidateWeight(s)) === 20);
        cpu = await killAndReplace(ctx, s, cpu, 'in canary step 1 (20 %)');
        await reach(handle, 'the second canary step (weight 50)', async () => (await candidateWeight(s)) === 50);
        cpu = await killAndReplace(ctx, s, cpu, 'in canary step 2 (50 %)');
        await killInRoutingChange(ctx, s, handle, cpu, 'the promotion', async () => (await count(s, promotions)) > promotedBefore);
        const r2 = await resultOf(handle);
        return { outcome: `${r1.outcome}, ${r2.outcome}`, runs: [asRun(r1), asRun(r2)] };
      }),
  },
  {
    name: 'cpu-kill-compensation',
    description:
      'a rollback signal during training stops the run; kill -9 of the CPU worker right after the compensation untags the version',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-compensation', { editSpec: pacedTrainer }, async (s) => {
        const { cpu } = await prepare(s, [DAY1]);
        const handle = await startRun(s, 'compensation', DAY1);
        await reach(handle, 'a checkpoint of the training job', async () => (await s.blobs.list('checkpoints/')).length > 0);
        await handle.signal(rollbackSignal, { reason: 'chaos: stop during training', actor: 'chaos' });
        // The compensation's commit: the `latest` tag moved back (a second tag history row: set, then removed).
        await reach(
          handle,
          'the compensation untagging the dataset version',
          async () => (await count(s, `dataset_tag_history WHERE tag = 'latest'`)) >= 2,
        );
        await killAndReplace(ctx, s, cpu, 'right after the compensation commit');
        const r = await resultOf(handle);
        const tagged = await count(s, `dataset_tags WHERE tag = 'latest'`);
        return { outcome: `${r.outcome} (latest tag rows: ${tagged})`, runs: [asRun(r)] };
      }),
  },
  {
    name: 'cpu-kill-canary-rollback',
    description:
      'day 2: a rollback signal in the first canary step; kill -9 of the CPU worker right after traffic goes back to the champion',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-canary-rollback', { editSpec: slowerCanary }, async (s) => {
        const { cpu } = await prepare(s, [DAY1, DAY2]);
        const r1 = await resultOf(await startRun(s, 'rollback', DAY1));
        ctx.log(`day 1: ${r1.outcome}`);
        const handle = await startRun(s, 'rollback', DAY2);
        await reach(handle, 'the first canary step', async () => (await candidateWeight(s)) > 0);
        await handle.signal(rollbackSignal, { reason: 'chaos: roll back the canary', actor: 'chaos' });
        await killInRoutingChange(
          ctx,
          s,
          handle,
          cpu,
          'the rollback',
          async () => (await count(s, `audit_log WHERE action = 'canary.rollback'`)) > 0,
        );
        const r2 = await resultOf(handle);
        return { outcome: `${r1.outcome}, ${r2.outcome}`, runs: [asRun(r1), asRun(r2)] };
      }),
  },
  {
    name: 'gpu-kill-training',
    description: 'kill -9 of the GPU worker after a checkpoint is stored (paced builtin trainer); a new GPU worker resumes',
    run: (ctx) =>
      withStack(ctx, 'gpu-kill-training', { editSpec: pacedTrainer }, async (s) => {
        const { gpu } = await prepare(s, [DAY1]);
        const handle = await startRun(s, 'gpu', DAY1);
        await reach(handle, 'a checkpoint in the blob store', async () => (await s.blobs.list('checkpoints/')).length > 0);
        const second = await killAndReplace(ctx, s, gpu, 'after a checkpoint');
        const r = await resultOf(handle);
        const resumed = s.logHas(second, '"resumedFromEpoch"');
        return { outcome: `${r.outcome}${resumed ? ' (resumed from a checkpoint)' : ''}`, runs: [asRun(r)] };
      }),
  },
  {
    name: 'temporal-restarts',
    description:
      'the dev server killed (-9) and restarted on its database file during ingest, during training (day 1), and in the canary (day 2)',
    run: (ctx) =>
      withStack(ctx, 'temporal-restarts', { editSpec: (spec) => (pacedTrainer(spec), slowerCanary(spec)) }, async (s) => {
        await prepare(s, [DAY1, DAY2]);
        const h1 = await startRun(s, 'temporal', DAY1);
        await reach(h1, 'the ingest stage', async () => (await h1.query(statusQuery)).stage === 'ingest');
        await ctx.restartTemporal();
        ctx.log('dev server restarted during ingest');
        await reach(h1, 'a checkpoint of the training job', async () => (await s.blobs.list('checkpoints/')).length > 0);
        await ctx.restartTemporal();
        ctx.log('dev server restarted during training');
        const r1 = await resultOf(h1);
        ctx.log(`day 1: ${r1.outcome}`);
        const h2 = await startRun(s, 'temporal', DAY2);
        await reach(h2, 'the first canary step', async () => (await candidateWeight(s)) > 0);
        await ctx.restartTemporal();
        ctx.log('dev server restarted in the canary');
        const r2 = await resultOf(h2);
        return { outcome: `${r1.outcome}, ${r2.outcome}`, runs: [asRun(r1), asRun(r2)] };
      }),
  },
  {
    name: 'pg-stop-30s',
    description: 'PostgreSQL (a private cluster) stopped for 30 s once ingest is done, while the run registers its dataset version',
    run: async (ctx) => {
      const cluster = await startPrivatePostgres(55499);
      try {
        return await withStack(ctx, 'pg-stop-30s', { databaseUrl: cluster.url }, async (s) => {
          const { cpu } = await prepare(s, [DAY1]);
          const handle = await startRun(s, 'pg', DAY1);
          await reach(handle, 'the ingest stage to log "ingested partition"', () => s.logHas(cpu, 'ingested partition'));
          cluster.stop();
          ctx.log('PostgreSQL stopped');
          await outage();
          cluster.start();
          ctx.log('PostgreSQL started again');
          const r = await resultOf(handle).catch((err: unknown) => failureOf(err));
          if (typeof r === 'string') return { outcome: `failed: ${r}`, runs: [{ logicalDate: DAY1 }] };
          return { outcome: r.outcome, runs: [asRun(r)] };
        });
      } finally {
        cluster.destroy();
      }
    },
  },
  {
    name: 's3-stop-30s',
    description: 'the S3 server (a private versitygw) killed for 30 s once ingest is done, while the PII scan writes its output',
    run: async (ctx) => {
      const server = await startPrivateS3(ctx.svc, 7099);
      try {
        return await withStack(ctx, 's3-stop-30s', { svc: server.svc }, async (s) => {
          const { cpu } = await prepare(s, [DAY1]);
          const handle = await startRun(s, 's3', DAY1);
          await reach(handle, 'the ingest stage to log "ingested partition"', () => s.logHas(cpu, 'ingested partition'));
          await server.stop();
          ctx.log('S3 server stopped');
          await outage();
          await server.start();
          ctx.log('S3 server started again');
          const r = await resultOf(handle).catch((err: unknown) => failureOf(err));
          if (typeof r === 'string') return { outcome: `failed: ${r}`, runs: [{ logicalDate: DAY1 }] };
          return { outcome: r.outcome, runs: [asRun(r)] };
        });
      } finally {
        await server.destroy();
      }
    },
  },
];

/** The 30 s outage itself is the fault, so this is a wait by design, not a synchronisation sleep. */
function outage(): Promise<void> {
  return new Promise((r) => setTimeout(r, 30_000));
}
