/** `trainset demo | up | down | worker | serve`: processes of the embedded stack and of production deployments. */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Argument, Option, type Command } from '@commander-js/extra-typings';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { openBackends } from '../workers/backends';
import { createRegistryGateway, gatewaySecurity } from '../workers/gateway-wiring';
import { createLogger } from '../workers/logger';
import { startMonitorStarter } from '../workers/monitor-starter';
import { startScheduleMonitor } from '../workers/schedule-monitor';
import { startTelemetry } from '../workers/telemetry';
import { startStack } from '../workers/stack';
import { createPipelineWorkers } from '../workers/workers';
import { readStackFile, resolveConfig, stackFilePath, type StackFile } from './context';
import { portArg } from './args';
import { runDemo } from './demo';
import type { BlobStore } from '../storage/blob-store';
import type { TrainerBackend } from '../training/backend';
import { createKubernetesApis, createKubernetesBackend } from '../training/kubernetes-backend';
import { syncEnvForS3 } from '../training/kubernetes-manifest';
import { assertProductionSecrets, temporalConnectionOptions, trainsetDataConverter } from '../security/temporal-options';

/** Wait for SIGINT/SIGTERM once. */
const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

/** Register the stack commands. */
export function registerStackCommands(program: Command): void {
  program
    .command('demo')
    .description('Run three days of sample tickets through every stage on the embedded stack, then print a summary')
    .option('--keep', 'keep the stack (and the Temporal UI) running after the summary, until Ctrl-C')
    .addOption(
      new Option(
        '--trainer <trainer>',
        'who trains the models: "builtin" (default, the hashed logistic regression) or "pytorch" (the PyTorch reference trainer in trainers/pytorch through the process backend; needs Debian\'s python3-torch)',
      )
        .choices(['builtin', 'pytorch'] as const)
        .default('builtin' as const),
    )
    .option('--monitor', 'add a fourth day: the promoted champion decays in production and the monitor rolls it back')
    .action(async (opts) => {
      await runDemo({ keep: opts.keep, trainer: opts.trainer, monitor: opts.monitor });
    });

  program
    .command('up')
    .description(
      'Start the embedded stack in the background (dev server, registry, both workers, gateway); with production settings, run the workers in the foreground',
    )
    .option('--temporal-port <port>', 'Temporal dev server port', portArg, 7233)
    .option('--ui-port <port>', 'Temporal UI port', portArg, 8233)
    .option('--gateway-port <port>', 'serving gateway port', portArg, 8088)
    .option('--registry-port <port>', 'embedded registry (PGlite) port', portArg, 55439)
    .option('--metrics-port <port>', 'Prometheus /metrics of the workers (default METRICS_PORT or 9464; 0: off)', portArg)
    .option(
      '--default-model <model>',
      "model the gateway's unversioned routes (/v1/predict, …) serve; it serves every deployed model",
      'tickets-classifier',
    )
    .option('--foreground', 'run in this process instead of in the background')
    .action(async (opts) => {
      const config = resolveConfig();
      const logger = createLogger(config.logLevel);
      if (config.mode === 'production') {
        await runWorkers(['cpu', 'gpu', 'backfill']);
        return;
      }
      const running = readStackFile(config);
      if (running) {
        console.log(
          `already running (pid ${running.pid}): Temporal ${running.temporalAddress}, UI ${running.uiUrl}, gateway ${running.gatewayUrl}`,
        );
        return;
      }
      if (!opts.foreground) {
        mkdirSync(config.home, { recursive: true });
        const logFile = path.join(config.home, 'stack.log');
        const out = openSync(logFile, 'a');
        const args = [
          path.resolve(__dirname, '../../bin/trainset.js'),
          'up',
          '--foreground',
          ...process.argv.slice(3).filter((a) => a !== '--foreground'),
        ];
        const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env: process.env });
        child.unref();
        console.log(`starting the embedded stack (pid ${child.pid}); log: ${logFile}`);
        for (let i = 0; i < 600; i++) {
          await new Promise((r) => setTimeout(r, 500));
          const s = readStackFile(config);
          if (s) {
            console.log(`Temporal:  ${s.temporalAddress} (namespace ${config.temporal.namespace})`);
            console.log(`UI:        ${s.uiUrl}`);
            console.log(`gateway:   ${s.gatewayUrl}`);
            console.log(`registry:  ${s.databaseUrl}`);
            console.log('stop it with: npx trainset down');
            return;
          }
          if (child.exitCode !== null) throw new Error(`the stack exited with code ${child.exitCode}; see ${logFile}`);
        }
        throw new Error(`the stack did not become ready in 5 minutes; see ${logFile}`);
      }
      const telemetry = await startTelemetry({
        config: { ...config.telemetry, metricsPort: opts.metricsPort ?? config.telemetry.metricsPort },
        logger,
        metricsHost: '127.0.0.1',
        serviceName: 'trainset-stack',
        onPortInUse: 'warn',
      });
      const stack = await startStack({
        config,
        logger,
        say: (l) => logger.info(l),
        defaultModel: opts.defaultModel,
        temporalPort: opts.temporalPort,
        uiPort: opts.uiPort,
        temporalDbFile: path.join(config.home, 'temporal.db'),
        registryPort: opts.registryPort,
        gatewayPort: opts.gatewayPort,
        telemetry,
      }).catch(async (err: unknown) => {
        await telemetry.close();
        throw err;
      });
      const file: StackFile = {
        pid: process.pid,
        temporalAddress: stack.temporalAddress,
        uiUrl: stack.uiUrl,
        databaseUrl: stack.backends.databaseUrl,
        gatewayUrl: stack.gatewayUrl,
        startedAt: new Date().toISOString(),
      };
      writeFileSync(stackFilePath(config), JSON.stringify(file, null, 2));
      try {
        await Promise.race([stack.running, untilSignal()]);
      } finally {
        rmSync(stackFilePath(config), { force: true });
        await stack.stop();
        await telemetry.close();
      }
    });

  program
    .command('down')
    .description('Stop the embedded stack started by `trainset up`')
    .action(async () => {
      const config = resolveConfig();
      const s = readStackFile(config);
      if (!s) {
        console.log('no embedded stack is running');
        return;
      }
      process.kill(s.pid, 'SIGTERM');
      for (let i = 0; i < 120; i++) {
        await new Promise((r) => setTimeout(r, 500));
        try {
          process.kill(s.pid, 0);
        } catch {
          console.log(`stopped (pid ${s.pid})`);
          return;
        }
      }
      throw new Error(`pid ${s.pid} did not stop within 60 s`);
    });

  program
    .command('worker')
    .description('Run one worker process: cpu (workflows + data activities), gpu (training) or backfill (backfill partitions)')
    .addArgument(new Argument('<queue>', 'cpu, gpu or backfill').choices(['cpu', 'gpu', 'backfill'] as const))
    .action(async (queue) => {
      await runWorkers([queue]);
    });

  program
    .command('serve')
    .description('Run the serving gateway for every deployed model (champion/candidate routing, prediction log, feedback, metrics)')
    .option('--port <port>', 'listen port (default GATEWAY_PORT or 8088)', portArg)
    .option('--host <host>', 'listen address (default GATEWAY_HOST or 127.0.0.1; another needs TRAINSET_GATEWAY_TOKENS_FILE)')
    .option('--default-model <model>', 'model the unversioned routes (/v1/predict, …) serve', 'tickets-classifier')
    .action(async (opts) => {
      const config = requireServers(resolveConfig());
      const logger = createLogger(config.logLevel, 'trainset-gateway');
      const backends = await openBackends(config, { log: (m) => logger.info(m) });
      const gateway = createRegistryGateway({
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
      const url = await gateway.start(opts.port ?? config.gateway.port, opts.host ?? config.gateway.host);
      logger.info({ url }, 'gateway listening');
      await untilSignal();
      await gateway.stop();
      await backends.close();
    });
}

/** Workers need a database they can share: production settings, or the running embedded stack. */
function requireServers(config: ReturnType<typeof resolveConfig>): ReturnType<typeof resolveConfig> {
  if (config.databaseUrl) return config;
  throw new Error(
    'no registry to connect to: set DATABASE_URL (and TEMPORAL_ADDRESS, S3_*) or start the embedded stack with `npx trainset up`',
  );
}

/** Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) the kubernetes trainer's sync containers read; deploy/kubernetes creates it. */
const KUBERNETES_S3_SECRET = 'trainset-s3';

/** The kubernetes trainer backend of a GPU worker: API clients from in-cluster or KUBECONFIG credentials. */
async function kubernetesTrainer(
  config: ReturnType<typeof resolveConfig>,
  backends: { blobs: BlobStore },
  logger: { info(obj: object, msg?: string): void },
): Promise<TrainerBackend> {
  if (config.blob.kind !== 's3') {
    throw new Error('TRAINSET_KUBERNETES_TRAINER=true needs an S3 blob store (S3_BUCKET): trainer pods cannot see a local BLOB_DIR');
  }
  const { batch, core } = await createKubernetesApis();
  return createKubernetesBackend({
    batch,
    core,
    blobs: backends.blobs,
    blobEnv: syncEnvForS3(config.blob),
    credentialsSecret: KUBERNETES_S3_SECRET,
    log: (m) => logger.info({ backend: 'kubernetes' }, m),
  });
}

/** Run worker processes for the given queues until SIGTERM/SIGINT, draining in-flight activities. */
async function runWorkers(queues: Array<'cpu' | 'gpu' | 'backfill'>): Promise<void> {
  const config = requireServers(resolveConfig());
  const logger = createLogger(config.logLevel, `trainset-worker-${queues.join('+')}`);
  const telemetry = await startTelemetry({
    config: config.telemetry,
    logger,
    metricsHost: '0.0.0.0',
    serviceName: `trainset-worker-${queues.join('+')}`,
  });
  assertProductionSecrets(config);
  const dataConverter = trainsetDataConverter(config.codecKeys);
  const backends = await openBackends(config, { log: (m) => logger.info(m) });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  // The CPU worker also watches the schedules (missed and skipped runs) and running backfills, and starts the
  // monitor of each deployed model whose spec asks for it (monitor.autoStart).
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  const monitor = queues.includes('cpu') ? startScheduleMonitor({ client, metrics: telemetry.metrics, logger }) : undefined;
  const monitors = queues.includes('cpu')
    ? startMonitorStarter({ client, specsDir: config.specsDir, specs: backends.specs, registry: backends.registry, logger })
    : undefined;
  try {
    const workers = await createPipelineWorkers({
      queues,
      connection,
      namespace: config.temporal.namespace,
      shutdownGraceSeconds: config.shutdownGraceSeconds,
      backends,
      gatewayUrl: config.gateway.url,
      gatewayToken: config.gateway.token,
      home: config.home,
      gpuSlots: config.gpuSlots,
      gpus: config.gpus,
      trainersDir: config.trainersDir,
      kubernetesTrainer: config.kubernetesTrainer ? () => kubernetesTrainer(config, backends, logger) : undefined,
      logger,
      piiTokenKey: config.piiTokenKey,
      prometheusUrl: config.prometheusUrl,
      telemetry,
      dataConverter,
    });
    logger.info({ queues, temporal: config.temporal.address, namespace: config.temporal.namespace }, 'workers running');
    // Worker.run() returns after SIGTERM/SIGINT once in-flight tasks finished or the grace time ran out.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await monitor?.stop();
    await monitors?.stop();
    await connection.close();
    await backends.close();
    await telemetry.close();
  }
}
