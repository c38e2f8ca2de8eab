/** The `trainset` command tree (every subcommand registered), built apart from parsing so tests can inspect it. */
import { Command } from '@commander-js/extra-typings';
import { registerBackfillCommand } from './backfill-command';
import { registerDatasetCommands } from './datasets-command';
import { registerGateCommands } from './gate-command';
import { registerIngestCommand } from './ingest-command';
import { registerJobSyncCommand } from './job-sync-command';
import { registerOperatorCommands } from './operator-commands';
import { registerPiiCommands } from './pii-command';
import { registerRunsCommands } from './runs-command';
import { registerStackCommands } from './stack-commands';
import { registerWorkCommands } from './work-command';

/** The program with every command registered. */
export function buildProgram(): Command {
  const program = new Command()
    .name('trainset')
    .description(
      'Durable ML training-set pipeline on Temporal: versioned, PII-clean, labeled data; training; canary promotion with rollback.',
    )
    .showHelpAfterError();

  registerStackCommands(program);
  registerOperatorCommands(program);
  registerDatasetCommands(program);
  registerGateCommands(program);
  registerRunsCommands(program);
  registerPiiCommands(program);
  registerIngestCommand(program);
  registerBackfillCommand(program);
  registerWorkCommands(program);
  registerJobSyncCommand(program);
  return program;
}
