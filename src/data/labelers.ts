/** Programmatic labelers by name (labeling functions a spec can pick); each may abstain (undefined). */
import { programmaticLabel } from './ticket-labeler';

/** A labeling function: a label, or undefined to abstain. */
export type LabelingFunction = (record: Record<string, unknown>) => string | undefined;

const LABELERS: Readonly<Record<string, LabelingFunction>> = {
  'ticket-keywords': programmaticLabel,
};

/** The labeling function a spec names; throws listing the known names when it is unknown. */
export function labelingFunction(name: string): LabelingFunction {
  const fn = LABELERS[name];
  if (!fn) throw new Error(`Unknown labeling function "${name}"; known: ${Object.keys(LABELERS).join(', ')}`);
  return fn;
}
