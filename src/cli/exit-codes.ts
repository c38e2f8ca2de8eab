/**
 * Exit codes of the `trainset` command, in one place; `trainset --help` prints EXIT_CODES_HELP.
 *
 * - 0 `ok`: the command did what was asked (`trainset run`: the run ended promoted, first champion, unchanged,
 *   versioned or evaluated; or was started with `--no-wait`).
 * - 1 `failure`: it could not: an error message on stderr (Temporal or the registry unreachable, no such run or
 *   version, the workflow failed), `datasets verify` found a problem, `ingest` could not read a file or the PII
 *   policy said fail.
 * - 2 `usage`: bad command line (unknown command or option, invalid value, missing argument); nothing was done.
 * - 3 `runRejected`: `trainset run` waited and the candidate was rejected (validation gate), unless `--allow-rejected`.
 * - 4 `runRolledBack`: `trainset run` waited and the canary rolled the candidate back, unless `--allow-rejected`.
 */
import type { RetrainOutcome } from '../shared/types';

/** The exit codes (see the module comment for when each is used). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  runRejected: 3,
  runRolledBack: 4,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code of `trainset run` for the outcome it waited for; a rejected or rolled-back run is 0 only when allowed. */
export function runExitCode(outcome: RetrainOutcome, opts: { allowRejected?: boolean } = {}): ExitCode {
  switch (outcome) {
    case 'rejected':
      return opts.allowRejected ? ExitCode.ok : ExitCode.runRejected;
    case 'rolled_back':
      return opts.allowRejected ? ExitCode.ok : ExitCode.runRolledBack;
    case 'promoted':
    case 'first_champion':
    case 'unchanged':
    case 'versioned':
    case 'evaluated':
      return ExitCode.ok;
  }
}

/** The exit codes as `--help` prints them. */
export const EXIT_CODES_HELP = `
Exit codes:
  ${ExitCode.ok}  ok
  ${ExitCode.failure}  failed: the message on stderr says why (also: datasets verify found a problem, ingest input or PII policy failure)
  ${ExitCode.usage}  bad command line (unknown option, invalid value, missing argument); nothing was done
  ${ExitCode.runRejected}  trainset run: the candidate was rejected by the validation gate (0 with --allow-rejected)
  ${ExitCode.runRolledBack}  trainset run: the canary rolled the candidate back (0 with --allow-rejected)`;
