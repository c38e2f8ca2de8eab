/** `npm run demo`: three days through the whole pipeline on the embedded stack (a fourth with --monitor), with progress and a summary. */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import YAML from 'yaml';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { createGatewayClient } from '../serving/http-client';
import { generateTicketLines } from '../samples/tickets/generate';
import { modelNameFor, monitorWorkflowId } from '../shared/ids';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import { SHUFFLE_LABELS } from '../shared/trainer-spec';
import type { RetrainInput, RetrainResult } from '../shared/types';
import { embeddedEnv, loadConfig } from '../workers/config';
import { createLogger, installTemporalLogger } from '../workers/logger';
import { startStack } from '../workers/stack';
import { dateRange, writeSamplePartitions } from '../samples/index';
import { monitorStatusQuery, monitorWorkflow } from '../workflows/monitor';
import { monitorStatusLines } from './monitor-command';
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

/** The interpreter the PyTorch reference trainer runs with (Debian's, which has python3-torch). */
export const PYTHON = '/usr/bin/python3';

/** Resolves when PYTHON imports torch and numpy; rejects with what to do otherwise. */
export function checkTorch(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', 'import torch, numpy'], { timeout: 120_000 }, (err) =>
      err
        ? reject(
            new Error(
              `the PyTorch trainer needs ${PYTHON} with torch and numpy, which this machine lacks: install them with \`bash scripts/python-trainer.sh install\` (Debian's python3-torch), or run the demo with the builtin trainer`,
            ),
          )
        : resolve(),
    );
  });
}

/** The tickets spec of the demo's own copy of the specs, parsed, and where it is written. */
interface DemoSpec {
  file: string;
  spec: Record<string, unknown>;
}

/**
 * The demo's copy of the specs (under its home, so the repository's specs/ are never edited): the tickets spec as
 * is, or training with the PyTorch reference trainer. Returns the folder and the tickets spec.
 */
async function demoSpecs(cwd: string, home: string, pytorch: boolean, monitor: boolean): Promise<{ dir: string; tickets: DemoSpec }> {
  const dir = path.join(home, 'specs');
  await mkdir(dir, { recursive: true });
  const spec = YAML.parse(await readFile(path.join(cwd, 'specs', `${DATASET}.yaml`), 'utf8')) as Record<string, unknown>;
  // The fourth day's monitor: 10-second windows, two breached windows in a row act; started by the demo itself
  // before day 4 (not on its own during days 1-3, so the first three days run as without --monitor).
  if (monitor) spec.monitor = DEMO_MONITOR;
  if (pytorch) {
    const trainer = { ...(spec.trainer as Record<string, unknown>) };
    delete trainer.learningRate;
    spec.trainer = { ...trainer, backend: 'process', command: [PYTHON, 'trainers/pytorch/train.py'], epochs: 10, hyperparameters: {} };
  }
  const tickets = { file: path.join(dir, `${DATASET}.yaml`), spec };
  await writeFile(tickets.file, YAML.stringify(spec));
  return { dir, tickets };
}

/** The monitor section of the demo's spec with --monitor. */
const DEMO_MONITOR = {
  autoStart: false,
  windowSeconds: 10,
  minRequests: 20,
  minFeedback: 20,
  consecutiveWindows: 2,
  actions: { drift: 'alert' },
};

/**
 * Day 4 of `demo --monitor`: the promoted champion decays in production. Traffic through the gateway carries
 * feedback that every answer is wrong; the monitor (10-second windows) rolls the champion back to the previous one.
 * Returns the status lines of the monitor and the rollback time.
 */
async function monitorDay(
  client: Client,
  gatewayUrl: string,
  registry: { deployments: { getDeployment(model: string): Promise<{ championVersion: string } | undefined> } },
  say: (l: string) => void,
): Promise<string[]> {
  const before = (await registry.deployments.getDeployment(MODEL))?.championVersion;
  const monitor = await client.workflow.start(monitorWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: monitorWorkflowId(MODEL),
    args: [{ dataset: DATASET }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  say(`  monitor ${monitor.workflowId} watching ${before ?? 'nothing'} in 10-second windows (npx trainset monitor status ${DATASET})`);
  const gateway = createGatewayClient(gatewayUrl);
  const inputs = generateTicketLines({ date: '2026-11-04', count: 300, seed: 404, badLineFraction: 0, duplicateFraction: 0 }).map(
    (g) => JSON.parse(g.line) as Record<string, unknown>,
  );
  const classes = ['billing', 'technical', 'account', 'shipping'];
  let sent = 0;
  let stop = false;
  const started = Date.now();
  const traffic = (async () => {
    while (!stop) {
      const p = await gateway.predict(MODEL, `demo-decay-${sent}`, inputs[sent++ % inputs.length]!);
      // Ground truth that says the champion is always wrong: its live accuracy falls to 0.
      await gateway.feedback(
        MODEL,
        p.predictionId,
        classes.find((c) => c !== p.label)!,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let after = before;
  try {
    for (let ticks = 0; after === before && ticks < 180 * 4; ticks++) {
      await new Promise((r) => setTimeout(r, 250));
      after = (await registry.deployments.getDeployment(MODEL))?.championVersion;
    }
  } finally {
    stop = true;
    await traffic;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const lines =
    after === before
      ? [`monitor: no rollback within 180 s (${sent} requests)`]
      : [`monitor: rolled ${before} back to ${after} ${seconds} s after the traffic began (${sent} requests)`];
  lines.push(...monitorStatusLines(await monitor.query(monitorStatusQuery)));
  await monitor.terminate('demo over');
  return lines;
}

/**
 * A spec whose trainer section asks for permuted train labels (trainer.hyperparameters.shuffleLabels), as a broken
 * upstream change would: the model it trains must be caught. The demo's day 3 (and the e2e test's) runs with it.
 */
export function withShuffledLabels(spec: Record<string, unknown>): Record<string, unknown> {
  const trainer = spec.trainer as Record<string, unknown>;
  const hyperparameters = { ...((trainer.hyperparameters as Record<string, unknown> | undefined) ?? {}), [SHUFFLE_LABELS]: true };
  return { ...spec, trainer: { ...trainer, hyperparameters } };
}

/** The demo: day 1 sets the champion, day 2 promotes a better candidate, day 3 (bad model) is rolled back. */
export async function runDemo(
  opts: { cwd?: string; keep?: boolean; trainer?: 'builtin' | 'pytorch'; monitor?: boolean } = {},
): Promise<void> {
  const started = Date.now();
  const cwd = opts.cwd ?? process.cwd();
  const home = path.join(cwd, '.trainset', 'demo');
  await rm(home, { recursive: true, force: true });
  const pytorch = opts.trainer === 'pytorch';
  if (pytorch) await checkTorch();
  // The demo always runs embedded, whatever production settings the shell carries.
  const specs = await demoSpecs(cwd, home, pytorch, opts.monitor === true);
  const env = embeddedEnv(process.env, {
    TRAINSET_HOME: home,
    GATEWAY_PORT: '0',
    SPECS_DIR: specs.dir,
    ...(pytorch ? { TRAINSET_TRAINERS_DIR: cwd } : {}),
  });
  const config = loadConfig(env, cwd);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'trainset-demo');
  installTemporalLogger(logger, 'WARN');
  const say = (l: string): void => console.log(l);
  say('trainset demo: three days of support tickets through ingest → PII → dedupe → labels → version → train → validate → canary');
  say(
    pytorch
      ? `trainer: the PyTorch reference trainer (trainers/pytorch/train.py with ${PYTHON}, process backend, CPU)`
      : 'trainer: builtin hashed logistic regression (`npm run demo -- --trainer pytorch` trains with PyTorch where python3-torch is installed)',
  );
  const stack = await startStack({ config, logger, say, defaultModel: MODEL, temporalPort: 0, registryPort: 0, gatewayPort: 0 });
  try {
    const days = dateRange('2026-11-01', 3);
    await writeSamplePartitions(stack.backends.blobs, { dataset: DATASET, dates: days, count: 600 });
    say(`wrote sample partitions for ${days.join(', ')} to ${stack.backends.blobs.uri}/raw/${DATASET}/`);
    const plan: Array<{ date: string; input: RetrainInput & { logicalDate: string }; expect: string; before?: () => Promise<void> }> = [
      { date: days[0]!, input: { dataset: DATASET, logicalDate: days[0]! }, expect: 'first model becomes champion' },
      { date: days[1]!, input: { dataset: DATASET, logicalDate: days[1]! }, expect: 'better candidate promoted through the canary' },
      {
        date: days[2]!,
        input: {
          dataset: DATASET,
          logicalDate: days[2]!,
          // The offline gate would reject a model trained on shuffled labels; the override (audited) lets the
          // demo show the canary's own defence: live accuracy vs the champion, and an automatic rollback.
          gateOverride: { reason: 'demo: push a bad model past the gate to exercise the canary rollback', actor: 'demo' },
        },
        expect: 'bad model (shuffled labels) rolled back automatically by the canary',
        before: async () => {
          await writeFile(specs.tickets.file, YAML.stringify(withShuffledLabels(specs.tickets.spec)));
          say(`  the demo's tickets spec now sets trainer.hyperparameters.${SHUFFLE_LABELS}: true (${specs.tickets.file})`);
        },
      },
    ];
    const summaries: string[] = [];
    for (const [i, step] of plan.entries()) {
      say(`\nday ${i + 1} (${step.date}): ${step.expect}`);
      await step.before?.();
      const { workflowId, result } = await runAndWatch(stack.client, step.input, say);
      const lines = summaryLines(result, { uiUrl: stack.uiUrl, workflowId });
      lines.forEach((l) => say(l));
      summaries.push(...lines, '');
    }
    if (opts.monitor) {
      say(`\nday 4 (2026-11-04): the champion decays in production; the monitor rolls it back`);
      // Day 3's spec trains on shuffled labels; the monitor reads the same file, so put back the original trainer.
      await writeFile(specs.tickets.file, YAML.stringify(specs.tickets.spec));
      const lines = await monitorDay(stack.client, stack.gatewayUrl, stack.backends.registry, say);
      lines.forEach((l) => say(`  ${l}`));
      summaries.push(lines[0]!, '');
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
