/**
 * deploy/prometheus/alerts.yml: promtool accepts the rules and passes their unit tests (alerts.test.yml), every metric
 * a rule names is one the code registers (pipeline, gateway and GPU lease registries, built as the processes build
 * them), and every alert carries the labels and annotations a responder needs, with its section in the runbook.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createFeedbackCapture } from '../../src/serving/feedback-capture';
import { createGatewayMetrics } from '../../src/serving/gateway-metrics';
import { createGpuLeases } from '../../src/training/gpu-inventory';
import { createPipelineMetrics } from '../../src/workers/pipeline-metrics';

const root = path.resolve(__dirname, '../..');
const rulesPath = path.join(root, 'deploy/prometheus/alerts.yml');
const rulesTestPath = path.join(root, 'deploy/prometheus/alerts.test.yml');
const runbook = readFileSync(path.join(root, 'docs/runbook.md'), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTestFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

const rulesText = readFileSync(rulesPath, 'utf8');
const rules = (text: string): Rule[] => (parse(text) as RuleFile).groups.flatMap((g) => g.rules);
const alerts = rules(rulesText).filter((r) => r.alert !== undefined);

/** $PROMTOOL_PATH, which `scripts/services.sh up` builds and writes into .trainset/services.env; never a silent skip. */
function promtool(): string {
  const bin = process.env.PROMTOOL_PATH ?? '';
  if (bin === '') {
    throw new Error(
      'PROMTOOL_PATH is not set. Run `bash scripts/services.sh up`: it builds promtool v0.316.0 into ~/.cache/trainset/bin ' +
        '(a few minutes, once) and writes PROMTOOL_PATH into .trainset/services.env, which the test setup exports.',
    );
  }
  if (!existsSync(bin)) throw new Error(`PROMTOOL_PATH=${bin} does not exist. Rerun \`bash scripts/services.sh up\` or fix the variable.`);
  return bin;
}

/** Runs promtool; a non-zero exit fails with its whole output. */
async function runPromtool(...args: string[]): Promise<string> {
  const bin = promtool();
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, args, { cwd: root });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed (exit ${String(e.code)}):\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** Metric names in a PromQL expression: strings, label matchers and ranges removed, then trainset/gateway identifiers. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...bare.matchAll(/(?<![\w:])(?:trainset|gateway)[_:][A-Za-z0-9_:]*/g)].map((m) => m[0]);
}

/** Names a scrape of the processes shows (a histogram as _bucket, _sum and _count), from the registries the code builds. */
async function registeredNames(): Promise<Set<string>> {
  const gpuRegistry = new Registry();
  createGpuLeases([{ id: '0' }], { metrics: gpuRegistry });
  const gateway = createGatewayMetrics(() => []).registry;
  // The feedback capture registers its metrics on the gateway's registry.
  await createFeedbackCapture({ blobs: { put: async () => undefined }, resolve: async () => undefined, registry: gateway }).close();
  const registries = [createPipelineMetrics().registry, gateway, gpuRegistry];
  const names = new Set<string>();
  for (const registry of registries) {
    for (const m of await registry.getMetricsAsJSON()) {
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
      else names.add(m.name);
    }
  }
  return names;
}

/** Each name a rule's expression uses that neither the code registers nor a recording rule of the file defines. */
function unknownMetrics(all: Rule[], registered: Set<string>): string[] {
  const recorded = new Set(all.flatMap((r) => (r.record === undefined ? [] : [r.record])));
  return all.flatMap((r) =>
    metricNames(r.expr)
      .filter((n) => !registered.has(n) && !recorded.has(n))
      .map((n) => `${r.alert ?? r.record}: ${n}`),
  );
}

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    const out = await runPromtool('check', 'rules', rulesPath);
    expect(out).toContain('SUCCESS');
  });

  it('passes its promtool unit tests (alerts.test.yml)', async () => {
    const out = await runPromtool('test', 'rules', rulesTestPath);
    expect(out).toContain('SUCCESS');
  });

  it('has a promtool test in which each alert fires', () => {
    const tested = new Set(
      (parse(readFileSync(rulesTestPath, 'utf8')) as RuleTestFile).tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
      ),
    );
    expect(alerts.map((a) => a.alert).filter((name) => !tested.has(name!))).toEqual([]);
  });

  it('names only metrics the code registers, or rules the file records', async () => {
    const all = rules(rulesText);
    for (const r of all) expect(metricNames(r.expr), `${r.alert ?? r.record}`).not.toEqual([]);
    expect(unknownMetrics(all, await registeredNames())).toEqual([]);
  });

  it('reports a misspelled metric, a suffix its type lacks and an unrecorded rule name', async () => {
    const planted = rulesText
      .replace('trainset_schedule_missed_total[1h]', 'trainset_schedule_mised_total[1h]')
      .replace('max by (dataset) (trainset_drift_gated_figures)', 'max by (dataset) (trainset_drift_gated_figures_count)')
      .replace('trainset:champion_live_accuracy:ratio1h < 0.5', 'trainset:champion_live_accuracy:ratio_1h < 0.5');
    expect(unknownMetrics(rules(planted), await registeredNames())).toEqual([
      'TrainsetChampionAccuracyLow: trainset:champion_live_accuracy:ratio_1h',
      'TrainsetDriftGateBreached: trainset_drift_gated_figures_count',
      'TrainsetScheduleMissedRuns: trainset_schedule_mised_total',
    ]);
  });

  it('extracts names past label matchers, ranges, strings and recorded names', () => {
    expect(
      metricNames(
        'sum by (model) (rate(gateway_predict_latency_seconds_bucket{le=~"1|1.0", model="trainset_x"}[5m] offset 1h)) / trainset:r:ratio1h',
      ),
    ).toEqual(['gateway_predict_latency_seconds_bucket', 'trainset:r:ratio1h']);
  });

  it('gives each alert a for, a severity, a summary, a description and a runbook section', () => {
    for (const a of alerts) {
      const name = a.alert!;
      expect(a.for, name).toMatch(/^\d+[smhd]$/);
      expect(['critical', 'warning', 'info'], name).toContain(a.labels?.severity);
      expect(a.annotations?.summary, name).toBeTruthy();
      expect(a.annotations?.description, name).toBeTruthy();
      expect(a.annotations?.runbook_url, name).toBe(`docs/runbook.md#${name.toLowerCase()}`);
      expect(runbook, `docs/runbook.md has no "### ${name}" section`).toMatch(new RegExp(`^### ${name}$`, 'm'));
    }
  });
});
