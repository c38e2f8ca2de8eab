import type pg from 'pg';
import { createAuditRepo } from './audit';
import { createDatasetRepo } from './datasets';
import { createDeploymentRepo } from './deployments';
import { createLabelRepo } from './labels';
import { createLabelStatsRepo } from './label-stats';
import { createModelRepo } from './models';
import { createMonitorRepo } from './monitor';
import { createPiiFindingRepo } from './pii-findings';
import { createRecordHashRepo } from './record-hashes';
import { createPredictionRepo } from './predictions';
import { createPromotionRepo } from './promotions';
import { createRunRepo } from './runs';

export * from './audit';
export * from './datasets';
export { withTransaction, type Queryable } from './db';
export * from './deployment-operations';
export * from './deployments';
export * from './errors';
export * from './labels';
export * from './label-stats';
export * from './migrate';
export * from './model-rollback';
export * from './models';
export * from './monitor';
export * from './pii-findings';
export * from './record-hashes';
export * from './predictions';
export * from './promotions';
export * from './runs';

/** The registry: one repository per aggregate, all over the same pool. */
export function createRegistry(pool: pg.Pool) {
  return {
    datasets: createDatasetRepo(pool),
    labels: createLabelRepo(pool),
    labelStats: createLabelStatsRepo(pool),
    models: createModelRepo(pool),
    deployments: createDeploymentRepo(pool),
    promotions: createPromotionRepo(pool),
    predictions: createPredictionRepo(pool),
    piiFindings: createPiiFindingRepo(pool),
    recordHashes: createRecordHashRepo(pool),
    audit: createAuditRepo(pool),
    runs: createRunRepo(pool),
    monitor: createMonitorRepo(pool),
  };
}

/** The registry handed to activities and the CLI. */
export type Registry = ReturnType<typeof createRegistry>;
