import { ErrorType } from '../shared/errors';

/** A routing compare-and-set found a different candidate than the caller expected. */
export class RoutingConflictError extends Error {
  /** ErrorType the activity layer puts on the ApplicationFailure. */
  readonly type = ErrorType.RoutingConflict;

  constructor(
    readonly model: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(
      `Routing of model ${model} changed concurrently: expected candidate ${expected ?? '(none)'}, found ${actual ?? '(none)'}; re-read the deployment before retrying`,
    );
    this.name = 'RoutingConflictError';
  }
}

/** The registry has no row the operation needs (dataset version, model version, deployment). */
export class RegistryNotFoundError extends Error {
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`Registry has no ${kind} ${id}`);
    this.name = 'RegistryNotFoundError';
  }
}

/** A write was asked to break an invariant of the registry (e.g. an alias pointing at another model's version). */
export class RegistryInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryInvariantError';
  }
}
