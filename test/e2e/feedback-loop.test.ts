/**
 * Production back into training, on the real stack (PostgreSQL, S3, dev server, real workers): a served champion's
 * requests, captured by a gateway with feedback capture on, PII-cleaned and written as raw feedback files of today's
 * partition; their feedback arrives through the gateway; the next pipeline run for today ingests them like any
 * partition, and the new dataset version holds production records labeled with source `feedback` and lineage to the
 * model version that served them. No planted PII value is in any feedback file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestLineage, readManifest, readVersionRows } from '../../src/datasets/manifest';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { writeSamplePartitions } from '../../src/samples/index';
import { createGatewayClient } from '../../src/serving/http-client';
import type { Gateway } from '../../src/serving/gateway';
import { shiftDate } from '../../src/shared/ids';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { createRegistryGateway } from '../../src/workers/gateway-wiring';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';

const MODEL = 'tickets-classifier';
/** The capture writes a served request under the UTC day it was served: today's partition. */
const TODAY = new Date().toISOString().slice(0, 10);
const YESTERDAY = shiftDate(TODAY, 1);
const EMAIL = 'planted.feedback-e2e@example.org';
const CARD = '4111 1111 1111 1111';
const REQUESTS = 80;
const WITH_FEEDBACK = 60;

let stack: E2eStack;
let capturing: Gateway;

beforeAll(async () => {
  stack = await startE2eStack();
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: [YESTERDAY], count: 600 });
  // A second gateway over the same registry and blob store, with feedback capture on (as the wiring has it when
  // given the specs): the stack's own gateway carries the pipeline's canary traffic, which is never captured anyway.
  capturing = createRegistryGateway({
    registry: stack.registry,
    db: stack.pool,
    blobs: stack.blobs,
    specs: stack.specs,
    defaultModel: MODEL,
    refreshMs: 100,
    feedbackCapture: { flushMs: 200 },
  });
}, 180_000);

afterAll(async () => {
  await capturing?.stop();
  await stack?.stop();
});

async function run(date: string): Promise<RetrainResult> {
  return stack.env.client.workflow.execute(retrainPipelineWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: `feedback-loop-e2e-${date}`,
    args: [{ dataset: 'tickets', logicalDate: date }],
  });
}

describe('feedback into training sets end to end', () => {
  it("ingests served requests and their feedback into the next dataset version, labeled 'feedback', with lineage to the serving model version", async () => {
    const first = await run(YESTERDAY);
    expect(first.outcome).toBe('first_champion');
    const served = first.modelVersionId!;

    const url = await capturing.start(0, '127.0.0.1');
    // The first poll loads the champion in the background: wait until it serves.
    for (let i = 0; capturing.current(MODEL)?.championVersion !== served; i++) {
      if (i > 200) throw new Error('the capturing gateway never loaded the champion');
      await new Promise((r) => setTimeout(r, 100));
    }
    const client = createGatewayClient(url);
    const inputs = generateTicketLines({ date: TODAY, count: REQUESTS, seed: 4242, badLineFraction: 0, duplicateFraction: 0 }).map(
      (g) => JSON.parse(g.line) as Record<string, unknown>,
    );
    const truth = new Map<string, string>();
    for (const [i, record] of inputs.entries()) {
      const { queue, ...input } = record;
      // PII planted in every request: the free text and the optional e-mail field.
      const p = await client.predict(MODEL, `order-${i}`, {
        ...input,
        body: `${String(input.body)} Reach me at ${EMAIL}, card ${CARD}.`,
        customer_email: EMAIL,
      });
      expect(p.modelVersion).toBe(served);
      if (i < WITH_FEEDBACK) {
        const label = typeof queue === 'string' ? queue : 'billing';
        expect(await client.feedback(MODEL, p.predictionId, label)).toBe(true);
        truth.set(p.predictionId, label);
      }
    }
    await capturing.flushCapture();

    // The feedback files: in today's raw partition, no planted value in any of them.
    const files = (await stack.blobs.list(`raw/tickets/${TODAY}/`)).filter((f) => /\/feedback-[^/]+\.jsonl$/.test(f.key));
    expect(files.length).toBeGreaterThanOrEqual(1);
    let captured = 0;
    for (const f of files) {
      const text = (await stack.blobs.get(f.key)).toString('utf8');
      expect(text).not.toContain(EMAIL);
      expect(text).not.toContain('4111');
      captured += text.split('\n').filter((l) => l !== '').length;
    }
    expect(captured).toBe(REQUESTS);

    const second = await run(TODAY);
    const versionId = second.datasetVersionId;
    const { spec } = await stack.specs.load('tickets');
    const manifest = await readManifest(stack.blobs, 'tickets', versionId);
    expect(manifest.partitions.map((p) => p.partition)).toEqual([YESTERDAY, TODAY]);

    // Every request with trusted feedback is a row of the version, labeled with its feedback, from source `feedback`.
    const rows = await readVersionRows(stack.blobs, spec, manifest);
    const production = rows.filter((r) => typeof r.id === 'string' && /^[0-9a-f-]{36}$/.test(r.id));
    for (const [predictionId, label] of truth) {
      const row = production.find((r) => r.id === predictionId);
      expect(row?.queue).toBe(label);
    }
    const labels = await stack.registry.labels.labelsFor(
      'tickets',
      production.map((r) => String(r._trainset_hash)),
    );
    const fromFeedback = [...labels.values()].filter((l) => l.source === 'feedback');
    expect(fromFeedback).toHaveLength(WITH_FEEDBACK);
    expect(new Set(fromFeedback.map((l) => l.labeledBy))).toEqual(new Set(['anonymous']));
    for (const r of rows) expect(JSON.stringify(r)).not.toContain(EMAIL);

    // Lineage: the manifest, the registry's version stats and lineage edges, and the dataset card.
    const lineage = manifestLineage(manifest);
    expect(lineage?.production.records).toBe(production.length);
    expect(lineage?.production.servedBy).toEqual({ [`${MODEL}@${served}`]: production.length });
    expect(lineage?.byPartition[TODAY]?.records).toBe(production.length);
    const version = await stack.registry.datasets.getVersion(versionId);
    expect((version?.stats as { production?: { records: number } }).production?.records).toBe(production.length);
    const edges = await stack.pool.query<{ from_id: string }>(
      `SELECT from_id FROM lineage_edges WHERE from_kind = 'model_version' AND to_kind = 'dataset_version' AND to_id = $1`,
      [versionId],
    );
    expect(edges.rows.map((r) => r.from_id)).toEqual([served]);
    const card = (await stack.blobs.get(`datasets/tickets/cards/${versionId}.md`)).toString('utf8');
    expect(card).toContain('## Production records');
    expect(card).toContain(`${MODEL}@${served}`);
    console.log(
      `feedback-loop e2e: ${REQUESTS} requests captured in ${files.length} file(s); version ${versionId} (${second.outcome}) holds ` +
        `${production.length} production rows (${fromFeedback.length} labeled from feedback) of ${rows.length}, served by ${MODEL}@${served}`,
    );
  }, 600_000);
});
