/**
 * The chaos scenarios of this cut. Each starts its workers, runs the pipeline, injects one fault when an
 * observable point is reached, lets the run finish, and returns the runs it made for the invariant checks.
 */
import { writeSamplePartitions } from '../src/samples/index';
import { CPU_TASK_QUEUE } from '../src/shared/task-queues';
import type { RetrainResult } from '../src/shared/types';
import { builtinTrainerCommand } from '../src/training/process-backend';
import { retrainPipelineWorkflow } from '../src/workflows';
import { checkInvariants, startPrivatePostgres, startStack, until, type Stack } from './harness';

/** What the runner hands a scenario. */
export interface ScenarioContext {
  svc: Record<string, string>;
  temporalAddress: string;
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

type Run = { logicalDate: string; ingest?: { recordsIn: number; accepted: number; quarantined: number } };

async function startRun(s: Stack, name: string, date: string) {
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

/** Start both workers, run `body`, check the invariants, stop everything. */
async function withStack(
  ctx: ScenarioContext,
  name: string,
  opts: { databaseUrl?: string; editSpec?: (spec: Record<string, unknown>) => void },
  body: (s: Stack) => Promise<{ outcome: string; runs: Run[] }>,
): Promise<ScenarioResult> {
  const s = await startStack({
    name,
    svc: ctx.svc,
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
        await writeSamplePartitions(s.blobs, { dataset: 'tickets', dates: [DAY1], count: COUNT });
        const cpu = await s.startWorker('cpu');
        await s.startWorker('gpu');
        const handle = await startRun(s, 'ingest', DAY1);
        await until(
          'an ingested work file in the blob store',
          async () => (await s.blobs.list(`work/tickets/${DAY1}/ingested-`)).length > 0,
          120,
        );
        await s.kill9(cpu);
        ctx.log('killed the CPU worker after the ingest put');
        await s.startWorker('cpu');
        const r = await handle.result();
        return { outcome: r.outcome, runs: [asRun(r)] };
      }),
  },
  {
    name: 'cpu-kill-canary',
    description: 'day 2: kill -9 of the CPU worker once the canary weight is set (routing shows a candidate); a new CPU worker takes over',
    run: (ctx) =>
      withStack(ctx, 'cpu-kill-canary', {}, async (s) => {
        await writeSamplePartitions(s.blobs, { dataset: 'tickets', dates: [DAY1, DAY2], count: COUNT });
        const cpu = await s.startWorker('cpu');
        await s.startWorker('gpu');
        const r1 = await (await startRun(s, 'canary', DAY1)).result();
        ctx.log(`day 1: ${r1.outcome}`);
        const handle = await startRun(s, 'canary', DAY2);
        let sawCanary = false;
        await until(
          'a canary weight in the routing (or the run to close)',
          async () => {
            const res = await fetch(`${s.gatewayUrl}/v1/routing`).catch(() => undefined);
            if (res?.ok) {
              const routing = (await res.json()) as { candidateWeight?: number };
              if ((routing.candidateWeight ?? 0) > 0) return (sawCanary = true);
            }
            const d = await handle.describe();
            return d.status.name !== 'RUNNING';
          },
          300,
        );
        if (sawCanary) {
          await s.kill9(cpu);
          ctx.log('killed the CPU worker in a canary step');
          await s.startWorker('cpu');
        }
        const r2 = await handle.result();
        return {
          outcome: `${r1.outcome}, ${r2.outcome}${sawCanary ? '' : ' (no canary step reached: no kill)'}`,
          runs: [asRun(r1), asRun(r2)],
        };
      }),
  },
  {
    name: 'gpu-kill-training',
    description: 'kill -9 of the GPU worker after a checkpoint is stored (paced builtin trainer); a new GPU worker resumes',
    run: (ctx) =>
      withStack(
        ctx,
        'gpu-kill-training',
        {
          editSpec: (spec) => {
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
          },
        },
        async (s) => {
          await writeSamplePartitions(s.blobs, { dataset: 'tickets', dates: [DAY1], count: COUNT });
          await s.startWorker('cpu');
          const gpu = await s.startWorker('gpu');
          const handle = await startRun(s, 'gpu', DAY1);
          await until(
            'a checkpoint in the blob store',
            async () => {
              if ((await s.blobs.list('checkpoints/')).length > 0) return true;
              if ((await handle.describe()).status.name !== 'RUNNING')
                throw new Error(
                  `the run closed before a checkpoint: ${JSON.stringify(await handle.result().catch((e: unknown) => String(e)))}`,
                );
              return false;
            },
            300,
          );
          await s.kill9(gpu);
          ctx.log('killed the GPU worker after a checkpoint');
          const second = await s.startWorker('gpu');
          const r = await handle.result();
          const resumed = s.logHas(second, '"resumedFromEpoch"');
          return { outcome: `${r.outcome}${resumed ? ' (resumed from a checkpoint)' : ''}`, runs: [asRun(r)] };
        },
      ),
  },
  {
    name: 'pg-stop-30s',
    description: 'PostgreSQL (a private cluster) stopped for 30 s once ingest is done, while the run registers its dataset version',
    run: async (ctx) => {
      const cluster = await startPrivatePostgres(55499);
      try {
        return await withStack(ctx, 'pg-stop-30s', { databaseUrl: cluster.url }, async (s) => {
          await writeSamplePartitions(s.blobs, { dataset: 'tickets', dates: [DAY1], count: COUNT });
          const cpu = await s.startWorker('cpu');
          await s.startWorker('gpu');
          const handle = await startRun(s, 'pg', DAY1);
          await until('the ingest stage to log "ingested partition"', () => s.logHas(cpu, 'ingested partition'), 120);
          cluster.stop();
          ctx.log('PostgreSQL stopped');
          const stoppedAt = Date.now();
          // The 30 s outage itself is the fault, so this is a wait by design, not a synchronisation sleep.
          await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - stoppedAt)));
          cluster.start();
          ctx.log('PostgreSQL started again');
          const r = await handle.result().catch((err: unknown) => failureOf(err));
          if (typeof r === 'string') return { outcome: `failed: ${r}`, runs: [{ logicalDate: DAY1 }] };
          return { outcome: r.outcome, runs: [asRun(r)] };
        });
      } finally {
        cluster.destroy();
      }
    },
  },
];
