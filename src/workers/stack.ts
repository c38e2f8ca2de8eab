/**
 * The embedded stack (demo and `trainset up`): Temporal dev server, embedded registry, blob folder,
 * both workers and the serving gateway in one process. Production settings start only the workers.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type pino from 'pino';
import type { Gateway } from '../serving/gateway';
import { assertProductionSecrets, temporalConnectionOptions, trainsetDataConverter } from '../security/temporal-options';
import { openBackends, type Backends } from './backends';
import type { Config } from './config';
import { createRegistryGateway, gatewaySecurity } from './gateway-wiring';
import { resolveTemporalCli, startDevServer } from './temporal-binary';
import { startMonitorStarter } from './monitor-starter';
import { startScheduleMonitor } from './schedule-monitor';
import type { WorkerTelemetry } from './telemetry';
import { createPipelineWorkers } from './workers';

/** Options of startStack. */
export interface StackOptions {
  config: Config;
  logger: pino.Logger;
  /** Print a line of progress for a person. */
  say: (line: string) => void;
  /** The model the gateway's unversioned routes (`/v1/predict`, …) serve; it serves every deployed model either way. */
  defaultModel?: string;
  /** Temporal dev server port (0: any free port) and UI port; embedded mode only. */
  temporalPort?: number;
  uiPort?: number;
  /** Dev server database file: persistent history across restarts (`up`); in memory when absent (demo). */
  temporalDbFile?: string;
  /** Embedded registry port (0: any). */
  registryPort?: number;
  gatewayPort?: number;
  /** Start the gateway in this process (embedded default). */
  withGateway?: boolean;
  /** Metrics and tracing of the workers (see startTelemetry); with metrics, the schedule monitor runs too. */
  telemetry?: WorkerTelemetry;
}

/** A running stack. */
export interface Stack {
  client: Client;
  backends: Backends;
  temporalAddress: string;
  uiUrl?: string;
  gatewayUrl: string;
  gateway?: Gateway;
  /** Resolves when a worker stops (or rejects when one fails). */
  running: Promise<void>;
  stop(): Promise<void>;
}

/** Start the stack the config describes. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const { config, logger, say } = opts;
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch((err) => logger.warn({ error: String(err) }, 'cleanup step failed'));
  };
  assertProductionSecrets(config);
  const dataConverter = trainsetDataConverter(config.codecKeys);
  try {
    let temporalAddress = config.temporal.address;
    let uiUrl: string | undefined;
    if (config.mode === 'embedded') {
      // The Temporal CLI the project provisions (PATH, TEMPORAL_CLI_PATH, the tools cache, or built with Go).
      const cli = await resolveTemporalCli({ env: process.env, log: say });
      say(`starting Temporal dev server (${cli})`);
      const uiPort = opts.uiPort ?? 0;
      const server = await startDevServer({
        cliPath: cli,
        port: opts.temporalPort || undefined,
        ui: true,
        uiPort: uiPort || undefined,
        // Search attributes are registered at every start (idempotent), also on a persistent database from before.
        dbFilename: opts.temporalDbFile,
      });
      cleanups.push(() => server.stop());
      temporalAddress = server.address;
      // The dev server serves its UI on port+1000 unless told otherwise.
      const port = Number(temporalAddress.split(':').pop());
      uiUrl = `http://127.0.0.1:${uiPort || port + 1000}`;
    }
    // The embedded dev server listens in plaintext; a production frontend gets the configured TLS.
    const connectOptions = config.mode === 'embedded' ? { address: temporalAddress } : temporalConnectionOptions(config.temporal);
    const connection = await Connection.connect(connectOptions);
    cleanups.push(() => connection.close());
    const nativeConnection = await NativeConnection.connect(connectOptions);
    cleanups.push(() => nativeConnection.close());
    say(`Temporal at ${temporalAddress}${uiUrl ? `, UI at ${uiUrl}` : ''}`);

    const backends = await openBackends(config, { embeddedPort: opts.registryPort, log: (m) => logger.info(m) });
    cleanups.push(() => backends.close());
    say(`registry at ${redactUrl(backends.databaseUrl)}${backends.embedded ? ' (embedded PGlite)' : ''}; blobs at ${backends.blobs.uri}`);

    let gateway: Gateway | undefined;
    let gatewayUrl = config.gateway.url;
    if (opts.withGateway ?? config.mode === 'embedded') {
      gateway = createRegistryGateway({
        registry: backends.registry,
        db: backends.pool,
        blobs: backends.blobs,
        // Served inputs go back into the day's raw partition (PII-clean) unless GATEWAY_FEEDBACK_CAPTURE=false.
        specs: backends.specs,
        piiTokenKey: config.piiTokenKey,
        feedbackCapture: config.gateway.feedbackCapture,
        defaultModel: opts.defaultModel,
        logger,
        security: await gatewaySecurity(config.gateway),
      });
      gatewayUrl = await gateway.start(opts.gatewayPort ?? config.gateway.port, '127.0.0.1');
      cleanups.push(() => gateway!.stop());
      say(`serving gateway at ${gatewayUrl}: every deployed model under /v1/models/<model>/`);
    }

    const workers = await createPipelineWorkers({
      queues: ['cpu', 'gpu', 'backfill'],
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      shutdownGraceSeconds: config.shutdownGraceSeconds,
      backends,
      gatewayUrl,
      gatewayToken: config.gateway.token,
      home: config.home,
      gpuSlots: config.gpuSlots,
      gpus: config.gpus,
      trainersDir: config.trainersDir,
      logger,
      piiTokenKey: config.piiTokenKey,
      prometheusUrl: config.prometheusUrl,
      telemetry: opts.telemetry,
      dataConverter,
    });
    const running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
    // Stopping the workers first lets in-flight activities finish within the grace time.
    cleanups.push(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
    });
    say('workers running on task queues trainset-cpu, trainset-gpu and trainset-backfill');
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
    if (opts.telemetry?.metrics) {
      const monitor = startScheduleMonitor({ client, metrics: opts.telemetry.metrics, logger });
      cleanups.push(() => monitor.stop());
    }
    const monitors = startMonitorStarter({ client, specsDir: config.specsDir, specs: backends.specs, registry: backends.registry, logger });
    cleanups.push(() => monitors.stop());
    return { client, backends, temporalAddress, uiUrl, gatewayUrl, gateway, running, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** A URL with its password hidden, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
