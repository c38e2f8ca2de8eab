/** The port the canary reads live metrics through: champion vs candidate over the same window. */
import type { ArmStats } from '../shared/types';

/** Which window to read: a routing generation (exact, gateway log) or the last windowSeconds (time-based sources). */
export interface CanaryMetricsQuery {
  model: string;
  generation: number;
  windowSeconds: number;
  /** Feedback sources to count (gateway log); sources that cannot tell feedback apart by source ignore it. */
  trustedFeedbackSources?: readonly string[];
}

/** Live metrics of both arms over one window. */
export interface ArmWindow {
  champion: ArmStats;
  candidate: ArmStats;
}

/** A canary metrics source (gateway prediction log, Prometheus, …). Throws when the source cannot be read. */
export interface CanaryMetricsSource {
  readonly name: string;
  window(q: CanaryMetricsQuery): Promise<ArmWindow>;
}
