/**
 * docs/runbook.md covers every failure mode of the seed's table, every trainset command it names exists, and the
 * Temporal messages and workflow types it names are the ones src/workflows registers (every one of them shown).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program';
import * as workflows from '../../src/workflows';

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

  it('uses the workflow, signal, update and query names the code registers, with the CLI command of their kind', async () => {
    const messages = await registeredMessages();
    const types = workflowTypes();
    const names = (kind: MessageKind): string[] => messages.filter((m) => m.kind === kind).map((m) => m.name);
    const expected: Record<string, string[]> = {
      signal: names('signal'),
      update: names('update'),
      query: names('query'),
      start: types,
    };
    const commands = temporalWorkflowCommands(runbook);
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) {
      if (c.name !== undefined) expect(expected[c.kind], `temporal workflow ${c.kind} … ${c.name}`).toContain(c.name);
    }
    // Outside a full command (e.g. "then `--name resume`"), a name is still one the code registers.
    for (const m of runbook.matchAll(/--name ([a-zA-Z]+)/g)) expect(messages.map((x) => x.name)).toContain(m[1]);
    for (const m of runbook.matchAll(/--type ([a-zA-Z]+)/g)) expect([...types, ...names('query')]).toContain(m[1]);
  });

  it('shows how to send every signal and update, and how to run every query, that the workflows register', async () => {
    const messages = await registeredMessages();
    const queried = new Set(
      temporalWorkflowCommands(runbook)
        .filter((c) => c.kind === 'query')
        .map((c) => c.name),
    );
    const sent = new Set([...runbook.matchAll(/--name ([a-zA-Z]+)/g)].map((m) => m[1]));
    const missing = messages.filter((m) => !(m.kind === 'query' ? queried : sent).has(m.name));
    expect(missing.map((m) => `${m.kind} ${m.name} (${m.file} ${m.exportName})`)).toEqual([]);
  });
});

type MessageKind = 'signal' | 'update' | 'query';

/** One signal, update or query definition as the code exports it. */
interface RegisteredMessage {
  kind: MessageKind;
  name: string;
  exportName: string;
  file: string;
}

const workflowsDir = path.join(root, 'src/workflows');
/** A `defineSignal(…)`, `defineUpdate<…>(…)` or `defineQuery<…>(…)` call in source. */
const DEFINE_CALL = /\bdefine(?:Signal|Update|Query)\s*(?:<[^()]*>)?\s*\(/g;

/**
 * Every message definition in src/workflows, read from the modules themselves (kind and wire name as the SDK
 * registers them). A module is loaded when its source calls define…; each such call must be an exported constant,
 * so a message added anywhere in src/workflows is counted here.
 */
async function registeredMessages(): Promise<RegisteredMessage[]> {
  const out: RegisteredMessage[] = [];
  for (const file of readdirSync(workflowsDir).filter((f) => f.endsWith('.ts'))) {
    const calls = [...readFileSync(path.join(workflowsDir, file), 'utf8').matchAll(DEFINE_CALL)].length;
    if (calls === 0) continue;
    const mod = (await import(/* @vite-ignore */ path.join(workflowsDir, file))) as Record<string, unknown>;
    const defs = Object.entries(mod).flatMap(([exportName, v]): RegisteredMessage[] => {
      const d = v as { type?: unknown; name?: unknown } | null;
      if (typeof d !== 'object' || d === null || typeof d.name !== 'string') return [];
      if (d.type !== 'signal' && d.type !== 'update' && d.type !== 'query') return [];
      return [{ kind: d.type, name: d.name, exportName, file: `src/workflows/${file}` }];
    });
    expect(defs.length, `src/workflows/${file}: every define… call is an exported constant`).toBe(calls);
    out.push(...defs);
  }
  expect(out.length).toBeGreaterThan(0);
  return out;
}

/** Workflow types: the functions src/workflows/index.ts (the only workflowsPath) exports. */
function workflowTypes(): string[] {
  return Object.entries(workflows)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k);
}

/** `temporal workflow signal|update …|query|start …` commands (continuation lines joined), with the name they give. */
function temporalWorkflowCommands(text: string): Array<{ kind: 'signal' | 'update' | 'query' | 'start'; name?: string }> {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(/temporal workflow (signal|update|query|start)\b([^\n`#]*)/g)].map((m) => {
    const kind = m[1] as 'signal' | 'update' | 'query' | 'start';
    // The CLI takes a query's name as --name or its alias --type; a workflow's type as --type.
    const flag = kind === 'start' ? /--type ([a-zA-Z]+)/ : kind === 'query' ? /--(?:name|type) ([a-zA-Z]+)/ : /--name ([a-zA-Z]+)/;
    const name = flag.exec(m[2]!)?.[1];
    return name === undefined ? { kind } : { kind, name };
  });
}
