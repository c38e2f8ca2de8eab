import { createHash, randomUUID } from 'node:crypto';
import { inputProfile } from './input-profile';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { canonicalJson } from '../ingest/line-framing';
import {
  ANONYMOUS_SOURCE,
  createGatewayAuthenticator,
  isLoopbackHost,
  roleAllows,
  type GatewayPrincipal,
  type GatewayRole,
  type GatewayToken,
} from './auth';
import { createGatewayMetrics } from './gateway-metrics';
import { createFeedbackCapture, type FeedbackCapture, type FeedbackCaptureOptions } from './feedback-capture';
import { marginOf } from '../ingest/feedback-lineage';
import { createPredictionBuffer } from './prediction-buffer';
import type {
  ModelLoader,
  ModelServing,
  Prediction,
  FeedbackOutcome,
  PredictionLog,
  PredictionRow,
  PredictResponse,
  RoutingSource,
  RoutingState,
  ServedRouting,
} from './ports';
import { chooseArm } from './router';
import { createRoutingReloader, RoutingLoadError, type RoutingReloader } from './routing-reloader';

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
  /**
   * The model the unversioned routes (`/v1/predict`, `/v1/feedback`, `/v1/routing`, `/v1/refresh`) serve; without
   * one they answer 404. Every deployed model is served under `/v1/models/<model>/…` either way.
   */
  defaultModel?: string;
  /** Routing poll interval; default 250 ms. */
  refreshMs?: number;
  logger?: GatewayLogger;
  /** Longest a prediction row waits before it is written; default 100 ms. */
  flushMs?: number;
  /** Most rows per insert; default 200. */
  maxBatch?: number;
  /** Recent predictions remembered (model, arm, label) so feedback can be counted per arm on /metrics; default 100 000. */
  recentPredictions?: number;
  /**
   * Tokens (hashed) allowed to call the gateway, each with a role. Absent: open mode, no authentication, which
   * start() allows on a loopback host only.
   */
  tokens?: readonly GatewayToken[];
  /** Requests per minute per token (per client address in open mode) and route; see GatewayRateLimits. */
  rateLimits?: Partial<GatewayRateLimits>;
  /** Feedback is accepted up to this long after its prediction; default 7 days. */
  feedbackMaxAgeMs?: number;
  /**
   * Writes each served input (PII-cleaned, with lineage) as a raw record of its model's dataset, in batches off the
   * request path (src/serving/feedback-capture.ts, docs/feedback-loop.md). Absent: nothing is captured.
   */
  feedbackCapture?: Omit<FeedbackCaptureOptions, 'registry' | 'logger'>;
}

/** Requests per minute each client (token, or address in open mode) may send to each route. */
export interface GatewayRateLimits {
  /** Predict, feedback and model-list routes; default 6000 (100 per second). */
  perMinute: number;
  /** Admin routes (refresh, routing); default 120. */
  adminPerMinute: number;
}

/** Default rate limits: generous for traffic, strict for the admin routes that re-read the registry. */
export const DEFAULT_GATEWAY_RATE_LIMITS: GatewayRateLimits = { perMinute: 6000, adminPerMinute: 120 };

/** Default longest time after a prediction its feedback is accepted: 7 days. */
export const DEFAULT_FEEDBACK_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** A refusal with a fixed status and `{ error, message }` body (auth, rate limit, feedback integrity). */
class GatewayRefusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayRefusal';
  }
}

/** The role a route needs: one of the roles, `any` (any valid token), or none (open: health, readiness, metrics). */
type RouteAccess = GatewayRole | 'any';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role the route needs (see RouteAccess); routes without it are open. */
    access?: RouteAccess;
  }
}

/** A running (or startable) serving gateway. */
export interface Gateway {
  app: FastifyInstance;
  /** Listens, starts polling the routing, and returns the base URL. */
  start(port?: number, host?: string): Promise<string>;
  /** Stops polling, closes the server (in-flight requests finish) and flushes the prediction log. */
  stop(): Promise<void>;
  /**
   * Reloads the routing now: of one model, or (none named) of every deployed model. Rejects, keeping the last good
   * state, when the routing cannot be read or a newest state cannot be loaded (served() reports that as pending).
   */
  refresh(model?: string): Promise<void>;
  /** The routing state served for a model (default: the default model), if any. */
  current(model?: string): RoutingState | undefined;
  /** What the gateway serves for a model, with a newer state it could not switch to as `pending`. */
  served(model: string): ServedRouting | undefined;
  /** Every model the gateway serves or tried to load, with the generation it serves. */
  models(): ModelServing[];
  /** Writes buffered prediction rows now. */
  flush(): Promise<void>;
  /** Writes the captured production records buffered so far (no-op without feedback capture). */
  flushCapture(): Promise<void>;
}

interface PredictBody {
  requestKey?: string;
  input: Record<string, unknown>;
}

interface FeedbackBody {
  predictionId: string;
  label: string;
}

interface ModelParams {
  model: string;
}

const modelParams = {
  type: 'object',
  required: ['model'],
  properties: { model: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const predictBody = {
  type: 'object',
  required: ['input'],
  properties: {
    requestKey: { type: 'string', minLength: 1, maxLength: 512 },
    input: { type: 'object' },
  },
} as const;

const feedbackBody = {
  type: 'object',
  required: ['predictionId', 'label'],
  properties: {
    predictionId: { type: 'string', minLength: 1, maxLength: 128 },
    label: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

const noopLogger: GatewayLogger = { info: () => undefined, error: () => undefined };

/** Polls that fail in a row are logged on the first and then every this many (an outage is not logged each poll). */
const LOG_EVERY = 40;

/** One served model: its reloader and its run of failed refreshes. */
interface Slot {
  readonly reloader: RoutingReloader;
  failuresInARow: number;
}

/** Builds the gateway: Fastify routes over the injected routing source, model loader and prediction log. */
export function createGateway(deps: GatewayDeps): Gateway {
  const logger = deps.logger ?? noopLogger;
  const refreshMs = deps.refreshMs ?? 250;
  const maxBatch = deps.maxBatch ?? 200;
  const defaultModel = deps.defaultModel;
  const slots = new Map<string, Slot>();
  const servedStates = function* (): Iterable<RoutingState> {
    for (const slot of slots.values()) {
      const state = slot.reloader.active()?.state;
      if (state !== undefined) yield state;
    }
  };
  const metrics = createGatewayMetrics(servedStates);
  // Served model, arm and label of recent predictions, oldest first (a Map keeps insertion order): feedback per arm.
  const recent = new Map<string, { model: string; arm: string; label: string }>();
  const maxRecent = deps.recentPredictions ?? 100_000;
  const remember = (id: string, model: string, arm: string, label: string): void => {
    recent.set(id, { model, arm, label });
    if (recent.size > maxRecent) recent.delete(recent.keys().next().value!);
  };
  const buffer = createPredictionBuffer({
    log: deps.log,
    flushMs: deps.flushMs ?? 100,
    maxBatch,
    maxPending: maxBatch * 50,
    onFlushError: (err) => logger.error({ err: errorName(err) }, 'prediction log flush failed; will retry'),
    onDropped: (count) => {
      metrics.logDropped.inc(count);
      logger.error({ count }, 'prediction log unavailable; dropped buffered rows');
    },
  });
  const capture: FeedbackCapture | undefined =
    deps.feedbackCapture && createFeedbackCapture({ ...deps.feedbackCapture, registry: metrics.registry, logger });
  let poller: NodeJS.Timeout | undefined;
  let polling = false;
  // Ready once the first full read of what to serve has been tried for every model in it.
  let synced = false;
  let listFailuresInARow = 0;

  function slotOf(model: string): Slot {
    let slot = slots.get(model);
    if (slot === undefined) {
      slot = {
        reloader: createRoutingReloader({
          routing: deps.routing,
          models: deps.models,
          model,
          onSwitch: (state) => logger.info({ ...state }, 'serving new routing state'),
          onRemove: (generation) => logger.info({ model, generation }, 'model no longer deployed; stopped serving it'),
          onReleaseError: (version, err) => logger.error({ model, version, err: errorMessage(err) }, 'releasing a model failed'),
        }),
        failuresInARow: 0,
      };
      slots.set(model, slot);
    }
    return slot;
  }

  /** Counts and logs (once per outage) a model's failed refresh; resets the count when one succeeds. */
  async function tracked<T>(model: string, slot: Slot, run: Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await run;
    } catch (err) {
      metrics.refreshFailures.inc({ model });
      if (slot.failuresInARow % LOG_EVERY === 0) {
        logger.error(
          { model, err: errorMessage(err), failuresInARow: slot.failuresInARow + 1 },
          'routing refresh failed; keeping the last good state',
        );
      }
      slot.failuresInARow += 1;
      throw err;
    }
    if (slot.failuresInARow > 0) logger.info({ model, failuresInARow: slot.failuresInARow }, 'routing refresh recovered');
    slot.failuresInARow = 0;
    return result;
  }

  /** Re-reads one model's routing. A model that is not (or no longer) deployed leaves no slot behind. */
  async function refreshModel(model: string): Promise<void> {
    const slot = slotOf(model);
    const deployed = await tracked(model, slot, slot.reloader.refresh());
    const empty = slot.reloader.active() === undefined && slot.reloader.pending() === undefined && !slot.reloader.busy();
    if (!deployed && empty && slots.get(model) === slot) {
      slots.delete(model);
      // A name with no deployment (a typo, or made up by a client during a registry outage) keeps no metric series.
      metrics.refreshFailures.remove({ model });
    }
  }

  /**
   * Reads every deployed model's routing (one read when the source lists them) and switches each that changed.
   * `wait: false` (the poller) returns once the list is read: a model whose load is slow (a large artifact, a slow
   * blob store) is skipped by the next polls while busy, and never holds back the others or readiness.
   */
  async function refreshAll({ wait = true }: { wait?: boolean } = {}): Promise<void> {
    const runs: Array<Promise<void>> = [];
    if (deps.routing.listRouting !== undefined) {
      let states: RoutingState[];
      try {
        states = await deps.routing.listRouting();
      } catch (err) {
        // Every known model missed this refresh: counted per model, logged once per outage for them all.
        for (const [model, slot] of slots) {
          metrics.refreshFailures.inc({ model });
          slot.failuresInARow += 1;
        }
        if (listFailuresInARow % LOG_EVERY === 0) {
          logger.error(
            { err: errorMessage(err), failuresInARow: listFailuresInARow + 1 },
            'reading deployed models failed; keeping the last good states',
          );
        }
        listFailuresInARow += 1;
        throw err;
      }
      if (listFailuresInARow > 0) logger.info({ failuresInARow: listFailuresInARow }, 'reading deployed models recovered');
      listFailuresInARow = 0;
      const listed = new Set<string>();
      for (const state of states) {
        listed.add(state.model);
        const slot = slotOf(state.model);
        // A slow load still running for this model finishes first; the next poll offers what is newest then.
        if (!slot.reloader.busy()) runs.push(tracked(state.model, slot, slot.reloader.offer(state)));
      }
      // A served model missing from the list may have been deployed after the list was read: its own read decides.
      for (const [model, slot] of slots) {
        if (!listed.has(model) && !slot.reloader.busy()) runs.push(refreshModel(model));
      }
      // The deployments were read: ready, whatever each model's load turns out to be (reported per model).
      synced = true;
      if (!wait) {
        void Promise.allSettled(runs);
        return;
      }
    } else {
      // A source that cannot list: re-read the models already known, one by one, and the default model.
      const models = new Set(slots.keys());
      if (defaultModel !== undefined) models.add(defaultModel);
      for (const model of models) runs.push(refreshModel(model));
    }
    const failures = (await Promise.allSettled(runs)).flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    // Read once: ready, also when a model's state failed to load (that is reported per model, not waited on).
    if (failures.every((err) => err instanceof RoutingLoadError)) synced = true;
    if (failures.length > 0) throw failures[0];
  }

  function refresh(model?: string): Promise<void> {
    return model === undefined ? refreshAll() : refreshModel(model);
  }

  function models(): ModelServing[] {
    const out: ModelServing[] = [];
    for (const [model, slot] of [...slots.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const served = slot.reloader.served();
      const pending = slot.reloader.pending();
      if (served !== undefined) out.push(served);
      else if (pending !== undefined) out.push({ model, generation: null, pending });
    }
    return out;
  }

  const app = Fastify({ logger: false });
  const authenticator = deps.tokens === undefined ? undefined : createGatewayAuthenticator(deps.tokens);
  const limits = { ...DEFAULT_GATEWAY_RATE_LIMITS, ...deps.rateLimits };
  const feedbackMaxAgeMs = deps.feedbackMaxAgeMs ?? DEFAULT_FEEDBACK_MAX_AGE_MS;
  // Who sent each request, read once (the rate limiter's key and the access check both need it).
  const principals = new WeakMap<FastifyRequest, GatewayPrincipal | null>();
  const principalOf = (req: FastifyRequest): GatewayPrincipal | undefined => {
    if (authenticator === undefined) return undefined;
    let p = principals.get(req);
    if (p === undefined) {
      p = authenticator.authenticate(req.headers.authorization) ?? null;
      principals.set(req, p);
    }
    return p ?? undefined;
  };
  /** The source feedback is tagged with: the token's name, or `anonymous` in open mode. */
  const sourceOf = (req: FastifyRequest): string => principalOf(req)?.name ?? ANONYMOUS_SOURCE;

  // Fixed messages only, so no error text (from a parser, a plugin or our code) can quote a request body.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof GatewayRefusal) return reply.code(err.statusCode).send({ error: err.error, message: err.message });
    if (err.validation !== undefined) return reply.code(400).send({ error: err.message });
    const code = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) logger.error({ err: errorName(err) }, 'request failed');
    return reply.code(code).send({ error: STATUS_CODES[code] ?? 'error' });
  });

  // Per token (per client address for requests without a valid one, so guessing tokens is limited too) and route.
  void app.register(rateLimit, {
    global: false,
    timeWindow: 60_000,
    keyGenerator: (req) => {
      const p = principalOf(req);
      return p === undefined ? `ip:${req.ip}` : `token:${p.name}`;
    },
    errorResponseBuilder: (_req, ctx) =>
      new GatewayRefusal(
        429,
        'rate_limited',
        `rate limit exceeded: at most ${ctx.max} requests per minute to this route; retry in ${ctx.after}`,
      ),
  });

  // After the rate limiter (onRequest), before the body is parsed: a request without the role never reaches a handler.
  app.addHook('preParsing', async (req, reply) => {
    const access = req.routeOptions.config.access;
    if (access === undefined || authenticator === undefined) return;
    const p = principalOf(req);
    if (p === undefined) {
      void reply.header('www-authenticate', 'Bearer realm="trainset-gateway"');
      throw new GatewayRefusal(
        401,
        'unauthorized',
        req.headers.authorization === undefined
          ? 'this route needs a bearer token: send Authorization: Bearer <token>'
          : 'the bearer token is not valid',
      );
    }
    if (access !== 'any' && !roleAllows(p.role, access)) {
      throw new GatewayRefusal(403, 'forbidden', `token ${p.name} has the ${p.role} role; this route needs the ${access} role (or admin)`);
    }
  });

  app.addHook('onClose', async () => {
    if (poller !== undefined) clearInterval(poller);
    poller = undefined;
    buffer.close();
    await buffer.flush().catch((err: unknown) => logger.error({ err: errorName(err) }, 'final prediction log flush failed'));
    // Written or counted as dropped, never silently lost.
    await capture?.close();
    // In-flight requests have finished (the server is closed): free every model session.
    await Promise.all([...slots.values()].map((slot) => slot.reloader.close()));
  });

  // Before the first read of the routing a model is not known yet, not absent.
  const noSuchModel = (reply: FastifyReply): FastifyReply =>
    synced
      ? reply.code(404).send({ error: 'no such model: it has no deployment here' })
      : reply.code(503).send({ error: 'gateway not ready: routing not read yet' });

  async function predict(model: string, body: PredictBody, source: string, reply: FastifyReply): Promise<PredictResponse | FastifyReply> {
    const slot = slots.get(model);
    // Unknown names get no metric series: a label per name a client makes up would grow without bound.
    if (slot === undefined) return noSuchModel(reply);
    const active = slot.reloader.active();
    if (active === undefined) {
      metrics.requests.inc({ model, arm: 'none', outcome: 'unavailable' });
      return reply.code(503).send({ error: 'model not ready: no routing state loaded yet' });
    }
    const { state } = active;
    const requestKey = body.requestKey ?? randomUUID();
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
      inputHash: sha256(canonicalJson(body.input)),
      profile: inputProfile(body.input, predictor.featureSpec),
      predictedLabel: null,
      latencyMs: 0,
      error: null,
      createdAt: new Date(),
    };
    const started = performance.now();
    let result: Prediction;
    try {
      // Called in the same tick as active() was read: a predictor released after a switch finishes this run first.
      result = await predictor.predict(body.input);
    } catch (err) {
      row.latencyMs = performance.now() - started;
      row.error = `predict_failed:${errorName(err)}`;
      buffer.add(row);
      metrics.requests.inc({ model, arm, outcome: 'error' });
      metrics.latency.observe({ model, arm }, row.latencyMs / 1000);
      return reply.code(500).send({ error: 'prediction failed', predictionId: row.id });
    }
    row.latencyMs = performance.now() - started;
    row.predictedLabel = result.label;
    buffer.add(row);
    remember(row.id, model, arm, result.label);
    // Queued only: the PII scan and the blob write happen at the capture's flush, off the request path.
    capture?.add(
      {
        predictionId: row.id,
        model: state.model,
        modelVersion,
        margin: arm === 'champion' ? marginOf(result.probabilities) : null,
        input: body.input,
        createdAt: row.createdAt,
      },
      body.requestKey,
      source,
    );
    metrics.requests.inc({ model, arm, outcome: 'ok' });
    metrics.latency.observe({ model, arm }, row.latencyMs / 1000);
    return {
      predictionId: row.id,
      label: result.label,
      probabilities: result.probabilities,
      model: state.model,
      modelVersion,
      arm,
      generation: state.generation,
    };
  }

  async function feedback(
    model: string,
    body: FeedbackBody,
    source: string,
    reply: FastifyReply,
  ): Promise<{ recorded: true } | FastifyReply> {
    // Labelled only for a model this gateway serves (see predict); a model known from the log is counted once found.
    const known = slots.has(model);
    const served = recent.get(body.predictionId);
    if (served !== undefined && served.model !== model) {
      if (known) metrics.feedback.inc({ model, outcome: 'not_found' });
      return reply.code(404).send({ error: 'no such prediction' });
    }
    let outcome: FeedbackOutcome;
    try {
      // The prediction may still be buffered; feedback must find its row.
      await buffer.flush();
      outcome = await deps.log.recordFeedback({
        predictionId: body.predictionId,
        label: body.label,
        model,
        source,
        maxAgeMs: feedbackMaxAgeMs,
      });
    } catch (err) {
      if (known) metrics.feedback.inc({ model, outcome: 'error' });
      logger.error({ model: known ? model : undefined, err: errorName(err) }, 'recording feedback failed');
      return reply.code(503).send({ error: 'prediction log unavailable; retry later' });
    }
    if (outcome !== 'recorded') {
      if (known) metrics.feedback.inc({ model, outcome });
      if (outcome === 'not_found') return reply.code(404).send({ error: 'no such prediction' });
      if (outcome === 'duplicate') {
        logger.info({ model, source }, 'refused feedback for a prediction that already has a label');
        throw new GatewayRefusal(409, 'conflict', 'this prediction already has feedback; the first label stands');
      }
      throw new GatewayRefusal(
        422,
        'expired',
        `feedback is accepted up to ${Math.round(feedbackMaxAgeMs / 3_600_000)} hours after the prediction; this one is older`,
      );
    }
    metrics.feedback.inc({ model, outcome: 'recorded' });
    metrics.feedbackByArm.inc({
      model,
      arm: served?.arm ?? 'unknown',
      correct: served === undefined ? 'unknown' : String(served.label === body.label),
    });
    return { recorded: true };
  }

  function routing(model: string, reply: FastifyReply): ServedRouting | FastifyReply {
    const slot = slots.get(model);
    if (slot === undefined) return noSuchModel(reply);
    const served = slot.reloader.served();
    if (served !== undefined) return served;
    const pending = slot.reloader.pending();
    return reply.code(503).send({ error: 'no routing state loaded yet', ...(pending && { pending }) });
  }

  async function refreshRoute(model: string, reply: FastifyReply): Promise<ServedRouting | FastifyReply> {
    try {
      await refreshModel(model);
    } catch (err) {
      // A state that cannot be loaded is reported below as pending; anything else means the routing was not read.
      if (!(err instanceof RoutingLoadError)) {
        return reply
          .code(503)
          .send({ error: 'routing refresh failed; serving the last good state', routing: slots.get(model)?.reloader.served() ?? null });
      }
    }
    // The model's routing was just read: absent now means it has no deployment.
    const slot = slots.get(model);
    const served = slot?.reloader.served();
    if (served !== undefined) return served;
    const pending = slot?.reloader.pending();
    if (pending !== undefined) return reply.code(503).send({ error: 'no routing state of this model could be loaded', pending });
    return reply.code(404).send({ error: 'no such model: it has no deployment here' });
  }

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_req, reply) => {
    if (!synced) return reply.code(503).send({ ready: false });
    return { ready: true, models: Object.fromEntries(models().map((m) => [m.model, m.generation])) };
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  // Registered after the rate limiter has loaded (plugins load in order), so its per-route limits apply.
  void app.register(async (api) => {
    const guarded = (access: RouteAccess) => ({
      access,
      rateLimit: { max: access === 'admin' ? limits.adminPerMinute : limits.perMinute, timeWindow: 60_000 },
    });
    const any = guarded('any');
    const toPredict = guarded('predict');
    const toFeedback = guarded('feedback');
    const toAdmin = guarded('admin');

    api.get('/v1/models', { config: any }, async () => ({ models: models() }));

    api.post<{ Params: ModelParams; Body: PredictBody }>(
      '/v1/models/:model/predict',
      { schema: { params: modelParams, body: predictBody }, config: toPredict },
      (req, reply) => predict(req.params.model, req.body, sourceOf(req), reply),
    );
    api.post<{ Params: ModelParams; Body: FeedbackBody }>(
      '/v1/models/:model/feedback',
      { schema: { params: modelParams, body: feedbackBody }, config: toFeedback },
      (req, reply) => feedback(req.params.model, req.body, sourceOf(req), reply),
    );
    api.get<{ Params: ModelParams }>(
      '/v1/models/:model/routing',
      { schema: { params: modelParams }, config: toAdmin },
      async (req, reply) => routing(req.params.model, reply),
    );
    api.post<{ Params: ModelParams }>('/v1/models/:model/refresh', { schema: { params: modelParams }, config: toAdmin }, (req, reply) =>
      refreshRoute(req.params.model, reply),
    );

    // The unversioned routes of a one-model gateway, kept for the configured default model.
    const noDefault = (reply: FastifyReply): FastifyReply =>
      reply.code(404).send({ error: 'no default model configured: use /v1/models/<model>/…' });
    api.post<{ Body: PredictBody }>('/v1/predict', { schema: { body: predictBody }, config: toPredict }, (req, reply) =>
      defaultModel === undefined ? noDefault(reply) : predict(defaultModel, req.body, sourceOf(req), reply),
    );
    api.post<{ Body: FeedbackBody }>('/v1/feedback', { schema: { body: feedbackBody }, config: toFeedback }, (req, reply) =>
      defaultModel === undefined ? noDefault(reply) : feedback(defaultModel, req.body, sourceOf(req), reply),
    );
    api.get('/v1/routing', { config: toAdmin }, async (_req, reply) =>
      defaultModel === undefined ? noDefault(reply) : routing(defaultModel, reply),
    );
    api.post('/v1/refresh', { config: toAdmin }, (_req, reply) =>
      defaultModel === undefined ? noDefault(reply) : refreshRoute(defaultModel, reply),
    );
  });

  return {
    app,
    async start(port = 0, host = '127.0.0.1') {
      if (authenticator === undefined && !isLoopbackHost(host)) {
        throw new Error(
          `refusing to serve on ${host} without authentication: set TRAINSET_GATEWAY_TOKENS_FILE or TRAINSET_GATEWAY_TOKENS (docs/security.md) ` +
            'or listen on a loopback address (127.0.0.1)',
        );
      }
      const poll = (): void => {
        // Polls skip while one is running (a slow read or load) instead of queueing behind it.
        if (polling) return;
        polling = true;
        refreshAll({ wait: false })
          .catch(() => undefined)
          .finally(() => {
            polling = false;
          });
      };
      poll();
      poller = setInterval(poll, refreshMs);
      poller.unref();
      return app.listen({ port, host });
    },
    async stop() {
      await app.close();
      await buffer.flush();
    },
    refresh,
    current: (model = defaultModel) => (model === undefined ? undefined : slots.get(model)?.reloader.active()?.state),
    served: (model) => slots.get(model)?.reloader.served(),
    models,
    flush: () => buffer.flush(),
    flushCapture: async () => {
      await capture?.flush();
    },
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
