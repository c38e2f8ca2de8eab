/** Structured JSON logs (pino), and the adapter that sends Temporal's own logs through them. */
import pino from 'pino';
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

/** A pino logger writing JSON lines to stderr (stdout stays free for command output). */
export function createLogger(level: string, name = 'trainset'): pino.Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Route the Temporal runtime's logs (workers, workflows' `log`) into pino; once per process, before the first
 * connection. With sdkMetricsAddress (host:port) the SDK core also serves its Prometheus metrics there.
 */
export function installTemporalLogger(logger: pino.Logger, level: LogLevel = 'INFO', opts: { sdkMetricsAddress?: string } = {}): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[LEVELS[entry.level]]({ ...entry.meta, temporal: true }, entry.message);
    }),
    ...(opts.sdkMetricsAddress ? { telemetryOptions: { metrics: sdkPrometheus(opts.sdkMetricsAddress) } } : {}),
  });
}

/** The SDK's Prometheus exporter: durations in seconds and counters with `_total`, as Prometheus names them. */
export function sdkPrometheus(bindAddress: string) {
  return { prometheus: { bindAddress, useSecondsForDurations: true, countersTotalSuffix: true } };
}
