/** `trainset run | status | rollback | schedule | sample | models`: operator commands. */
import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import type { Client } from '@temporalio/client';
import { rollbackSignal, statusQuery } from '../workflows/messages';
import { partitionRunQuery } from '../workflows/nightly';
import { resolveRunMode } from '../shared/run-mode';
import { modelNameFor, nightlyScheduleId, shiftDate } from '../shared/ids';
import type { RetrainInput } from '../shared/types';
import { createBlobStore } from '../storage';
import { openBackends } from '../workers/backends';
import { connectClient, resolveConfig } from './context';
import { modelVersionDetails, modelVersionLines } from './models-show';
import { dateRange, writeSamplePartitions } from '../samples/index';
import { applySchedule } from './schedules';
import { startRun, watchRun } from './run-watch';
import { summaryLines } from './summary';
import { dateArg, positiveIntArg } from './args';
import { EXIT_CODES_HELP, runExitCode } from './exit-codes';

/** Run fn with a connected Temporal client. */
export async function withClient<T>(fn: (c: Awaited<ReturnType<typeof connectClient>>['client']) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient(resolveConfig());
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

/** Run fn with the registry and blob store. */
export async function withBackends<T>(fn: (b: Awaited<ReturnType<typeof openBackends>>) => Promise<T>): Promise<T> {
  const config = resolveConfig();
  if (!config.databaseUrl) throw new Error('no registry: set DATABASE_URL or start the embedded stack with `npx trainset up`');
  const b = await openBackends(config, { migrate: false });
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Register the operator commands. */
export function registerOperatorCommands(program: Command): void {
  program
    .command('run')
    .description('Start retrainPipelineWorkflow for one partition (default: yesterday, UTC)')
    .argument('<dataset>')
    .option('--date <YYYY-MM-DD>', 'partition to process', dateArg)
    .option('--override-gate <reason>', 'let the candidate past a failed validation gate (audited)')
    .option('--train <mode>', '"all" (default): train, register and evaluate a model; "none": build the dataset version only')
    .option('--deploy <mode>', '"auto" (default): canary and promote if this is the newest partition processed; "never": do not deploy')
    .option('--no-wait', 'return once started')
    .option('--allow-rejected', 'exit 0 also when the candidate is rejected or rolled back')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (dataset, opts) => {
      const date = opts.date ?? shiftDate(new Date().toISOString().slice(0, 10), 1);
      const input: RetrainInput = { dataset, logicalDate: date };
      if (opts.train !== undefined) input.train = opts.train as RetrainInput['train'];
      if (opts.deploy !== undefined) input.deploy = opts.deploy as RetrainInput['deploy'];
      const mode = resolveRunMode(input);
      if ('problems' in mode) throw new Error(`trainset run: ${mode.problems.join('; ')}`);
      if (opts.overrideGate) input.gateOverride = { reason: opts.overrideGate, actor: process.env.USER ?? 'cli' };
      await withClient(async (client) => {
        const handle = await startRun(client, { ...input, logicalDate: date });
        console.log(`started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        if (!opts.wait) return;
        const result = await watchRun(handle, (l) => console.log(l), '  ', 500);
        summaryLines(result, { workflowId: handle.workflowId }).forEach((l) => console.log(l));
        process.exitCode = runExitCode(result.outcome, { allowRejected: opts.allowRejected });
      });
    });

  program
    .command('status')
    .description('Show the stage and counters of a pipeline run (the `status` query)')
    .argument('<workflowId>')
    .action(async (workflowId) => {
      await withClient(async (client) => {
        const target = await partitionRunOf(client, workflowId);
        console.log(JSON.stringify(await client.workflow.getHandle(target).query(statusQuery), null, 2));
      });
    });

  program
    .command('rollback')
    .description('Roll back a running canary at once (the `rollback` signal)')
    .argument('<workflowId>')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (workflowId, opts) => {
      await withClient(async (client) => {
        const target = await partitionRunOf(client, workflowId);
        await client.workflow.getHandle(target).signal(rollbackSignal, { reason: opts.reason });
        console.log(`rollback signalled to ${target}`);
      });
    });

  const schedule = program.command('schedule').description('The nightly Temporal Schedule of a dataset');
  schedule
    .command('apply')
    .description('Create or update (idempotently) the nightly schedule (nightlyRetrainWorkflow: one retrainPipelineWorkflow run per day)')
    .argument('<dataset>')
    .option('--cron <expr>', 'cron expression', '0 2 * * *')
    .option('--timezone <tz>', 'IANA time zone', 'UTC')
    .addOption(
      new Option('--overlap <policy>', 'overlap policy')
        .choices(['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const)
        .default('BUFFER_ALL' as const),
    )
    .option('--catchup-window <duration>', 'missed runs caught up after an outage', '1 day')
    .option('--paused', 'create it paused')
    .action(async (dataset, opts) => {
      await withClient(async (client) => {
        const what = await applySchedule(client, {
          dataset,
          cron: opts.cron,
          timezone: opts.timezone,
          overlap: opts.overlap,
          catchupWindow: opts.catchupWindow,
          paused: opts.paused,
        });
        console.log(`${what} schedule ${nightlyScheduleId(dataset)} (${opts.cron} ${opts.timezone}, overlap ${opts.overlap})`);
      });
    });
  for (const [name, description] of [
    ['describe', 'Show the schedule'],
    ['pause', 'Pause the schedule'],
    ['unpause', 'Resume the schedule'],
    ['trigger', 'Start a run now'],
    ['delete', 'Delete the schedule'],
  ] as const) {
    schedule
      .command(name)
      .description(description)
      .argument('<dataset>')
      .action(async (dataset) => {
        await withClient(async (client) => {
          const h = client.schedule.getHandle(nightlyScheduleId(dataset));
          if (name === 'describe') console.log(JSON.stringify(await h.describe(), null, 2));
          else if (name === 'pause') await h.pause('paused with trainset schedule pause');
          else if (name === 'unpause') await h.unpause('unpaused with trainset schedule unpause');
          else if (name === 'trigger') await h.trigger();
          else await h.delete();
          if (name !== 'describe') console.log(`${name}: ${nightlyScheduleId(dataset)}`);
        });
      });
  }

  program
    .command('sample')
    .description('Write seeded sample partitions into the blob store (raw/<dataset>/<date>/): reviews for `reviews`, else tickets')
    .argument('[dataset]', 'dataset name', 'tickets')
    .requiredOption('--from <YYYY-MM-DD>', 'first day', dateArg)
    .option('--days <n>', 'how many days', positiveIntArg, 3)
    .option('--count <n>', 'lines per day', positiveIntArg, 600)
    .action(async (dataset, opts) => {
      // Only the blob store is needed: this works without a registry (and without `trainset up`).
      const config = resolveConfig();
      const blobs = createBlobStore(config.blob.kind === 'fs' ? { kind: 'fs', dir: config.blob.dir } : { ...config.blob });
      const keys = await writeSamplePartitions(blobs, { dataset, dates: dateRange(opts.from, opts.days), count: opts.count });
      keys.forEach((k) => console.log(`${blobs.uri}/${k}`));
    });

  const models = program.command('models').description('The model registry');
  models
    .command('list')
    .description('Versions of a dataset model, newest first')
    .argument('[dataset]', 'dataset', 'tickets')
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      await withBackends(async (b) => {
        const versions = await b.registry.models.listVersions(modelNameFor((await b.specs.load(dataset)).spec));
        if (opts.json) return void console.log(JSON.stringify(versions, null, 2));
        for (const v of versions) {
          console.log(`${v.id}  v${v.version}  ${v.status.padEnd(10)} dataset ${v.datasetVersion}  ${v.createdAt}`);
        }
      });
    });
  models
    .command('show')
    .description('One version: artifact URI, dataset version, trainer, code version, training cost, metrics, gate record')
    .argument('<model-version>', 'model version id (see: npx trainset models list)')
    .option('--json', 'print JSON')
    .action(async (id, opts) => {
      await withBackends(async (b) => {
        const d = await modelVersionDetails(b.registry, b.blobs.uri, id);
        console.log(opts.json ? JSON.stringify(d, null, 2) : modelVersionLines(d).join('\n'));
      });
    });
  models
    .command('history')
    .description('Every alias move (champion, candidate): who, when, why, from which workflow')
    .argument('[dataset]', 'dataset', 'tickets')
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      await withBackends(async (b) => {
        const history = await b.registry.models.aliasHistory(modelNameFor((await b.specs.load(dataset)).spec));
        if (opts.json) return void console.log(JSON.stringify(history, null, 2));
        for (const h of history) {
          console.log(`${h.at}  ${h.alias.padEnd(9)} ${h.fromVersion ?? '-'} → ${h.toVersion ?? '-'}  by ${h.actor}  (${h.reason})`);
        }
      });
    });
}

/**
 * The pipeline run behind a workflow id: a nightly run (nightlyRetrainWorkflow) processes its day as a child
 * `retrain-<dataset>-<day>`, and `status`, `rollback` and `labels submit` mean that run; any other id is itself.
 * Says so on stderr.
 */
export async function partitionRunOf(client: Client, workflowId: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  if ((await handle.describe()).type !== 'nightlyRetrainWorkflow') return workflowId;
  const { partitionWorkflowId } = await handle.query(partitionRunQuery);
  console.error(`${workflowId} runs its day as ${partitionWorkflowId}; acting on that run`);
  return partitionWorkflowId;
}
