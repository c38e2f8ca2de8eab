/** Programmatic labelers by name (labeling functions a spec can pick); each may abstain (undefined). */
import { ErrorType, TrainsetError } from '../shared/errors';
import { NO_LABELING_FUNCTION } from '../shared/spec';
import { programmaticLabel } from '../samples/tickets/labeler';

/** A labeling function: a label, or undefined to abstain. */
export type LabelingFunction = (record: Record<string, unknown>) => string | undefined;

const LABELERS: Readonly<Record<string, LabelingFunction>> = {
  'ticket-keywords': programmaticLabel,
};

/**
 * A spec that cannot label its records: it names no labeling function, or an unknown one. It fails with type
 * InvalidSpec, which every retry policy of the pipeline lists as not retried: no retry fixes a spec. The failure
 * itself is marked retryable, as it always was (before the TrainsetError base, Temporal typed it by this class name).
 */
export class InvalidSpec extends TrainsetError {
  constructor(message: string) {
    super(message, { type: ErrorType.InvalidSpec, nonRetryable: false });
    this.name = 'InvalidSpec';
  }
}

/** Names of the labeling functions a spec can pick. */
export function labelingFunctionNames(): string[] {
  return Object.keys(LABELERS);
}

/**
 * The labeling function a spec names. Throws InvalidSpec when it names none (records arrived without labels, and
 * nothing may guess them) or an unknown one, listing the known names.
 */
export function labelingFunction(name: string): LabelingFunction {
  const known = labelingFunctionNames().join(', ');
  if (name === NO_LABELING_FUNCTION) {
    throw new InvalidSpec(
      `records arrived without a label and the spec names no labeling function: label them at the source, set ` +
        `labels.labelingFunction (known: ${known}) or labels.labeler: human`,
    );
  }
  const fn = LABELERS[name];
  if (!fn) throw new InvalidSpec(`Unknown labeling function "${name}"; known: ${known}`);
  return fn;
}
