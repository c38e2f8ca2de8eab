import { createHash, randomUUID } from 'node:crypto';
import { inputProfile } from './input-profile';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { canonicalJson } from '../data/jsonl';
import { createGatewayMetrics } from './gateway-metrics';
import { createPredictionBuffer } from './prediction-buffer';
import type { ModelLoader, PredictionLog, PredictionRow, PredictResponse, RoutingSource, RoutingState } from './ports';
import { chooseArm } from './router';
import { createRoutingReloader } from './routing-reloader';

/** Structured logger the gateway writes to (pino's shape). */
export interface GatewayLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Dependencies and tuning of a gateway. */
export interface GatewayDeps {
  routing: RoutingSource;
  log: PredictionLog;
  models: ModelLoader;
  /** The model this gateway serves. */
  model: string;
  /** Routing poll interval; default 250 ms. */
  refreshMs?: number;
  logger?: GatewayLogger;
  /** Longest a prediction row waits before it is written; default 100 ms. */
  flushMs?: number;
  /** Most rows per insert; default 200. */
  maxBatch?: number;
  /** Recent predictions remembered (arm, label) so feedback can be counted per arm on /metrics; default 100 000. */
  recentPredictions?: number;
}

/** A running (or startable) serving gateway. */
export interface Gateway {
  app: FastifyInstance;
  /** Listens, starts polling the routing, and returns the base URL. */
  start(port?: number, host?: string): Promise<string>;
  /** Stops polling, closes the server (in-flight requests finish) and flushes the prediction log. */
  stop(): Promise<void>;
  /** Reloads the routing now; rejects (keeping the last good state) when it cannot. */
  refresh(): Promise<void>;
  /** The routing state being served, if any. */
  current(): RoutingState | undefined;
  /** Writes buffered prediction rows now. */
  flush(): Promise<void>;
}

interface PredictBody {
  requestKey?: string;
  input: Record<string, unknown>;
}

interface FeedbackBody {
  predictionId: string;
  label: string;
}

const predictSchema = {
  body: {
    type: 'object',
    required: ['input'],
    properties: {
      requestKey: { type: 'string', minLength: 1, maxLength: 512 },
      input: { type: 'object' },
    },
  },
} as const;

const feedbackSchema = {
  body: {
    type: 'object',
    required: ['predictionId', 'label'],
    properties: {
      predictionId: { type: 'string', minLength: 1, maxLength: 128 },
      label: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
} as const;

const noopLogger: GatewayLogger = { info: () => undefined, error: () => undefined };

/** Builds the gateway: Fastify routes over the injected routing source, model loader and prediction log. */
export function createGateway(deps: GatewayDeps): Gateway {
  const logger = deps.logger ?? noopLogger;
  const refreshMs = deps.refreshMs ?? 250;
  const maxBatch = deps.maxBatch ?? 200;
  const reloader = createRoutingReloader({
    routing: deps.routing,
    models: deps.models,
    model: deps.model,
    onSwitch: (state) => logger.info({ ...state }, 'serving new routing state'),
  });
  const current = (): RoutingState | undefined => reloader.active()?.state;
  const metrics = createGatewayMetrics(current, deps.model);
  // Served arm and label of recent predictions, oldest first (a Map keeps insertion order): feedback per arm.
  const recent = new Map<string, { arm: string; label: string }>();
  const maxRecent = deps.recentPredictions ?? 100_000;
  const remember = (id: string, arm: string, label: string): void => {
    recent.set(id, { arm, label });
    if (recent.size > maxRecent) recent.delete(recent.keys().next().value!);
  };
  const buffer = createPredictionBuffer({
    log: deps.log,
    flushMs: deps.flushMs ?? 100,
    maxBatch,
    maxPending: maxBatch * 50,
    onFlushError: (err) => logger.error({ model: deps.model, err: errorName(err) }, 'prediction log flush failed; will retry'),
    onDropped: (count) => {
      metrics.logDropped.inc(count);
      logger.error({ model: deps.model, count }, 'prediction log unavailable; dropped buffered rows');
    },
  });
  let poller: NodeJS.Timeout | undefined;

  let failuresInARow = 0;

  async function refresh(): Promise<void> {
    try {
      await reloader.refresh();
    } catch (err) {
      metrics.refreshFailures.inc();
      // Polling every refreshMs: log the first failure of an outage and then only every 40th, not each poll.
      if (failuresInARow % 40 === 0) {
        logger.error(
          { model: deps.model, err: errorMessage(err), failuresInARow: failuresInARow + 1 },
          'routing refresh failed; keeping the last good state',
        );
      }
      failuresInARow += 1;
      throw err;
    }
    if (failuresInARow > 0) logger.info({ model: deps.model, failuresInARow }, 'routing refresh recovered');
    failuresInARow = 0;
  }

  const app = Fastify({ logger: false });

  // Fixed messages only, so no error text (from a parser, a plugin or our code) can quote a request body.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation !== undefined) return reply.code(400).send({ error: err.message });
    const code = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) logger.error({ model: deps.model, err: errorName(err) }, 'request failed');
    return reply.code(code).send({ error: STATUS_CODES[code] ?? 'error' });
  });

  app.addHook('onClose', async () => {
    if (poller !== undefined) clearInterval(poller);
    poller = undefined;
    buffer.close();
    await buffer
      .flush()
      .catch((err: unknown) => logger.error({ model: deps.model, err: errorName(err) }, 'final prediction log flush failed'));
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_req, reply) => {
    const state = current();
    if (state === undefined) return reply.code(503).send({ ready: false });
    return { ready: true, generation: state.generation };
  });

  app.get('/v1/routing', async (_req, reply) => {
    const state = current();
    if (state === undefined) return reply.code(503).send({ error: 'no routing state loaded yet' });
    return state;
  });

  app.post('/v1/refresh', async (_req, reply) => {
    try {
      await refresh();
    } catch {
      return reply.code(503).send({ error: 'routing refresh failed; serving the last good state', routing: current() ?? null });
    }
    const state = current();
    if (state === undefined) return reply.code(503).send({ error: 'no routing state exists for this model' });
    return state;
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  app.post<{ Body: PredictBody }>('/v1/predict', { schema: predictSchema }, async (req, reply) => {
    const active = reloader.active();
    if (active === undefined) {
      metrics.requests.inc({ arm: 'none', outcome: 'unavailable' });
      return reply.code(503).send({ error: 'gateway not ready: no routing state loaded yet' });
    }
    const { state } = active;
    const requestKey = req.body.requestKey ?? randomUUID();
    const arm = chooseArm(requestKey, state);
    const predictor = arm === 'candidate' && active.candidate !== null ? active.candidate : active.champion;
    const modelVersion = arm === 'candidate' && state.candidateVersion !== null ? state.candidateVersion : state.championVersion;
    const row: PredictionRow = {
      id: randomUUID(),
      model: state.model,
      modelVersion,
      arm,
      generation: state.generation,
      requestKeyHash: sha256(requestKey),
      inputHash: sha256(canonicalJson(req.body.input)),
      profile: predictor.featureSpec ? inputProfile(req.body.input, predictor.featureSpec) : null,
      predictedLabel: null,
      latencyMs: 0,
      error: null,
      createdAt: new Date(),
    };
    const started = performance.now();
    let result: { label: string; probabilities: number[] };
    try {
      result = predictor.predict(req.body.input);
    } catch (err) {
      row.latencyMs = performance.now() - started;
      row.error = `predict_failed:${errorName(err)}`;
      buffer.add(row);
      metrics.requests.inc({ arm, outcome: 'error' });
      metrics.latency.observe({ arm }, row.latencyMs / 1000);
      return reply.code(500).send({ error: 'prediction failed', predictionId: row.id });
    }
    row.latencyMs = performance.now() - started;
    row.predictedLabel = result.label;
    buffer.add(row);
    remember(row.id, arm, result.label);
    metrics.requests.inc({ arm, outcome: 'ok' });
    metrics.latency.observe({ arm }, row.latencyMs / 1000);
    const response: PredictResponse = {
      predictionId: row.id,
      label: result.label,
      probabilities: result.probabilities,
      model: state.model,
      modelVersion,
      arm,
      generation: state.generation,
    };
    return response;
  });

  app.post<{ Body: FeedbackBody }>('/v1/feedback', { schema: feedbackSchema }, async (req, reply) => {
    let recorded: boolean;
    try {
      // The prediction may still be buffered; feedback must find its row.
      await buffer.flush();
      recorded = await deps.log.recordFeedback(req.body.predictionId, req.body.label);
    } catch (err) {
      metrics.feedback.inc({ outcome: 'error' });
      logger.error({ model: deps.model, err: errorName(err) }, 'recording feedback failed');
      return reply.code(503).send({ error: 'prediction log unavailable; retry later' });
    }
    if (!recorded) {
      metrics.feedback.inc({ outcome: 'not_found' });
      return reply.code(404).send({ error: 'no such prediction' });
    }
    metrics.feedback.inc({ outcome: 'recorded' });
    const served = recent.get(req.body.predictionId);
    metrics.feedbackByArm.inc({
      arm: served?.arm ?? 'unknown',
      correct: served === undefined ? 'unknown' : String(served.label === req.body.label),
    });
    return { recorded: true };
  });

  return {
    app,
    async start(port = 0, host = '127.0.0.1') {
      refresh().catch(() => undefined);
      poller = setInterval(() => {
        // Polls skip while a (slow) reload is running instead of queueing behind it.
        if (!reloader.busy()) refresh().catch(() => undefined);
      }, refreshMs);
      poller.unref();
      return app.listen({ port, host });
    },
    async stop() {
      await app.close();
      await buffer.flush();
    },
    refresh,
    current,
    flush: () => buffer.flush(),
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** An error's class name, never its message (messages can quote record content). */
function errorName(err: unknown): string {
  const name = err instanceof Error ? err.name : typeof err;
  return /^[A-Za-z0-9_]{1,64}$/.test(name) ? name : 'Error';
}

/** Routing/loader failures are about versions and connections, not records, so their messages are safe to log. */
function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
