/** `npm run demo`: three days through the whole pipeline on the embedded stack, with progress and a summary. */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { modelNameFor } from '../shared/ids';
import type { RetrainInput, RetrainResult } from '../shared/types';
import { embeddedEnv, loadConfig } from '../workers/config';
import { createLogger, installTemporalLogger } from '../workers/logger';
import { startStack } from '../workers/stack';
import { dateRange, writeSamplePartitions } from './sample-data';
import { startRun, watchRun } from './run-watch';
import { summaryLines } from './summary';

const DATASET = 'tickets';
const MODEL = modelNameFor(DATASET);

/** Run one pipeline and print its progress until it ends. */
export async function runAndWatch(
  client: Client,
  input: RetrainInput & { logicalDate: string },
  say: (l: string) => void,
): Promise<{ workflowId: string; result: RetrainResult }> {
  const handle = await startRun(client, input);
  return { workflowId: handle.workflowId, result: await watchRun(handle, say, `  [${input.logicalDate}] `) };
}

/** The demo: day 1 sets the champion, day 2 promotes a better candidate, day 3 (bad model) is rolled back. */
export async function runDemo(opts: { cwd?: string; keep?: boolean } = {}): Promise<void> {
  const started = Date.now();
  const cwd = opts.cwd ?? process.cwd();
  const home = path.join(cwd, '.trainset', 'demo');
  await rm(home, { recursive: true, force: true });
  // The demo always runs embedded, whatever production settings the shell carries.
  const env = embeddedEnv(process.env, { TRAINSET_HOME: home, GATEWAY_PORT: '0' });
  const config = loadConfig(env, cwd);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'trainset-demo');
  installTemporalLogger(logger, 'WARN');
  const say = (l: string): void => console.log(l);
  say('trainset demo: three days of support tickets through ingest → PII → dedupe → labels → version → train → validate → canary');
  const stack = await startStack({ config, logger, say, defaultModel: MODEL, temporalPort: 0, registryPort: 0, gatewayPort: 0 });
  try {
    const days = dateRange('2026-11-01', 3);
    await writeSamplePartitions(stack.backends.blobs, { dataset: DATASET, dates: days, count: 600 });
    say(`wrote sample partitions for ${days.join(', ')} to ${stack.backends.blobs.uri}/raw/${DATASET}/`);
    const plan: Array<{ date: string; input: RetrainInput & { logicalDate: string }; expect: string }> = [
      { date: days[0]!, input: { dataset: DATASET, logicalDate: days[0]! }, expect: 'first model becomes champion' },
      { date: days[1]!, input: { dataset: DATASET, logicalDate: days[1]! }, expect: 'better candidate promoted through the canary' },
      {
        date: days[2]!,
        input: {
          dataset: DATASET,
          logicalDate: days[2]!,
          badModel: true,
          // The offline gate would reject a model trained on shuffled labels; the override (audited) lets the
          // demo show the canary's own defence: live accuracy vs the champion, and an automatic rollback.
          gateOverride: { reason: 'demo: push a bad model past the gate to exercise the canary rollback', actor: 'demo' },
        },
        expect: 'bad model (shuffled labels) rolled back automatically by the canary',
      },
    ];
    const summaries: string[] = [];
    for (const [i, step] of plan.entries()) {
      say(`\nday ${i + 1} (${step.date}): ${step.expect}`);
      const { workflowId, result } = await runAndWatch(stack.client, step.input, say);
      const lines = summaryLines(result, { uiUrl: stack.uiUrl, workflowId });
      lines.forEach((l) => say(l));
      summaries.push(...lines, '');
    }
    say('\n=== summary ===');
    summaries.forEach((l) => say(l));
    const champion = await stack.backends.registry.models.getAlias(MODEL, 'champion');
    say(`final champion: ${champion ? `${champion.id} (version ${champion.version}, trained on ${champion.datasetVersion})` : 'none'}`);
    say(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (opts.keep) {
      say(`Temporal UI: ${stack.uiUrl ?? 'n/a'} — the stack keeps running; press Ctrl-C to stop it`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    } else {
      say(
        `Temporal UI: ${stack.uiUrl ?? 'n/a'} (the dev server stops when the demo exits: \`npm run demo -- --keep\` keeps it up to inspect the runs)`,
      );
    }
  } finally {
    await stack.stop();
  }
}
