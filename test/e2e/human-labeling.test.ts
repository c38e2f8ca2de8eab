/**
 * The human labeling path through real workers: the run waits in `labeling` until labels arrive through the
 * `submitLabels` update and signal (keyed by record hash), then goes on with the labels it was given.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readDedupedRecords } from '../../src/datasets/work-files';
import { writeSamplePartitions } from '../../src/samples/index';
import { programmaticLabel } from '../../src/samples/tickets/labeler';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { statusQuery, submitLabelsSignal, submitLabelsUpdate } from '../../src/workflows/messages';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';

const DAY = '2026-09-14';
let stack: E2eStack;
let specsDir: string;

beforeAll(async () => {
  specsDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-specs-'));
  const spec = parse(await readFile(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')) as { labels: Record<string, unknown> };
  spec.labels = { ...spec.labels, labeler: 'human', deadlineSeconds: 120, minCoverage: 0.9 };
  await writeFile(path.join(specsDir, 'tickets.yaml'), stringify(spec));
  stack = await startE2eStack({ specsDir });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: [DAY], count: 600 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (specsDir) await rm(specsDir, { recursive: true, force: true });
});

describe('human labeling', () => {
  it('waits for labels from the submitLabels update and signal, then trains on them', async () => {
    const handle = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: `human-${DAY}`,
      args: [{ dataset: 'tickets', logicalDate: DAY }],
    });
    let status = await handle.query(statusQuery);
    // The run takes labels once its tasks exist and it waits (the deadline is set then).
    for (let i = 0; i < 400 && !(status.stage === 'labeling' && status.labeling?.deadline); i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await handle.query(statusQuery);
    }
    expect(status.stage).toBe('labeling');
    const before = status.labeling!;
    expect(before.labeled).toBeLessThan(before.total);

    // What a labeling tool does: open tasks from the registry, PII-clean text from the dedupe output.
    const pending = await stack.registry.labels.pendingTasks('tickets', DAY, 10_000);
    expect(pending).toHaveLength(before.total - before.labeled);
    const byHash = new Map<string, Record<string, unknown>>();
    for await (const r of readDedupedRecords(stack.blobs, 'tickets', DAY)) byHash.set(r.hash, r.record);
    const labels = pending.map((h) => ({ recordHash: h, label: programmaticLabel(byHash.get(h)!) ?? 'billing' }));
    const half = Math.floor(labels.length / 2);

    const viaUpdate = await handle.executeUpdate(submitLabelsUpdate, {
      args: [{ labels: [...labels.slice(0, half), { recordHash: 'not-a-task', label: 'billing' }], labeledBy: 'alice' }],
    });
    expect(viaUpdate).toEqual({ accepted: half, rejected: 1, coverage: { total: before.total, labeled: before.labeled + half } });
    expect((await handle.query(statusQuery)).stage).toBe('labeling');

    await handle.signal(submitLabelsSignal, { labels: labels.slice(half), labeledBy: 'bob' });
    const result = await handle.result();
    expect(result.outcome).toBe('first_champion');
    expect(result.status.labeling).toMatchObject({ total: before.total, labeled: before.total });
    expect(result.status.datasetVersion!.rows).toBe(before.total);
    const stored = await stack.registry.labels.labelsFor('tickets', pending.slice(0, 3));
    expect([...stored.values()].map((l) => l.source)).toEqual(['human', 'human', 'human']);
  }, 120_000);
});
