/** The train and deploy modes of a run: defaults and validation, shared by the workflows and the CLI. */
import type { DeployMode, RunMode, TrainMode } from './types';

/** Train modes an operator may ask for. */
export const TRAIN_MODES: readonly TrainMode[] = ['all', 'none'];
/** Deploy modes an operator may ask for. */
export const DEPLOY_MODES: readonly DeployMode[] = ['auto', 'never'];

/** The modes of a run's input with defaults applied (train `all`, deploy `auto`), or what is wrong with them. */
export function resolveRunMode(input: { train?: unknown; deploy?: unknown }): { mode: RunMode } | { problems: string[] } {
  const problems: string[] = [];
  const train = input.train ?? 'all';
  const deploy = input.deploy ?? 'auto';
  if (!TRAIN_MODES.includes(train as TrainMode))
    problems.push(`train must be one of ${TRAIN_MODES.join(', ')}, got ${JSON.stringify(train)}`);
  if (!DEPLOY_MODES.includes(deploy as DeployMode))
    problems.push(`deploy must be one of ${DEPLOY_MODES.join(', ')}, got ${JSON.stringify(deploy)}`);
  if (problems.length > 0) return { problems };
  return { mode: { train: train as TrainMode, deploy: deploy as DeployMode } };
}
