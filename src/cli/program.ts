/** The `trainset` command tree (every subcommand registered), built apart from parsing so tests can inspect it. */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { EXIT_CODES_HELP } from './exit-codes';
import { registerBackfillCommand } from './backfill-command';
import { registerCodecServerCommand } from './codec-server-command';
import { registerDatasetCommands } from './datasets-command';
import { registerGateCommands } from './gate-command';
import { registerGatewayTokenCommand } from './gateway-token-command';
import { registerIngestCommand } from './ingest-command';
import { registerJobSyncCommand } from './job-sync-command';
import { registerLabelsCommands } from './labels-command';
import { registerMonitorCommands } from './monitor-command';
import { registerOperatorCommands } from './operator-commands';
import { registerPiiCommands } from './pii-command';
import { registerRunsCommands } from './runs-command';
import { registerStackCommands } from './stack-commands';
import { registerWorkCommands } from './work-command';

/** The version in the project's package.json: the nearest one above this module (src/cli or dist/cli). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

/**
 * The program with every command registered. Usage errors, `--help` and `--version` throw commander's
 * CommanderError instead of exiting (every subcommand inherits it), so main.ts maps them onto ExitCode.
 */
export function buildProgram(): Command {
  const program = new Command()
    .name('trainset')
    .description(
      'Durable ML training-set pipeline on Temporal: versioned, PII-clean, labeled data; training; canary promotion with rollback.',
    )
    .version(packageVersion())
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError()
    .exitOverride();

  registerStackCommands(program);
  registerOperatorCommands(program);
  registerLabelsCommands(program);
  registerMonitorCommands(program);
  registerDatasetCommands(program);
  registerGateCommands(program);
  registerRunsCommands(program);
  registerPiiCommands(program);
  registerIngestCommand(program);
  registerBackfillCommand(program);
  registerWorkCommands(program);
  registerJobSyncCommand(program);
  registerCodecServerCommand(program);
  registerGatewayTokenCommand(program);
  return program;
}
