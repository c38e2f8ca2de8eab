/** Tracing is off without a collector; the metrics endpoint answers even when the SDK's exporter does not. */
import { describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../src/workers/metrics-server';
import { createPipelineMetrics } from '../../src/workers/pipeline-metrics';
import { freePort } from '../../src/workers/telemetry';
import { createTracing, tracesUrl } from '../../src/workers/tracing';

describe('createTracing', () => {
  it('installs nothing when OTEL_EXPORTER_OTLP_ENDPOINT is unset', () => {
    expect(createTracing({ serviceName: 'trainset-worker-cpu' })).toBeUndefined();
  });

  it('builds OTLP/HTTP tracing for an endpoint without contacting it, and shuts down cleanly', async () => {
    const tracing = createTracing({ otlpEndpoint: 'http://127.0.0.1:1/', serviceName: 'trainset-worker-cpu' });
    expect(tracing?.activityInterceptors).toHaveLength(1);
    expect(Object.keys(tracing?.sinks ?? {})).toEqual(['exporter']);
    await tracing?.shutdown();
  });

  it('sends traces to <endpoint>/v1/traces', () => {
    expect(tracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
  });
});

describe('startMetricsServer', () => {
  it('serves the pipeline metrics and says so when the SDK endpoint is down', async () => {
    const metrics = createPipelineMetrics();
    metrics.recordsIn.inc({ dataset: 'tickets' }, 3);
    const server = await startMetricsServer({
      registry: metrics.registry,
      port: 0,
      host: '127.0.0.1',
      sdkMetricsUrl: `http://127.0.0.1:${await freePort()}/metrics`,
    });
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('trainset_records_in_total{dataset="tickets"} 3');
      expect(text).toContain('# Temporal SDK metrics unavailable');
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
