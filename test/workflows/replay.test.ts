/**
 * Replay committed histories (every file in test/histories) against the current workflow code: a change that alters
 * the command sequence of a recorded run fails here. Put such changes behind patched() (src/workflows/patches.ts), or
 * record a new history on purpose with `RECORD_HISTORIES=1 npx vitest run <the test that records it>` (the tests that
 * call recordHistory; `npm run record-histories` runs them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH, workflowBundle } from '../../src/workers/workers';

const DIR = path.join(__dirname, '../histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('replay of committed histories', () => {
  it('has committed histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(WORKFLOWS_PATH).toMatch(/index\.ts$/);
  });

  it.each(files)(
    'replays %s without nondeterminism',
    async (file) => {
      const history = JSON.parse(readFileSync(path.join(DIR, file), 'utf8'));
      const result = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
      expect(result).toBeUndefined();
    },
    120_000,
  );
});
