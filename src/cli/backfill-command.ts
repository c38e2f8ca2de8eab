/** `trainset backfill`: start backfillWorkflow and print the stock Temporal CLI commands that do the same. */
import type { Command } from '@commander-js/extra-typings';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { BackfillInput, BackfillResult } from '../shared/backfill';
import { backfillWorkflowId, shiftDate } from '../shared/ids';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import { MAX_CONCURRENCY, backfillInputProblems } from '../workflows/backfill-plan';
import { backfillWorkflow, progressQuery } from '../workflows/backfill';
import { dateArg, integerArg, ratioArg } from './args';
import { connectClient, resolveConfig } from './context';

const concurrencyArg = integerArg({ min: 1, max: MAX_CONCURRENCY });

/** Shell-quote one argument for printing (single quotes; the input JSON never needs more). */
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The `temporal workflow start` command equivalent to `trainset backfill` with this input. */
export function temporalStartCommand(workflowId: string, input: BackfillInput): string {
  return (
    `temporal workflow start --type backfillWorkflow --task-queue ${CPU_TASK_QUEUE} ` +
    `--workflow-id ${workflowId} --input ${sq(JSON.stringify(input))}`
  );
}

/** The operator commands for a running backfill (signals and the progress query). */
export function temporalControlCommands(workflowId: string): string[] {
  return [
    `temporal workflow query --workflow-id ${workflowId} --type progress`,
    `temporal workflow signal --workflow-id ${workflowId} --name setConcurrency --input '{"concurrency":8}'`,
    `temporal workflow signal --workflow-id ${workflowId} --name pause`,
    `temporal workflow signal --workflow-id ${workflowId} --name resume`,
    `temporal workflow result --workflow-id ${workflowId}`,
  ];
}

/** Register `trainset backfill` and `trainset backfill-progress`. */
export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('Retrain every partition from --from to --to (backfillWorkflow); skips partitions already done')
    .argument('<dataset>')
    .requiredOption('--from <YYYY-MM-DD>', 'first partition', dateArg)
    .requiredOption('--to <YYYY-MM-DD>', 'last partition (inclusive)', dateArg)
    .option('--concurrency <n>', 'partition runs in flight at once', concurrencyArg, 4)
    .option('--min-success-ratio <r>', 'share of partitions that must succeed (default 1)', ratioArg)
    .option('--dry-run', 'list what would be started and what is already done; start nothing')
    .option(
      '--train <mode>',
      'after each day\'s dataset version: "none" (default: no GPU time) or "all" (also train, register and evaluate); a backfill never deploys',
    )
    .action(async (dataset, opts) => {
      const input: BackfillInput = { dataset, from: opts.from, to: opts.to, concurrency: opts.concurrency };
      if (opts.minSuccessRatio !== undefined) input.minSuccessRatio = opts.minSuccessRatio;
      if (opts.dryRun) input.dryRun = true;
      if (opts.train !== undefined) input.train = opts.train as BackfillInput['train'];
      // The workflow checks its input too; checking here says what is wrong before anything starts.
      const problems = backfillInputProblems(input);
      if (problems.length > 0) throw new Error(`invalid backfill: ${problems.join('; ')}`);
      // The day a nightly run is about to process, run by a backfill, is built without deploying, and the nightly run
      // then finds it done: that day's model is never trained or deployed.
      const yesterday = shiftDate(new Date().toISOString().slice(0, 10), 1);
      if (!opts.dryRun && opts.to >= yesterday) {
        console.error(
          `warning: the range ends at ${opts.to}; a backfill never deploys, and the nightly run for ${yesterday} will find that ` +
            `day done by this backfill and not train or deploy it. End the range before ${yesterday}, or run that day ` +
            `first: npx trainset run ${dataset} --date ${yesterday}`,
        );
      }
      const workflowId = `${backfillWorkflowId(dataset, opts.from, opts.to)}${opts.dryRun ? '-dry-run' : ''}`;
      const { client, close } = await connectClient(resolveConfig());
      try {
        let handle;
        try {
          handle = await client.workflow.start(backfillWorkflow, { taskQueue: CPU_TASK_QUEUE, workflowId, args: [input] });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          throw new Error(
            `a backfill of this range is already running: ${workflowId}; see its progress with\n  ${temporalControlCommands(workflowId)[0]}`,
          );
        }
        console.log(`started ${workflowId} (run ${handle.firstExecutionRunId})`);
        console.log(`same with the Temporal CLI:\n  ${temporalStartCommand(workflowId, input)}`);
        if (opts.dryRun) {
          printDryRun(await handle.result());
          return;
        }
        console.log('control it with:');
        for (const c of temporalControlCommands(workflowId)) console.log(`  ${c}`);
      } finally {
        await close();
      }
    });

  program
    .command('backfill-progress')
    .description('Show the progress of a backfill (the `progress` query)')
    .argument('<workflowId>')
    .action(async (workflowId) => {
      const { client, close } = await connectClient(resolveConfig());
      try {
        console.log(JSON.stringify(await client.workflow.getHandle(workflowId).query(progressQuery), null, 2));
      } finally {
        await close();
      }
    });
}

function printDryRun(r: BackfillResult): void {
  const d = r.dryRun;
  if (!d) return;
  const line = (label: string, ps: string[]): void => console.log(`${label} (${ps.length}): ${ps.join(' ') || '—'}`);
  line('would start', d.wouldStart);
  line('already done, skipped', d.alreadyDone);
  line('running elsewhere, would wait', d.running);
}
