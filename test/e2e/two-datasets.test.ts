/**
 * Two datasets end to end on one stack (real PostgreSQL, S3 server, dev server, one gateway, the workers), as a
 * platform team runs them: the tickets and the product reviews (specs/reviews.yaml: other fields and classes, labels
 * in the records, a model name of its own), each with its own spec, day 1 to a first champion and day 2 through its
 * canary to promotion, run side by side. The gateway discovers both models without a restart, and each model's
 * routing, prediction and audit rows name only its own versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSamplePartitions } from '../../src/samples/index';
import { modelNameFor } from '../../src/shared/ids';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainInput, RetrainResult } from '../../src/shared/types';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';

const DAYS = ['2026-10-05', '2026-10-06'];
const TICKETS = 'tickets-classifier';
const REVIEWS = 'reviews-sentiment';

let stack: E2eStack;

beforeAll(async () => {
  stack = await startE2eStack();
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: DAYS, count: 400 });
  await writeSamplePartitions(stack.blobs, { dataset: 'reviews', dates: DAYS, count: 300 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

function run(workflowId: string, input: RetrainInput): Promise<RetrainResult> {
  return stack.env.client.workflow.execute(retrainPipelineWorkflow, { taskQueue: CPU_TASK_QUEUE, workflowId, args: [input] });
}

async function gatewayJson<T>(path: string): Promise<T> {
  const res = await fetch(`${stack.gatewayUrl}${path}`);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** Every model version id (mv-…) anywhere in a value. */
function versionIds(value: unknown): string[] {
  if (typeof value === 'string') return /^mv-[0-9a-f]+$/.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(versionIds);
  if (value && typeof value === 'object') return Object.values(value).flatMap(versionIds);
  return [];
}

describe('two datasets on one stack', () => {
  it('takes each model name from its spec', async () => {
    expect(modelNameFor((await stack.specs.load('tickets')).spec)).toBe(TICKETS);
    expect(modelNameFor((await stack.specs.load('reviews')).spec)).toBe(REVIEWS);
    // Nothing is deployed yet: the gateway serves no model, and is ready.
    expect(await gatewayJson('/v1/models')).toEqual({ models: [] });
  });

  it('day 1: each dataset gets its first champion, and the gateway serves both without a restart', async () => {
    const [tickets, reviews] = await Promise.all([
      run('two-tickets-day1', { dataset: 'tickets', logicalDate: DAYS[0]! }),
      run('two-reviews-day1', { dataset: 'reviews', logicalDate: DAYS[0]! }),
    ]);
    expect(tickets.outcome).toBe('first_champion');
    expect(reviews.outcome).toBe('first_champion');
    // The reviews carry their labels: every one is a source label, none came from a labeling function.
    expect(reviews.status.labeling).toMatchObject({ total: reviews.status.dedupe!.records, labeled: reviews.status.dedupe!.records });
    const { rows: sources } = await stack.pool.query<{ source: string }>("SELECT DISTINCT source FROM labels WHERE dataset = 'reviews'");
    expect(sources.map((r) => r.source)).toEqual(['source']);

    await expect
      .poll(async () => (await gatewayJson<{ models: Array<{ model: string; championVersion?: string }> }>('/v1/models')).models, {
        timeout: 10_000,
      })
      .toEqual([
        expect.objectContaining({ model: REVIEWS, championVersion: reviews.modelVersionId }),
        expect.objectContaining({ model: TICKETS, championVersion: tickets.modelVersionId }),
      ]);
  }, 300_000);

  it('day 2: each dataset promotes a candidate through its own canary, side by side on one gateway', async () => {
    const [tickets, reviews] = await Promise.all([
      run('two-tickets-day2', { dataset: 'tickets', logicalDate: DAYS[1]! }),
      run('two-reviews-day2', { dataset: 'reviews', logicalDate: DAYS[1]! }),
    ]);
    expect(tickets.outcome).toBe('promoted');
    expect(reviews.outcome).toBe('promoted');
    expect(tickets.status.canary.map((c) => [c.weight, c.verdict])).toEqual([
      [20, 'pass'],
      [50, 'pass'],
    ]);
    expect(reviews.status.canary.map((c) => [c.weight, c.verdict])).toEqual([[50, 'pass']]);

    for (const [model, result] of [
      [TICKETS, tickets],
      [REVIEWS, reviews],
    ] as const) {
      expect((await stack.registry.models.getAlias(model, 'champion'))?.id).toBe(result.modelVersionId);
      const deployment = await stack.registry.deployments.getDeployment(model);
      expect(deployment).toMatchObject({ championVersion: result.modelVersionId, candidateVersion: null, candidateWeight: 0 });
      await expect
        .poll(() => gatewayJson<{ generation: number }>(`/v1/models/${model}/routing`), { timeout: 10_000 })
        .toMatchObject({ model, championVersion: result.modelVersionId, generation: deployment!.generation });
    }
    const ready = await gatewayJson<{ ready: boolean; models: Record<string, number> }>('/readyz');
    expect(ready).toEqual({
      ready: true,
      models: {
        [TICKETS]: (await stack.registry.deployments.getDeployment(TICKETS))!.generation,
        [REVIEWS]: (await stack.registry.deployments.getDeployment(REVIEWS))!.generation,
      },
    });
  }, 400_000);

  it("keeps each model's routing, prediction and audit rows to its own versions", async () => {
    const { rows: versions } = await stack.pool.query<{ id: string; model: string }>('SELECT id, model FROM model_versions');
    const modelOf = new Map(versions.map((v) => [v.id, v.model]));
    expect(new Set(versions.map((v) => v.model))).toEqual(new Set([TICKETS, REVIEWS]));

    const { rows: routing } = await stack.pool.query<{ model: string; champion_version: string; candidate_version: string | null }>(
      'SELECT model, champion_version, candidate_version FROM deployments ORDER BY model',
    );
    expect(routing.map((r) => r.model)).toEqual([REVIEWS, TICKETS]);
    for (const r of routing) expect(versionIds(r).map((v) => modelOf.get(v))).toEqual(versionIds(r).map(() => r.model));

    // Canary traffic of both models: each row served by a version of its model, its feedback one of its classes.
    const { rows: predictions } = await stack.pool.query<{ model: string; model_version: string; feedback_label: string; n: string }>(
      'SELECT model, model_version, feedback_label, count(*) AS n FROM predictions GROUP BY 1, 2, 3',
    );
    const classes = {
      [TICKETS]: (await stack.specs.load('tickets')).spec.labels.classes,
      [REVIEWS]: (await stack.specs.load('reviews')).spec.labels.classes,
    };
    expect(new Set(predictions.map((p) => p.model))).toEqual(new Set([TICKETS, REVIEWS]));
    for (const p of predictions) {
      expect(modelOf.get(p.model_version), `${p.model} served by ${p.model_version}`).toBe(p.model);
      expect(classes[p.model as keyof typeof classes]).toContain(p.feedback_label);
    }

    // Every audit row that names versions names those of one model: the one its subject names.
    const audit = await stack.registry.audit.list(undefined, 10_000);
    const checked = audit.filter((a) => versionIds([a.subject, a.details]).length > 0);
    expect(checked.length).toBeGreaterThan(6);
    for (const a of checked) {
      const owners = new Set(versionIds([a.subject, a.details]).map((v) => modelOf.get(v)));
      expect(owners.size, `${a.action} on ${a.subject}`).toBe(1);
      if (a.subject.startsWith('model:')) expect([...owners][0], `${a.action} on ${a.subject}`).toBe(a.subject.slice('model:'.length));
    }
    for (const model of [TICKETS, REVIEWS]) {
      const moves = await stack.registry.models.aliasHistory(model);
      expect(moves.length).toBeGreaterThan(0);
      for (const m of moves)
        expect(versionIds([m.fromVersion, m.toVersion]).map((v) => modelOf.get(v))).not.toContain(model === TICKETS ? REVIEWS : TICKETS);
    }
  });
});
