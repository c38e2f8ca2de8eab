/**
 * The Grafana dashboard queries only metrics that exist: the pipeline's registered ones, SDK names proven by scraping,
 * and the recording rules deploy/prometheus/alerts.yml defines.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createFeedbackCapture } from '../../src/serving/feedback-capture';
import { createGatewayMetrics } from '../../src/serving/gateway-metrics';
import { createPipelineMetrics } from '../../src/workers/pipeline-metrics';
import { SDK_METRIC_NAMES } from '../helpers/sdk-metric-names';

interface Target {
  expr?: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ type: string; query?: string | { query?: string } }> };
}

const dashboard = JSON.parse(readFileSync(path.resolve(__dirname, '../../deploy/grafana/trainset-dashboard.json'), 'utf8')) as Dashboard;

/** Names the Prometheus rules record (`trainset:…`), which a panel may query once the rules are loaded. */
const recordedNames = new Set(
  (
    parse(readFileSync(path.resolve(__dirname, '../../deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ record?: string }> }>;
    }
  ).groups.flatMap((g) => g.rules.flatMap((r) => (r.record === undefined ? [] : [r.record]))),
);

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function expressions(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: p.title, expr: t.expr ?? '' });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    out.push({ where: 'variable', expr: typeof v.query === 'string' ? v.query : (v.query?.query ?? '') });
  }
  return out;
}

/** Metric names in a PromQL expression: label matchers, strings and ranges removed, then the prefixed identifiers (recorded ones too). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...bare.matchAll(/\b(?:trainset|temporal|gateway)[_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]);
}

/** Every metric the pipeline and the gateway register, the gateway's feedback capture included. */
async function registeredMetrics(): Promise<Array<{ name: string; type: unknown }>> {
  const gateway = createGatewayMetrics(() => []);
  const capture = createFeedbackCapture({
    blobs: { put: async () => undefined },
    resolve: async () => undefined,
    registry: gateway.registry,
  });
  await capture.close();
  return [...(await createPipelineMetrics().registry.getMetricsAsJSON()), ...(await gateway.registry.getMetricsAsJSON())];
}

/** Names a scrape shows for the pipeline's and the gateway's metrics (a histogram as _bucket, _sum, _count). */
async function registeredNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const metrics = await registeredMetrics();
  for (const m of metrics) {
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    else names.add(m.name);
  }
  return names;
}

describe('deploy/grafana/trainset-dashboard.json', () => {
  const exprs = expressions(dashboard);

  it('has queries, each naming at least one metric', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const { where, expr } of exprs) expect(metricNames(expr), `${where}: ${expr}`).not.toEqual([]);
  });

  it('queries only metrics the pipeline or the gateway registers, the Temporal SDK was seen to export, or the rules record', async () => {
    const known = new Set([...(await registeredNames()), ...SDK_METRIC_NAMES, ...recordedNames]);
    const unknown = exprs.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !known.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('shows every pipeline and gateway metric somewhere', async () => {
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr)));
    const registered = (await registeredMetrics()).map((m) => m.name);
    const unused = registered.filter((n) => !used.has(n) && !used.has(`${n}_bucket`));
    expect(unused).toEqual([]);
  });

  it('extracts names past label matchers, ranges and strings', () => {
    expect(
      metricNames('sum by (le) (rate(trainset_training_seconds_bucket{dataset=~"temporal_x"}[1d])) / trainset_records_in_total'),
    ).toEqual(['trainset_training_seconds_bucket', 'trainset_records_in_total']);
    expect(metricNames('trainset:monitor_drift_breaches:increase1d > 0')).toEqual(['trainset:monitor_drift_breaches:increase1d']);
  });

  it('shows each SLI of the article the code exports (M1, M4, M13, M15), the label backlog and the canary arms', () => {
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr)));
    const slis = [
      'trainset_label_accuracy',
      'trainset_monitor_data_freshness_seconds',
      'trainset_label_latency_seconds_bucket',
      'trainset:monitor_drift_breaches:increase1d',
      'trainset:monitor_drift_actions:increase1d',
      'trainset_label_tasks_pending',
      'gateway_feedback_by_arm_total',
      'gateway_candidate_weight_percent',
    ];
    expect(slis.filter((n) => !used.has(n))).toEqual([]);
    // A recorded name is known only while alerts.yml records it.
    expect(recordedNames.has('trainset:monitor_drift_breaches:increase1d')).toBe(true);
    expect(recordedNames.has('trainset:monitor_drift_breaches:increase_1d')).toBe(false);
  });
});
