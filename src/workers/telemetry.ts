/**
 * Telemetry of a worker process: the Temporal runtime (logs, and SDK metrics on a loopback port), the
 * pipeline metrics and the /metrics endpoint that serves both, and tracing when a collector is configured.
 * Call startTelemetry before the process's first Temporal connection: the runtime is installed once.
 */
import { createServer } from 'node:net';
import type pino from 'pino';
import type { LogLevel } from '@temporalio/worker';
import type { TelemetryConfig } from './config';
import { installTemporalLogger } from './logger';
import { startMetricsServer } from './metrics-server';
import { createPipelineMetrics, type PipelineMetrics } from './pipeline-metrics';
import { createTracing, type Tracing } from './tracing';

/** What a process's workers get (see createPipelineWorkers). */
export interface WorkerTelemetry {
  metrics?: PipelineMetrics;
  tracing?: Tracing;
}

/** Telemetry of a running process. */
export interface ProcessTelemetry extends WorkerTelemetry {
  metrics: PipelineMetrics;
  /** URL of the /metrics endpoint, when it is on. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Options of startTelemetry. */
export interface StartTelemetryOptions {
  config: TelemetryConfig;
  logger: pino.Logger;
  /** Level of the Temporal runtime's logs. */
  temporalLogLevel?: LogLevel;
  /** Where /metrics listens (0.0.0.0 in containers, 127.0.0.1 for the embedded stack). */
  metricsHost: string;
  /** Default service.name of the spans when OTEL_SERVICE_NAME is unset. */
  serviceName: string;
  /**
   * When the metrics port is taken: fail (workers: a port clash is a deployment error) or log a warning and
   * go on without the endpoint (the embedded stack on a developer's machine).
   */
  onPortInUse?: 'fail' | 'warn';
}

/** Install the runtime and start the endpoint and tracing the config asks for. */
export async function startTelemetry(o: StartTelemetryOptions): Promise<ProcessTelemetry> {
  const { config, logger } = o;
  const metrics = createPipelineMetrics();
  let sdkMetricsAddress: string | undefined;
  if (config.metricsPort > 0) sdkMetricsAddress = `127.0.0.1:${await freePort()}`;
  installTemporalLogger(logger, o.temporalLogLevel ?? 'INFO', { sdkMetricsAddress });

  const closers: Array<() => Promise<void>> = [];
  let metricsUrl: string | undefined;
  if (config.metricsPort > 0) {
    try {
      const server = await startMetricsServer({
        registry: metrics.registry,
        port: config.metricsPort,
        host: o.metricsHost,
        sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      });
      closers.push(server.close);
      metricsUrl = server.url;
      logger.info({ url: metricsUrl }, 'Prometheus metrics (pipeline and Temporal SDK) at /metrics');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      const message = `METRICS_PORT ${config.metricsPort} is in use: set METRICS_PORT to a free port, or to 0 to turn the endpoint off`;
      if ((o.onPortInUse ?? 'fail') === 'fail') throw new Error(message);
      logger.warn({ port: config.metricsPort }, `${message}; going on without /metrics`);
    }
  }
  const tracing = createTracing({ otlpEndpoint: config.otlpEndpoint, serviceName: config.serviceName ?? o.serviceName });
  if (tracing) {
    closers.push(tracing.shutdown);
    logger.info({ endpoint: config.otlpEndpoint }, 'tracing to the OTLP/HTTP collector');
  }
  return {
    metrics,
    tracing,
    metricsUrl,
    close: async () => {
      for (const c of closers.reverse()) await c().catch((err: unknown) => logger.warn({ error: String(err) }, 'telemetry close failed'));
    },
  };
}

/** A loopback port that is free now (for the SDK's exporter, which cannot report the port it bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
