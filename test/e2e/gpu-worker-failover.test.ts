/**
 * A GPU worker killed with SIGKILL mid-training: the pipeline's training attempt is taken over by a second GPU
 * worker process with its own, empty work folder, which resumes from the newest checkpoint in the blob store
 * (not epoch 0), and the run completes. The trainer is the PyTorch reference trainer through the process backend,
 * behind a wrapper that pauses after each checkpoint line so the kill lands mid-training. The first worker's
 * orphaned trainer dies at its next line (its stdout is gone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { resultKeyFor } from '../../src/activities/training';
import { writeSamplePartitions } from '../../src/samples/index';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult, TrainResult } from '../../src/shared/types';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { requirePythonTorch } from '../helpers/torch-available';

const repoRoot = path.resolve(__dirname, '../..');
let stack: E2eStack;
let specsDir: string;
const workers: ChildProcess[] = [];
const homes: string[] = [];

beforeAll(async () => {
  specsDir = await mkdtemp(path.join(os.tmpdir(), 'trainset-failover-specs-'));
  const spec = YAML.parse(await readFile(path.join(repoRoot, 'specs/tickets.yaml'), 'utf8')) as Record<string, unknown>;
  spec.trainer = {
    backend: 'process',
    command: ['/bin/bash', 'test/fixtures/trainers/paced.sh', '/usr/bin/python3', 'trainers/pytorch/train.py'],
    files: ['test/fixtures/trainers/paced.sh', 'trainers/pytorch'],
    epochs: 6,
    seed: 3,
    hyperparameters: {},
    env: { PACE_SECONDS: '2' },
  };
  await writeFile(path.join(specsDir, 'tickets.yaml'), YAML.stringify(spec));
  stack = await startE2eStack({ specsDir, gpuWorker: false });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: ['2026-10-05'], count: 400 });
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await stack?.stop();
  for (const h of [specsDir, ...homes]) if (h) await rm(h, { recursive: true, force: true });
});

/** `trainset worker gpu` as a process of its own, with its own TRAINSET_HOME (work folder). */
async function startGpuWorker(): Promise<{ child: ChildProcess; home: string }> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'trainset-gpu-worker-'));
  homes.push(home);
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/trainset.js'), 'worker', 'gpu'], {
    env: { ...stack.cliEnv, TRAINSET_HOME: home, TRAINSET_GPUS: 'none', TRAINSET_TRAINERS_DIR: repoRoot, METRICS_PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(child);
  return { child, home };
}

/** Processes whose command line mentions a path. */
function processesMentioning(p: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(p)) found.push(cmd.replace(/\0/g, ' '));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('GPU worker failover', () => {
  it('resumes from the blob-store checkpoint on a second GPU worker after the first is killed with SIGKILL', async () => {
    if (!requirePythonTorch()) return;
    const first = await startGpuWorker();
    const handle = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'failover-2026-10-05',
      args: [{ dataset: 'tickets', logicalDate: '2026-10-05' }],
    });
    const checkpoints = async (): Promise<string[]> => (await stack.blobs.list('checkpoints/')).map((b) => b.key);
    await until('two checkpoints in the blob store', async () => (await checkpoints()).length >= 2, 240);
    // The first worker's trainer is running in its work folder now.
    expect(processesMentioning(first.home).length).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    await until('the first worker to exit', () => first.child.exitCode !== null || first.child.signalCode !== null, 30);
    const storedBefore = (await checkpoints()).length;

    const second = await startGpuWorker();
    const result: RetrainResult = await handle.result();
    expect(result.outcome).toBe('first_champion');

    const mv = await stack.registry.models.getVersion(result.status.modelVersion!.modelVersionId);
    const trained = JSON.parse((await stack.blobs.get(resultKeyFor(mv!.jobKey))).toString('utf8')) as TrainResult;
    // Resumed, not restarted: the finishing attempt began after a stored epoch and trained only the rest.
    expect(storedBefore).toBeGreaterThanOrEqual(2);
    expect(trained.experiment?.resumedFromEpoch).toBeGreaterThanOrEqual(2);
    expect(trained.experiment!.epochs[0]!.epoch).toBe(trained.experiment!.resumedFromEpoch! + 1);
    expect(trained.experiment!.epochs.at(-1)!.epoch).toBe(6);
    // The second worker trained in its own folder; the first one's orphaned trainer is gone.
    await until('the orphaned trainer of the killed worker to exit', () => processesMentioning(first.home).length === 0, 60);
    second.child.kill('SIGTERM');
  }, 480_000);
});
