import { ErrorType, TrainsetError } from '../shared/errors';

/** A routing compare-and-set found a different candidate than the caller expected (RoutingConflict, not retried). */
export class RoutingConflictError extends TrainsetError {
  constructor(
    readonly model: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(
      `Routing of model ${model} changed concurrently: expected candidate ${expected ?? '(none)'}, found ${actual ?? '(none)'}; re-read the deployment before retrying`,
      { type: ErrorType.RoutingConflict },
    );
    this.name = 'RoutingConflictError';
  }
}

/**
 * The registry has no row the operation needs (dataset version, model version, deployment). A plain Error, not a
 * TrainsetError: its failure depends on the activity (a routing change fails with InvalidInput, see
 * activities/routing-change.ts; elsewhere it is retried under its class name).
 */
export class RegistryNotFoundError extends Error {
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`Registry has no ${kind} ${id}`);
    this.name = 'RegistryNotFoundError';
  }
}

/**
 * A write was asked to break an invariant of the registry (e.g. an alias pointing at another model's version). A
 * plain Error for the same reason as RegistryNotFoundError.
 */
export class RegistryInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryInvariantError';
  }
}
