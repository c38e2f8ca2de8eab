/**
 * The process trainer backend with small shell trainers: contract lines delivered in order, the leased devices
 * and nothing of the worker's environment in the trainer's, exit codes, a hung trainer stopped, and an abort
 * that leaves no process of the trainer's group behind.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainerAbortedError, TrainerHungError, TrainerProcessError, TrainerProtocolError } from '../../src/training/backend-errors';
import type { TrainerMessage } from '../../src/training/contract';
import { createProcessBackend, resolveTrainerCommand } from '../../src/training/process-backend';
import { TrainerSpecSchema, type TrainerSpec } from '../../src/shared/trainer-spec';

const root = mkdtempSync(join(tmpdir(), 'trainset-process-backend-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A trainer script under root/trainers and a fresh job directory. */
function setup(script: string): { trainer: TrainerSpec; jobDir: string } {
  const id = ++n;
  mkdirSync(join(root, 'trainers'), { recursive: true });
  const file = join('trainers', `t${id}.sh`);
  writeFileSync(join(root, file), `#!/bin/bash\nset -e\ncd "$1"\n${script}\n`);
  chmodSync(join(root, file), 0o755);
  const jobDir = join(root, `job-${id}`);
  mkdirSync(jobDir);
  return { trainer: TrainerSpecSchema.parse({ backend: 'process', command: ['/bin/bash', file], progressTimeoutSeconds: 30 }), jobDir };
}

const backend = createProcessBackend({ trainersRoot: root, killGraceMs: 500 });

/** Live processes whose command line or environment mentions a marker. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(marker)) found.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('process backend', () => {
  it('delivers progress and checkpoint lines in order, with the checkpoint file written, and resolves on exit 0 with a model', async () => {
    const { trainer, jobDir } = setup(`
echo "free text is ignored"
mkdir -p checkpoints out
echo '{"type":"progress","epoch":1,"epochs":2,"loss":0.9,"metrics":{"valAccuracy":0.5}}'
echo ck1 > checkpoints/e1.pt
echo '{"type":"checkpoint","epoch":1,"path":"checkpoints/e1.pt"}'
echo '{"type":"progress","epoch":2,"epochs":2,"loss":0.4}'
echo onnx > out/model.onnx
echo '{"type":"done"}'`);
    const seen: TrainerMessage[] = [];
    const files: string[] = [];
    const result = await backend.run({
      jobDir,
      jobKey: 'k',
      trainer,
      devices: [],
      onMessage: async (m) => {
        await new Promise((r) => setTimeout(r, 20)); // a slow upload must not reorder later lines
        seen.push(m);
        if (m.type === 'checkpoint') files.push(readFileSync(join(jobDir, m.path), 'utf8').trim());
      },
    });
    expect(seen.map((m) => m.type)).toEqual(['progress', 'checkpoint', 'progress', 'done']);
    expect(seen[0]).toMatchObject({ epoch: 1, loss: 0.9, metrics: { valAccuracy: 0.5 } });
    expect(files).toEqual(['ck1']);
    expect(result.seconds).toBeGreaterThanOrEqual(0);
  });

  it('gives the trainer its leased devices and trainer.env, and none of the worker environment', async () => {
    process.env.TRAINSET_TEST_SECRET = 'worker-secret';
    const { trainer, jobDir } = setup('mkdir -p out; env > out/env.txt; echo x > out/model.onnx');
    trainer.env = { MY_FLAG: 'on' };
    await backend.run({ jobDir, jobKey: 'k', trainer, devices: ['1', '3'], onMessage: () => undefined });
    const env = readFileSync(join(jobDir, 'out/env.txt'), 'utf8');
    expect(env).toContain('CUDA_VISIBLE_DEVICES=1,3\n');
    expect(env).toContain('MY_FLAG=on\n');
    expect(env).toContain(`TRAINSET_JOB_DIR=${jobDir}\n`);
    expect(env).not.toContain('worker-secret');
    delete process.env.TRAINSET_TEST_SECRET;
  });

  it('sets CUDA_VISIBLE_DEVICES empty for a CPU job, so the trainer sees no GPU', async () => {
    const { trainer, jobDir } = setup('mkdir -p out; echo "[$CUDA_VISIBLE_DEVICES]" > out/cuda.txt; echo x > out/model.onnx');
    await backend.run({ jobDir, jobKey: 'k', trainer, devices: [], onMessage: () => undefined });
    expect(readFileSync(join(jobDir, 'out/cuda.txt'), 'utf8').trim()).toBe('[]');
  });

  it('maps exit code 2 to a permanent failure and other codes to retryable ones, with the stderr tail', async () => {
    const bad = setup('echo "job.json: unknown contract" >&2; exit 2');
    const e2 = await backend.run({ ...bad, jobKey: 'k', devices: [], onMessage: () => undefined }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(TrainerProcessError);
    expect((e2 as TrainerProcessError).permanent).toBe(true);
    expect((e2 as Error).message).toContain('unknown contract');
    const flaky = setup('exit 1');
    const e1 = await backend.run({ ...flaky, jobKey: 'k', devices: [], onMessage: () => undefined }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TrainerProcessError);
    expect((e1 as TrainerProcessError).permanent).toBe(false);
  });

  it('rejects a trainer that exits 0 without its model, or prints a malformed contract line', async () => {
    const noModel = setup('echo \'{"type":"done"}\'');
    await expect(backend.run({ ...noModel, jobKey: 'k', devices: [], onMessage: () => undefined })).rejects.toThrow(TrainerProtocolError);
    const malformed = setup('echo \'{"type":"checkpoint","epoch":1,"path":"../../etc/passwd"}\'; sleep 20');
    await expect(backend.run({ ...malformed, jobKey: 'k', devices: [], onMessage: () => undefined })).rejects.toThrow(
      /malformed "checkpoint" line.*inside the job directory/,
    );
  });

  it('stops a trainer that goes silent for progressTimeoutSeconds, children included', async () => {
    const marker = `hung-marker-${process.pid}-${n + 1}`;
    const { trainer, jobDir } = setup(`echo '{"type":"progress","epoch":1}'; (exec -a ${marker} sleep 300) & exec -a ${marker} sleep 300`);
    trainer.progressTimeoutSeconds = 1;
    const err = await backend.run({ jobDir, jobKey: 'k', trainer, devices: [], onMessage: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerHungError);
    expect(processesWith(marker)).toEqual([]);
  });

  it('on abort kills the whole process group: no trainer process is left', async () => {
    const marker = `abort-marker-${process.pid}-${n + 1}`;
    // The trainer ignores SIGTERM and has a child of its own: only the group SIGKILL after the grace gets them.
    const { trainer, jobDir } = setup(
      `trap '' TERM; (exec -a ${marker} sleep 300) & echo '{"type":"progress","epoch":1}'; while true; do sleep 1; done`,
    );
    const ac = new AbortController();
    const running = backend.run({
      jobDir,
      jobKey: 'k',
      trainer,
      devices: [],
      signal: ac.signal,
      onMessage: () => ac.abort(),
    });
    await expect(running).rejects.toThrow(TrainerAbortedError);
    expect(processesWith(marker)).toEqual([]);
  });

  it('resolves relative trainer paths against the trainers root and leaves the rest alone', () => {
    writeFileSync(join(root, 'trainers', 'x.py'), '');
    expect(resolveTrainerCommand(['/usr/bin/python3', 'trainers/x.py', '--flag', 'not-a-file'], root)).toEqual([
      '/usr/bin/python3',
      join(root, 'trainers/x.py'),
      '--flag',
      'not-a-file',
    ]);
  });
});
