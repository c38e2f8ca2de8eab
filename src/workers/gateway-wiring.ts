/** The serving gateway wired to the registry (routing, prediction log) and the blob store (model artifacts). */
import { readFile } from 'node:fs/promises';
import type { Queryable, Registry } from '../registry';
import { listDeployedRouting } from '../registry/deployed-models';
import { parseGatewayTokens, type GatewayToken } from '../serving/auth';
import { createGateway, type Gateway, type GatewayDeps, type GatewayLogger } from '../serving/gateway';
import type { ModelLoader, RoutingSource } from '../serving/ports';
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
}): Gateway {
  const routing = registryRoutingSource(deps.registry, deps.db);
  const models: ModelLoader = {
    async load(modelVersion) {
      const v = await deps.registry.models.getVersion(modelVersion);
      if (!v) throw new Error(`model version ${modelVersion} is not registered`);
      return loadModelFromBlobs(deps.blobs, v.artifactKey);
    },
  };
  return createGateway({
    routing,
    models,
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
