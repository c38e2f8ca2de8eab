/** The serving gateway wired to the registry (routing, prediction log) and the blob store (model artifacts). */
import type { Queryable, Registry } from '../registry';
import { listDeployedRouting, recordModelFeedback } from '../registry/deployed-models';
import { createGateway, type Gateway, type GatewayLogger } from '../serving/gateway';
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
      recordFeedback: (id, label, model) => recordModelFeedback(deps.db, model, id, label),
    },
    defaultModel: deps.defaultModel,
    logger: deps.logger,
    refreshMs: deps.refreshMs,
  });
}
