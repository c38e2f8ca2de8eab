/** Read one series of a pipeline metric in tests. */
import type { PipelineMetrics } from '../../src/workers/pipeline-metrics';

/**
 * The value of the series of `name` whose labels include `labels` (undefined when none has them). A histogram's
 * series carry their own names (`_bucket`, `_sum`, `_count`): ask for those.
 */
export async function metricValue(m: PipelineMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name) ?? m.registry.getSingleMetric(name.replace(/_(count|sum|bucket)$/, ''));
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? name) === name && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  );
  return match?.value;
}
