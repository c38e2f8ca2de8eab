/** docs/operations.md's SLI table names only metrics the pipeline registers or rules alerts.yml records. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPipelineMetrics } from '../../src/workers/pipeline-metrics';

const root = path.resolve(__dirname, '../..');
const operations = readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
const rules = parse(readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
  groups: Array<{ rules: Array<{ record?: string }> }>;
};

/** Rows of the table that follows "**SLIs.**": SLI id and the metric names of its Metric column. */
function sliRows(text: string): Array<{ sli: string; metrics: string[] }> {
  const section = text.slice(text.indexOf('**SLIs.**'));
  const table = section.slice(0, section.search(/\n\n(?!\|)/) + 1 || undefined);
  return table
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .slice(1)
    .map((l) => {
      const [sli = '', metric = ''] = l.split('|').slice(1, 3);
      return { sli: sli.trim(), metrics: [...metric.matchAll(/`([a-z_:0-9]+)(?:\{[^}]*\})?`/g)].map((m) => m[1]!) };
    });
}

describe('docs/operations.md SLI table', () => {
  it('lists M1, M4, M13 and M15 with metrics the code registers or the rules record', async () => {
    const registered = new Set((await createPipelineMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
    const rows = sliRows(operations);
    for (const id of ['M1', 'M4', 'M13', 'M15'])
      expect(
        rows.some((r) => r.sli.startsWith(`${id} `)),
        id,
      ).toBe(true);
    for (const r of rows) expect(r.metrics, r.sli).not.toEqual([]);
    const unknown = rows.flatMap((r) => r.metrics.filter((n) => !registered.has(n) && !recorded.has(n)).map((n) => `${r.sli}: ${n}`));
    expect(unknown).toEqual([]);
  });
});
