/** Activity interceptor that fails an activity throwing a TrainsetError with the ApplicationFailure it describes. */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { TrainsetError } from '../shared/errors';

/** The ApplicationFailure a TrainsetError stands for: same message, type and retryability (and cause, when it has one). */
export function toApplicationFailure(err: TrainsetError): ApplicationFailure {
  const failure = ApplicationFailure.create({
    message: err.message,
    type: err.type,
    nonRetryable: err.nonRetryable,
    cause: err.cause instanceof Error ? err.cause : undefined,
  });
  // The stack of the throw, not of this conversion.
  if (err.stack !== undefined) failure.stack = err.stack;
  return failure;
}

/** Turns a TrainsetError into its ApplicationFailure; anything else (CancelledFailure, plain errors) passes untouched. */
export class TrainsetErrorInterceptor implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      throw err instanceof TrainsetError ? toApplicationFailure(err) : err;
    }
  }
}

/**
 * The factory for a worker's `interceptors.activity` list. Put it last (innermost), so tracing and metrics
 * interceptors see the ApplicationFailure the workflow gets.
 */
export const trainsetErrorInterceptors: ActivityInterceptorsFactory = () => ({ inbound: new TrainsetErrorInterceptor() });
