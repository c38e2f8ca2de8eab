/** The only workflowsPath: every workflow of trainset. */
export { retrainPipelineWorkflow } from './retrain-pipeline';
export { rollbackWorkflow } from './rollback';
export { backfillWorkflow } from './backfill';
export { nightlyRetrainWorkflow } from './nightly';
export { monitorWorkflow } from './monitor';
