/** docs/runbook.md covers every failure mode of the seed's table, and every trainset command it names exists. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program';

const root = path.resolve(__dirname, '../..');
const runbook = readFileSync(path.join(root, 'docs/runbook.md'), 'utf8');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** "npx trainset a b …" → ["a", "b"] (the subcommand only when the command has subcommands). */
function commandsIn(text: string): string[][] {
  const out: string[][] = [];
  for (const m of text.matchAll(/npx trainset ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) out.push([m[1]!, m[2] ?? '']);
  return out;
}

describe('runbook', () => {
  it('has a section for each failure mode F1–F10 of the seed table', () => {
    const modes = [
      'Schema drift',
      'Label shift',
      'Training job OOM',
      'Data leakage',
      'Pipeline lag',
      'Privacy leak',
      'Overfitting',
      'Label noise',
      'Resource quota',
      'Untracked changes',
    ];
    modes.forEach((name, i) => expect(runbook).toMatch(new RegExp(`^## F${i + 1} ${name}`, 'm')));
    // Each section says what the pipeline does, what the responder sees, and how to act.
    for (const section of runbook.split(/^## F\d+ /m).slice(1)) {
      expect(section).toMatch(/The pipeline, by itself/);
      expect(section).toMatch(/You see/);
      expect(section).toMatch(/Act/);
    }
  });

  it('names only trainset commands that exist (runbook and README)', () => {
    const program = buildProgram();
    const found = [...commandsIn(runbook), ...commandsIn(readme)];
    expect(found.length).toBeGreaterThan(20);
    for (const [name, sub] of found) {
      const cmd = program.commands.find((c) => c.name() === name);
      expect(cmd, `npx trainset ${name}`).toBeDefined();
      if (cmd!.commands.length > 0 && sub) {
        expect(
          cmd!.commands.some((c) => c.name() === sub),
          `npx trainset ${name} ${sub}`,
        ).toBe(true);
      }
    }
  });

  it('uses the workflow, signal, update and query names the code registers', () => {
    for (const m of runbook.matchAll(/--name ([a-zA-Z]+)/g)) {
      expect(['rollback', 'pause', 'resume', 'promote', 'submitLabels', 'setConcurrency']).toContain(m[1]);
    }
    for (const m of runbook.matchAll(/--type ([a-zA-Z]+)/g)) {
      expect(['retrainPipelineWorkflow', 'rollbackWorkflow', 'backfillWorkflow', 'status', 'progress', 'Keyword']).toContain(m[1]);
    }
  });
});
