/**
 * The PyTorch reference trainer end to end on the real stack, through the process backend: day 1's builtin model
 * becomes champion; day 2 the spec switches to the PyTorch trainer, whose ONNX model is registered, gated against
 * the builtin champion on the same test split, canaried through the gateway and promoted. Then the promoted model
 * scores the test records identically through the gate's evaluation path and through the gateway.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { readVersionSplit } from '../../src/datasets/manifest';
import { writeSamplePartitions } from '../../src/samples/index';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { loadModel } from '../../src/training/onnx-model';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { requirePythonTorch } from '../helpers/torch-available';

const repoRoot = path.resolve(__dirname, '../..');
const MODEL = 'tickets-classifier';
const DAYS = ['2026-10-05', '2026-10-06'];
let stack: E2eStack;
let specsDir: string;
let spec: Record<string, unknown>;

/** Write the tickets spec with a trainer section into the stack's specs folder. */
async function useTrainer(trainer: Record<string, unknown>): Promise<void> {
  await writeFile(path.join(specsDir, 'tickets.yaml'), YAML.stringify({ ...spec, trainer }));
}

beforeAll(async () => {
  specsDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-pytorch-specs-'));
  spec = YAML.parse(await readFile(path.join(repoRoot, 'specs/tickets.yaml'), 'utf8')) as Record<string, unknown>;
  await useTrainer({ ...(spec.trainer as object) });
  stack = await startE2eStack({ specsDir });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: DAYS, count: 400 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (specsDir) await rm(specsDir, { recursive: true, force: true });
});

const run = (logicalDate: string): Promise<RetrainResult> =>
  stack.env.client.workflow.execute(retrainPipelineWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: `pytorch-${logicalDate}`,
    args: [{ dataset: 'tickets', logicalDate }],
  });

describe('PyTorch reference trainer through the process backend', () => {
  it('is registered, gated against a builtin champion on the same test split, canaried and promoted', async () => {
    if (!requirePythonTorch()) return;
    const day1 = await run(DAYS[0]!);
    expect(day1.outcome).toBe('first_champion');
    const builtin = await stack.registry.models.getVersion(day1.status.modelVersion!.modelVersionId);
    expect(builtin?.jobKey).toMatch(/\/t-[0-9a-f]{12}$/);

    await useTrainer({
      backend: 'process',
      command: ['/usr/bin/python3', 'trainers/pytorch/train.py'],
      epochs: 8,
      seed: 11,
      hyperparameters: {},
    });
    const day2 = await run(DAYS[1]!);
    const evaluation = day2.status.evaluation!;
    // Both models scored on the same records of day 2's test split.
    expect(evaluation.candidate.n).toBe(evaluation.champion!.metrics.n);
    expect(evaluation.champion!.modelVersionId).toBe(builtin!.id);
    expect(evaluation.candidate.n).toBeGreaterThan(0);
    expect(day2.outcome).toBe('promoted');
    const champion = await stack.registry.models.getAlias(MODEL, 'champion');
    expect(champion?.id).toBe(day2.status.modelVersion!.modelVersionId);
    const descriptor = JSON.parse((await stack.blobs.get(champion!.artifactKey)).toString('utf8')) as {
      format: string;
      trainer: { backend: string };
    };
    expect(descriptor.format).toBe('trainset-onnx-v1');
    expect(descriptor.trainer.backend).toBe('process');
  }, 600_000);

  it('scores identically in the gate and in the gateway', async () => {
    if (!requirePythonTorch()) return;
    const champion = await stack.registry.models.getAlias(MODEL, 'champion');
    const { spec: loaded } = await stack.specs.load('tickets');
    const { test } = await readVersionSplit(stack.blobs, loaded, 'tickets', champion!.datasetVersion);
    const records = test.slice(0, 40).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('_'))));
    // The gate's path: the descriptor from the blob store, scored in a batch.
    const predictor = await loadModel(stack.blobs, champion!.artifactKey);
    const gate = await predictor.predictBatch(records);
    await predictor.release();
    // The gateway's path: HTTP, one request per record, routed to the champion (no canary running).
    for (const [i, input] of records.entries()) {
      const res = await fetch(`${stack.gatewayUrl}/v1/models/${MODEL}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestKey: `same-${i}`, input }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { label: string; probabilities: number[]; modelVersion: string };
      expect(body.modelVersion).toBe(champion!.id);
      expect(body.label).toBe(gate[i]!.label);
      expect(body.probabilities).toEqual(gate[i]!.probabilities);
    }
  }, 120_000);
});
