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

/** Route the Temporal runtime's logs (workers, workflows' `log`) into pino; once per process. */
export function installTemporalLogger(logger: pino.Logger, level: LogLevel = 'INFO'): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[LEVELS[entry.level]]({ ...entry.meta, temporal: true }, entry.message);
    }),
  });
}
