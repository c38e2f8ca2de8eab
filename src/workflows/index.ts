/** The only workflowsPath: every workflow of trainset. */
export { retrainPipelineWorkflow } from './retrain-pipeline';
