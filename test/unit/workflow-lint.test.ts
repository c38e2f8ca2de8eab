/**
 * The lint rule that keeps workflow code out of I/O can fail: one planted import per forbidden kind, linted as if it
 * were a file of src/workflows, is an error; a file importing only what workflows may import passes clean.
 */
import * as path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '../..');
/** Never written to disk: lintText lints the planted code under this name, so the src/workflows rules apply. */
const PLANTED = path.join(ROOT, 'src/workflows/planted.ts');
const IMPORT_RULE = '@typescript-eslint/no-restricted-imports';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({
    cwd: ROOT,
    // The project's config as it is, but parsed without type information: the planted file exists only in memory,
    // where the TypeScript project service cannot find it. The one type-aware rule goes with it; the import rules
    // under test need no types.
    overrideConfig: {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { projectService: false, project: null } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  });
});

async function lintWorkflow(code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: PLANTED });
  return result!.messages;
}

/** [what is planted, the import line, the rule that must reject it]. Each planted file uses what it imports. */
const planted: Array<[string, string, string]> = [
  ['a value import from src/activities', "import { createActivities } from '../activities';", IMPORT_RULE],
  ['a value import from an activity module', "import { createBackfillActivities } from '../activities/backfill';", IMPORT_RULE],
  ['an import from src/storage', "import * as storage from '../storage/blob-store';", IMPORT_RULE],
  ['an import from src/registry', "import * as registry from '../registry';", IMPORT_RULE],
  ['an import from src/workers', "import * as workers from '../workers/workers';", IMPORT_RULE],
  ['a `node:` built-in', "import * as fs from 'node:fs';", IMPORT_RULE],
  ['a bare built-in (fs)', "import * as fs from 'fs';", IMPORT_RULE],
  ['a bare built-in (crypto)', "import { createHash } from 'crypto';", IMPORT_RULE],
  ['a bare built-in subpath (path/posix)', "import * as posix from 'path/posix';", IMPORT_RULE],
  ['a module outside src/workflows and src/shared', "import * as gate from '../gate/evaluate-gate';", IMPORT_RULE],
  ['a package other than @temporalio/workflow and common', "import * as yaml from 'yaml';", IMPORT_RULE],
  ['a dynamic import of a built-in', "export const load = (): Promise<unknown> => import('node:fs');", 'no-restricted-syntax'],
];

describe('the workflow import rule (eslint.config.mjs)', () => {
  it.each(planted)('rejects %s', async (_what, line, rule) => {
    const binding = /import (?:\* as )?\{? ?(\w+)/.exec(line)?.[1];
    const code = `${line}\n${binding && !line.startsWith('export') ? `export const planted = ${binding};\n` : ''}`;
    const messages = await lintWorkflow(code);
    expect(messages.filter((m) => m.ruleId === rule).map((m) => ({ line: m.line, severity: m.severity }))).toEqual([
      { line: 1, severity: 2 },
    ]);
  });

  it('passes a workflow module that imports only what workflows may import', async () => {
    const code = [
      "import { proxyActivities, sleep } from '@temporalio/workflow';",
      "import { ApplicationFailure } from '@temporalio/common';",
      "import type { Activities } from '../activities';",
      "import type { BackfillActivities } from '../activities/backfill';",
      "import { ErrorType } from '../shared/errors';",
      "import { io } from './activity-proxies';",
      '',
      '/** A planted workflow. */',
      'export async function plantedWorkflow(): Promise<void> {',
      "  const { recordAudit } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });",
      "  const lookups = proxyActivities<BackfillActivities>({ startToCloseTimeout: '1 minute' });",
      "  await recordAudit({ actor: 'a', action: 'b', subject: 'c', details: {} });",
      "  await lookups.partitionRunResult({ workflowId: 'w' });",
      "  await io.currentChampion({ model: 'm' });",
      '  await sleep(1);',
      "  throw ApplicationFailure.nonRetryable('planted', ErrorType.InvalidInput);",
      '}',
      '',
    ].join('\n');
    expect(await lintWorkflow(code)).toEqual([]);
  });
});
