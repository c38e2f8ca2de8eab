/** The serving gateway wired to the registry (routing, prediction log) and the blob store (model artifacts). */
import { readFile } from 'node:fs/promises';
import type { Queryable, Registry } from '../registry';
import { listDeployedRouting } from '../registry/deployed-models';
import { parseGatewayTokens, type GatewayToken } from '../serving/auth';
import { createGateway, type Gateway, type GatewayDeps, type GatewayLogger } from '../serving/gateway';
import type { CaptureTarget, FeedbackCaptureOptions } from '../serving/feedback-capture';
import type { ModelLoader, RoutingSource } from '../serving/ports';
import type { SpecSource } from '../datasets/spec-source';
import type { DatasetSpec } from '../shared/spec';
import { modelNameFor } from '../shared/ids';
import type { BlobStore } from '../storage/blob-store';
import { loadModelFromBlobs } from '../activities/validation';

/** The routing the registry's deployments rows hold, per model; with `db`, every deployed model in one read. */
export function registryRoutingSource(registry: Registry, db?: Queryable): RoutingSource {
  return {
    async getRouting(model) {
      const d = await registry.deployments.getDeployment(model);
      return (
        d && {
          model: d.model,
          championVersion: d.championVersion,
          candidateVersion: d.candidateVersion,
          candidateWeight: d.candidateWeight,
          generation: d.generation,
        }
      );
    },
    ...(db !== undefined && { listRouting: () => listDeployedRouting(db) }),
  };
}

/** A gateway serving every model that has a deployment in the registry, with model artifacts from the blob store. */
export function createRegistryGateway(deps: {
  registry: Registry;
  /** The registry's pool: the gateway reads every deployment in one query and scopes feedback to a model. */
  db: Queryable;
  blobs: BlobStore;
  /** The model the unversioned routes (`/v1/predict`, …) serve; every deployed model is served under `/v1/models/<model>/…`. */
  defaultModel?: string;
  logger?: GatewayLogger;
  refreshMs?: number;
  /** Tokens, rate limits and the feedback age limit (gatewaySecurity); absent: open mode, loopback only. */
  security?: GatewaySecurity;
  /** The dataset specs: with them, feedback capture is on unless `feedbackCapture` is false. */
  specs?: SpecSource;
  /**
   * Feedback capture (docs/feedback-loop.md): each served input, PII-cleaned, becomes a raw record of its model's
   * dataset. Default on when `specs` is given; `false` turns it off; an object tunes it (flush interval, batch size).
   */
  feedbackCapture?: boolean | Pick<FeedbackCaptureOptions, 'flushMs' | 'maxBatch' | 'maxPending' | 'instanceId'>;
  /** HMAC key of the PII `tokenize` action (the workers' PII_TOKEN_KEY), for specs that tokenize. */
  piiTokenKey?: Buffer;
}): Gateway {
  const routing = registryRoutingSource(deps.registry, deps.db);
  const models: ModelLoader = {
    async load(modelVersion) {
      const v = await deps.registry.models.getVersion(modelVersion);
      if (!v) throw new Error(`model version ${modelVersion} is not registered`);
      return loadModelFromBlobs(deps.blobs, v.artifactKey);
    },
  };
  const capture = deps.specs !== undefined && deps.feedbackCapture !== false;
  return createGateway({
    routing,
    models,
    ...(capture && {
      feedbackCapture: {
        ...(typeof deps.feedbackCapture === 'object' && deps.feedbackCapture),
        blobs: deps.blobs,
        resolve: captureTargets(deps.registry, deps.specs!),
        piiTokenKey: deps.piiTokenKey,
      },
    }),
    log: {
      insertPredictions: async (rows) => {
        await deps.registry.predictions.insertPredictions(rows);
      },
      recordFeedback: (f) => deps.registry.predictions.submitFeedback(f),
    },
    defaultModel: deps.defaultModel,
    logger: deps.logger,
    refreshMs: deps.refreshMs,
    ...deps.security,
  });
}

/**
 * The dataset a served model version's inputs go to: the dataset of the version it was trained on, when that
 * dataset's spec names this model and reads JSONL (the capture's format). Only the model version → dataset lookup is
 * cached (it never changes); the spec is read again once it is `specTtlMs` old (default 30 s), so a tightened PII
 * policy or contract applies to the next flush. A failed lookup or spec read is never cached: it rejects, and the
 * capture keeps the inputs and retries them.
 */
export function captureTargets(
  registry: Registry,
  specs: SpecSource,
  opts: { specTtlMs?: number; now?: () => number } = {},
): (model: string, modelVersion: string) => Promise<CaptureTarget | undefined> {
  const specTtlMs = opts.specTtlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const datasets = new Map<string, Promise<string | undefined>>();
  const loaded = new Map<string, { at: number; spec: Promise<DatasetSpec> }>();
  const datasetOf = async (modelVersion: string): Promise<string | undefined> => {
    const mv = await registry.models.getVersion(modelVersion);
    if (mv === undefined) return undefined;
    return (await registry.datasets.getVersion(mv.datasetVersion))?.dataset;
  };
  const specOf = (dataset: string): Promise<DatasetSpec> => {
    const hit = loaded.get(dataset);
    if (hit !== undefined && now() - hit.at < specTtlMs) return hit.spec;
    const entry = { at: now(), spec: specs.load(dataset).then((l) => l.spec) };
    loaded.set(dataset, entry);
    entry.spec.catch(() => {
      if (loaded.get(dataset) === entry) loaded.delete(dataset);
    });
    return entry.spec;
  };
  return async (model, modelVersion) => {
    let dataset = datasets.get(modelVersion);
    if (dataset === undefined) {
      const lookup = datasetOf(modelVersion);
      dataset = lookup;
      datasets.set(modelVersion, lookup);
      lookup.catch(() => {
        if (datasets.get(modelVersion) === lookup) datasets.delete(modelVersion);
      });
    }
    const name = await dataset;
    if (name === undefined) return undefined;
    // A spec that cannot be read (storage down, or an invalid edit) rejects: the inputs wait for a readable one.
    const spec = await specOf(name);
    if (modelNameFor(spec) !== model || (spec.ingest.format !== 'auto' && spec.ingest.format !== 'jsonl')) return undefined;
    return { dataset: name, spec };
  };
}

/** The gateway's security settings: hashed tokens, rate limits, feedback age limit. */
export type GatewaySecurity = Pick<GatewayDeps, 'tokens' | 'rateLimits' | 'feedbackMaxAgeMs'>;

/** Reads the gateway's security settings from its configuration; the tokens file is read and checked here. */
export async function gatewaySecurity(config: {
  tokensFile?: string;
  tokens?: string;
  rateLimitPerMinute?: number;
  adminRateLimitPerMinute?: number;
  feedbackMaxAgeHours?: number;
}): Promise<GatewaySecurity> {
  let tokens: GatewayToken[] | undefined;
  if (config.tokens !== undefined) tokens = parseGatewayTokens(config.tokens);
  else if (config.tokensFile !== undefined) {
    let text: string;
    try {
      text = await readFile(config.tokensFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read TRAINSET_GATEWAY_TOKENS_FILE ${config.tokensFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    tokens = parseGatewayTokens(text);
  }
  return {
    ...(tokens !== undefined && { tokens }),
    rateLimits: {
      ...(config.rateLimitPerMinute !== undefined && { perMinute: config.rateLimitPerMinute }),
      ...(config.adminRateLimitPerMinute !== undefined && { adminPerMinute: config.adminRateLimitPerMinute }),
    },
    ...(config.feedbackMaxAgeHours !== undefined && { feedbackMaxAgeMs: config.feedbackMaxAgeHours * 3_600_000 }),
  };
}
