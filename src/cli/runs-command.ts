/** `trainset runs list | show`: pipeline runs with their outcome and report. */
import type { Command } from '@commander-js/extra-typings';
import { writeFile } from 'node:fs/promises';
import { positiveIntArg } from './args';
import { withBackends } from './operator-commands';

/** Register the runs commands. */
export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('Pipeline runs: outcome and report');

  runs
    .command('list')
    .description('Runs, newest first, with their outcome and report')
    .option('--dataset <name>', 'only this dataset')
    .option('--limit <n>', 'at most this many', positiveIntArg, 20)
    .option('--json', 'print JSON')
    .action(async (opts) => {
      await withBackends(async (b) => {
        const list = await b.registry.runs.list({ dataset: opts.dataset, limit: opts.limit });
        if (opts.json) return void console.log(JSON.stringify(list, null, 2));
        if (list.length === 0) return void console.log('no runs with a report yet');
        for (const r of list) {
          console.log(`${r.finishedAt}  ${r.workflowId.padEnd(36)} ${r.outcome.padEnd(15)} ${b.blobs.uri}/${r.reportKey}`);
        }
      });
    });

  runs
    .command('show')
    .description("A run's summary (Markdown) and where its HTML report is")
    .argument('<id>', 'workflow id (latest run) or run id')
    .option('--html <file>', 'also write the HTML report to this file')
    .action(async (id, opts) => {
      await withBackends(async (b) => {
        const run = await b.registry.runs.get(id);
        if (!run) throw new Error(`no run ${id} with a report (see: npx trainset runs list)`);
        process.stdout.write((await b.blobs.get(run.summaryKey)).toString('utf8'));
        console.log(`\nreport: ${b.blobs.uri}/${run.reportKey}`);
        if (opts.html) {
          await writeFile(opts.html, await b.blobs.get(run.reportKey));
          console.log(`written to ${opts.html}`);
        }
      });
    });
}
