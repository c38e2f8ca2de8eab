/** The CLI's shared argument parsers, `--version`, usage errors, and the exit code of `trainset run`. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Command, CommanderError, InvalidArgumentError } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { dateArg, datasetArg, integerArg, nonNegativeIntArg, portArg, positiveIntArg, ratioArg } from '../../src/cli/args';
import { ExitCode, runExitCode } from '../../src/cli/exit-codes';
import { buildProgram } from '../../src/cli/program';
import type { RetrainOutcome } from '../../src/shared/types';

/** What a parser makes of a value: the parsed value, or the InvalidArgumentError's message. */
const parse = <T>(parser: (v: string) => T, value: string): T | string => {
  try {
    return parser(value);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
};

describe('argument parsers', () => {
  it.each([
    [dateArg, '2026-11-01', '2026-11-01'],
    [dateArg, '2026-13-01', 'expected a date as YYYY-MM-DD'],
    [dateArg, '01/11/2026', 'expected a date as YYYY-MM-DD'],
    [positiveIntArg, '20', 20],
    [positiveIntArg, '0', 'expected a positive integer'],
    [positiveIntArg, '2.5', 'expected a positive integer'],
    [positiveIntArg, '1e3', 'expected a positive integer'],
    [positiveIntArg, '', 'expected a positive integer'],
    [positiveIntArg, 'ten', 'expected a positive integer'],
    [nonNegativeIntArg, '0', 0],
    [nonNegativeIntArg, '-1', 'expected a whole number >= 0'],
    [integerArg({ min: 1, max: 32 }), '32', 32],
    [integerArg({ min: 1, max: 32 }), '33', 'expected an integer from 1 to 32'],
    [portArg, '0', 0],
    [portArg, '65536', 'expected a port number from 0 to 65535'],
    [ratioArg, '0.95', 0.95],
    [ratioArg, '', 'expected a number from 0 to 1'],
    [ratioArg, '1.5', 'expected a number from 0 to 1'],
    [datasetArg, 'tickets', 'tickets'],
    [datasetArg, '../etc', 'expected a dataset name'],
  ] as Array<[(v: string) => unknown, string, unknown]>)('%o %j → %j', (parser, value, expected) => {
    expect(parse(parser, value)).toEqual(expected);
  });
});

/** Run the program as the command line would, capturing what commander writes and the error it throws. */
async function runProgram(args: string[]): Promise<{ out: string; err: string; thrown?: CommanderError }> {
  let out = '';
  let err = '';
  const program = buildProgram();
  const capture = (c: Command): void => {
    c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
    for (const sub of c.commands) capture(sub as Command);
  };
  capture(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { out, err };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, thrown: e };
  }
}

describe('trainset command line', () => {
  it('prints the version of package.json with --version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    const r = await runProgram(['--version']);
    expect(r.out.trim()).toBe(version);
    expect(r.thrown?.exitCode).toBe(0);
  });

  it('documents the exit codes in --help', async () => {
    const r = await runProgram(['--help']);
    expect(r.out).toContain('Exit codes:');
    for (const code of Object.values(ExitCode)) expect(r.out).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
  });

  it('refuses an invalid value with the parser message, before doing anything', async () => {
    const r = await runProgram(['labels', 'pending', 'tickets', '2026-11-01', '--limit', '0']);
    expect(r.thrown?.code).toBe('commander.invalidArgument');
    expect(r.err).toContain("option '--limit <n>' argument '0' is invalid. expected a positive integer");
  });
});

describe('runExitCode (trainset run)', () => {
  it.each([
    ['promoted', false, ExitCode.ok],
    ['first_champion', false, ExitCode.ok],
    ['unchanged', false, ExitCode.ok],
    ['versioned', false, ExitCode.ok],
    ['evaluated', false, ExitCode.ok],
    ['rejected', false, ExitCode.runRejected],
    ['rolled_back', false, ExitCode.runRolledBack],
    ['rejected', true, ExitCode.ok],
    ['rolled_back', true, ExitCode.ok],
  ] as Array<[RetrainOutcome, boolean, number]>)('%s (allowRejected %s) exits %d', (outcome, allowRejected, code) => {
    expect(runExitCode(outcome, { allowRejected })).toBe(code);
  });

  it('gives a rejected and a rolled-back run codes of their own, apart from failure and usage', () => {
    const codes = [ExitCode.ok, ExitCode.failure, ExitCode.usage, runExitCode('rejected'), runExitCode('rolled_back')];
    expect(new Set(codes).size).toBe(codes.length);
  });
});
