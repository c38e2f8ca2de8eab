/** Every activity, composed from per-stage factories over injected dependencies. */
import { createCanaryActivities } from './canary';
import type { CpuActivityDeps, GpuActivityDeps } from './deps';
import { createDecisionActivities } from './decisions';
import { createDedupeActivities } from './dedupe';
import { createDeployModeActivities } from './deploy-mode';
import { createDeploymentActivities } from './deployment';
import { createIngestActivities } from './ingest';
import { createLabelingActivities } from './labeling';
import { createMonitorActivities } from './monitor';
import { createPiiActivities } from './pii';
import { createQualityActivities } from './quality';
import { createRegistryActivities } from './registry';
import { createReportActivities } from './report';
import { createRunActivities } from './run';
import { createTrainingActivities } from './training';
import { createValidationActivities } from './validation';
import { createVersioningActivities } from './versioning';

export type { CpuActivityDeps, GpuActivityDeps } from './deps';

/** Activities of the trainset-cpu task queue (data, registry, canary). */
export function createCpuActivities(deps: CpuActivityDeps) {
  return {
    ...createRunActivities(deps),
    ...createIngestActivities(deps),
    ...createPiiActivities(deps),
    ...createDedupeActivities(deps),
    ...createLabelingActivities(deps),
    ...createVersioningActivities(deps),
    ...createQualityActivities(deps),
    ...createRegistryActivities(deps),
    ...createValidationActivities(deps),
    ...createCanaryActivities(deps),
    ...createDeploymentActivities(deps),
    ...createDeployModeActivities(deps),
    ...createDecisionActivities(),
    ...createReportActivities(deps),
    ...createMonitorActivities(deps),
  };
}

/** Activities of the trainset-gpu task queue (training). */
export function createGpuActivities(deps: GpuActivityDeps) {
  return createTrainingActivities(deps);
}

/** Every activity type, for proxyActivities in workflows. */
export type Activities = ReturnType<typeof createCpuActivities> & ReturnType<typeof createGpuActivities>;
