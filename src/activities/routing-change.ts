/** What the canary and promotion activities share: who a routing change is recorded as, and how a refusal fails. */
import { ApplicationFailure } from '@temporalio/activity';
import { RegistryInvariantError, RegistryNotFoundError } from '../registry/errors';
import { ErrorType } from '../shared/errors';

/** The actor a workflow's routing change is audited as. */
export const actorOf = (workflowId: string): string => `workflow:${workflowId}`;

/**
 * Run a registry write of a routing change. Its refusals (RoutingConflictError, DeploymentMovedError,
 * DeploymentChangeRefusedError) are TrainsetErrors the worker's interceptor fails non-retryably; a missing row or a
 * broken invariant is bad input here (the same call fails the same way), where other activities retry them.
 */
export async function routingChange<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RegistryNotFoundError || err instanceof RegistryInvariantError) {
      throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidInput);
    }
    throw err;
  }
}
