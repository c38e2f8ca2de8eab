/** `trainset monitor start | status | pause | resume | ack <dataset>`: the served model's monitorWorkflow. */
import type { Command } from '@commander-js/extra-typings';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { createDirSpecSource } from '../datasets/spec-source';
import { modelNameFor, monitorWorkflowId } from '../shared/ids';
import { MONITOR_BREACH_KINDS } from '../shared/monitor-kinds';
import { CPU_TASK_QUEUE } from '../shared/task-queues';
import type { MonitorBreachKind } from '../shared/types';
import { pauseSignal, resumeSignal } from '../workflows/messages';
import { acknowledgeSignal, monitorStatusQuery, monitorWorkflow, type MonitorStatus } from '../workflows/monitor';
import { positiveIntArg } from './args';
import { resolveConfig } from './context';
import { withClient } from './operator-commands';

/** The monitor's workflow id for a dataset: its spec names the model. */
async function monitorIdOf(dataset: string): Promise<string> {
  const { spec } = await createDirSpecSource(resolveConfig().specsDir).load(dataset);
  return monitorWorkflowId(modelNameFor(spec));
}

/** Human-readable lines of a monitor's status. */
export function monitorStatusLines(s: MonitorStatus): string[] {
  const lines = [
    `monitor of ${s.model ?? '?'} (dataset ${s.dataset})${s.paused ? ': PAUSED' : ''}`,
    `  windows judged: ${s.state.windows}; next window from ${s.nextWindowStart}`,
  ];
  const streaks = Object.entries(s.state.consecutive).filter(([, n]) => (n ?? 0) > 0);
  lines.push(`  breach streaks: ${streaks.length ? streaks.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`);
  if (s.acknowledged.length) lines.push(`  acknowledged: ${s.acknowledged.join(', ')}`);
  if (s.state.rolledBack.length) lines.push(`  rolled back: ${s.state.rolledBack.join(', ')}`);
  const w = s.lastWindow;
  if (w) {
    const f = w.figures;
    const acc = f.feedback > 0 ? (f.correct / f.feedback).toFixed(3) : 'n/a';
    lines.push(
      `  last window ${f.start} → ${f.end}, champion ${f.championVersion}: ${f.requests} requests, ${f.errors} errors, ` +
        `p95 ${f.p95LatencyMs.toFixed(1)} ms, live accuracy ${acc} (${f.feedback} labels)`,
    );
    for (const b of w.breaches) lines.push(`    breach ${b.kind}: ${b.reason}`);
  }
  for (const a of s.actions) lines.push(`  ${a.at} ${a.action} (${a.kind}): ${a.outcome}`);
  return lines;
}

/** Register `trainset monitor …`. */
export function registerMonitorCommands(program: Command): void {
  const monitor = program
    .command('monitor')
    .description("Watch a dataset's served champion: windows of live figures, alerts, retraining and rollback (monitorWorkflow)");

  monitor
    .command('start')
    .description("Start the monitor of the dataset's model (id monitor-<model>); a running one is left as it is")
    .argument('<dataset>')
    .option('--windows-per-run <n>', 'windows judged before the monitor continues as new', positiveIntArg)
    .action(async (dataset, opts) => {
      const workflowId = await monitorIdOf(dataset);
      await withClient(async (client) => {
        const handle = await client.workflow.start(monitorWorkflow, {
          taskQueue: CPU_TASK_QUEUE,
          workflowId,
          args: [{ dataset, ...(opts.windowsPerRun ? { windowsPerRun: opts.windowsPerRun } : {}) }],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        });
        console.log(`monitor ${workflowId} running (run ${handle.firstExecutionRunId})`);
      });
    });

  monitor
    .command('status')
    .description('What the monitor saw last: counters, last window, actions taken (the `status` query)')
    .argument('<dataset>')
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      const workflowId = await monitorIdOf(dataset);
      await withClient(async (client) => {
        const s = await client.workflow.getHandle(workflowId).query(monitorStatusQuery);
        if (opts.json) return void console.log(JSON.stringify(s, null, 2));
        monitorStatusLines(s).forEach((l) => console.log(l));
      });
    });

  for (const [name, signal, what] of [
    ['pause', pauseSignal, 'Stop judging windows until resumed (audited)'],
    ['resume', resumeSignal, 'Judge windows again, starting now (audited)'],
  ] as const) {
    monitor
      .command(name)
      .description(what)
      .argument('<dataset>')
      .option('--reason <text>', 'why (kept in the audit log)')
      .action(async (dataset, opts) => {
        const workflowId = await monitorIdOf(dataset);
        await withClient(async (client) => {
          await client.workflow.getHandle(workflowId).signal(signal, { reason: opts.reason, actor: process.env.USER ?? 'cli' });
          console.log(`${name} sent to ${workflowId}`);
        });
      });
  }

  monitor
    .command('ack')
    .description("Acknowledge a breach kind's alert: no further alerts of that kind until a window finds it healthy (audited)")
    .argument('<dataset>')
    .argument('<kind>', MONITOR_BREACH_KINDS.join(' | '))
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (dataset, kind, opts) => {
      if (!MONITOR_BREACH_KINDS.includes(kind as MonitorBreachKind))
        throw new Error(`trainset monitor ack: kind must be one of ${MONITOR_BREACH_KINDS.join(', ')}`);
      const workflowId = await monitorIdOf(dataset);
      await withClient(async (client) => {
        await client.workflow
          .getHandle(workflowId)
          .signal(acknowledgeSignal, { kind: kind as MonitorBreachKind, reason: opts.reason, actor: process.env.USER ?? 'cli' });
        console.log(`acknowledged ${kind} on ${workflowId}`);
      });
    });
}
