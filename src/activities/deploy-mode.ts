/** What a run's deploy mode `auto` looks up: whether its partition is the newest one processed for the dataset. */
import type { CpuActivityDeps } from './deps';

/** Deploy-mode activities. */
export function createDeployModeActivities({ registry }: CpuActivityDeps) {
  return {
    /**
     * The newest partition (logical date) a dataset version was built for, or undefined before the first. Only a
     * run for this partition (or a newer one) deploys under `deploy: auto`.
     */
    async newestProcessedPartition(input: { dataset: string }): Promise<string | undefined> {
      const [newest] = await registry.datasets.listVersions(input.dataset, 1);
      return newest?.logicalDate;
    },
  };
}
