/**
 * Reading the failures workflow code catches: an activity's or a child's error arrives wrapped (ActivityFailure,
 * ChildWorkflowFailure) with what was thrown as its cause. Both helpers follow the SDK's cause chain
 * (`TemporalFailure.cause`), the one `rootCause` walks.
 */
import { ApplicationFailure, TemporalFailure, rootCause } from '@temporalio/workflow';

/** Type and message of a failure, as a workflow reports it. */
export interface FailureSummary {
  /** The ApplicationFailure's type (an ErrorType), or undefined when there is none. */
  type?: string;
  message: string;
}

/**
 * The first ApplicationFailure in a failure's cause chain and its type: the pipeline's own error for a failed child,
 * the activity's error for a failed activity. Without one, the error's own message and no type.
 */
export function summarizeFailure(err: unknown): FailureSummary {
  for (let e: unknown = err; e instanceof TemporalFailure; e = e.cause) {
    if (e instanceof ApplicationFailure) return { type: e.type ?? undefined, message: e.message };
  }
  return { message: errorMessage(err) };
}

/** An error's own message (of whatever was thrown, when it is not an Error). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The message at the end of a failure's cause chain (what the activity itself threw), at most `maxChars` long. */
export function rootCauseMessage(err: unknown, maxChars: number): string {
  return (rootCause(err) ?? String(err)).slice(0, maxChars);
}
