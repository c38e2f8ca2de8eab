/**
 * What `npm run build` produces runs without the dev tooling: the compiled CLI, the builtin trainer as plain
 * JavaScript (no tsx loader), and the prebuilt workflow bundle, which replays every committed history.
 * Built into .trainset/compiled-test (under the repository, so that node_modules resolves), not into dist/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainerLine } from '../../src/training/contract';
import type * as ProcessBackend from '../../src/training/process-backend';
import type * as WorkflowBundleModule from '../../src/workers/workflow-bundle';
import { writeJobDir } from '../../src/training/job-dir';
import { smallSpec, ticketsJobInput, versionTickets } from '../unit/job-dir-fixtures';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, '.trainset', 'compiled-test');
const HISTORIES = path.join(ROOT, 'test', 'histories');

/** A module of the compiled output, loaded as Node loads it (CommonJS). */
const compiled = <T>(rel: string): T => createRequire(__filename)(path.join(OUT, rel)) as T;

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.cjs'), '--out-dir', OUT], { cwd: ROOT, stdio: 'pipe' });
}, 300_000);
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe('compiled packaging (npm run build)', () => {
  it('runs the CLI from the compiled output: --version prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const out = execFileSync(process.execPath, [path.join(OUT, 'cli', 'main.js'), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(version);
  });

  it('runs the builtin trainer as plain JavaScript, without the tsx loader', async () => {
    const { builtinTrainerCommand } = compiled<typeof ProcessBackend>('training/process-backend.js');
    const command = builtinTrainerCommand();
    expect(command).toEqual([process.execPath, path.join(OUT, 'training', 'trainer-process.js')]);
    const jobDir = mkdtempSync(path.join(tmpdir(), 'trainset-compiled-job-'));
    try {
      const spec = smallSpec({ epochs: 2 });
      const splits = {
        train: await versionTickets(spec, 120, 11, 9),
        validation: await versionTickets(spec, 40, 12),
        test: await versionTickets(spec, 20, 13),
      };
      await writeJobDir(jobDir, ticketsJobInput(spec, splits));
      // Only PATH: no NODE_OPTIONS that could bring a loader in.
      const r = spawnSync(command[0]!, [...command.slice(1), jobDir], { cwd: jobDir, encoding: 'utf8', env: { PATH: process.env.PATH } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      expect(parseTrainerLine(last)?.type).toBe('done');
    } finally {
      rmSync(jobDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('loads the prebuilt workflow bundles (with and without tracing) and replays every committed history with them', async () => {
    const { workflowBundle } = compiled<typeof WorkflowBundleModule>('workers/workflow-bundle.js');
    expect(await workflowBundle()).toEqual({ codePath: path.join(OUT, 'workflow-bundle.js') });
    expect(await workflowBundle({ tracing: true })).toEqual({ codePath: path.join(OUT, 'workflow-bundle-tracing.js') });
    const bundle: WorkflowBundleOption = await workflowBundle();
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const histories = files.map((f) => ({ workflowId: f, history: JSON.parse(readFileSync(path.join(HISTORIES, f), 'utf8')) as unknown }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 180_000);
});
