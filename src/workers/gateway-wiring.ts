/** The serving gateway wired to the registry (routing, prediction log) and the blob store (model artifacts). */
import type { Registry } from '../registry';
import { createGateway, type Gateway, type GatewayLogger } from '../serving/gateway';
import type { ModelLoader, RoutingSource } from '../serving/ports';
import type { BlobStore } from '../storage/blob-store';
import { loadModelFromBlobs } from '../activities/validation';

/** A gateway for one model over the registry and blob store. */
export function createRegistryGateway(deps: {
  registry: Registry;
  blobs: BlobStore;
  model: string;
  logger?: GatewayLogger;
  refreshMs?: number;
}): Gateway {
  const routing: RoutingSource = {
    async getRouting(model) {
      const d = await deps.registry.deployments.getDeployment(model);
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
  };
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
      recordFeedback: (id, label) => deps.registry.predictions.recordFeedback(id, label),
    },
    model: deps.model,
    logger: deps.logger,
    refreshMs: deps.refreshMs,
  });
}
