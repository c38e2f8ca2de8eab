import type { MonitorBreachKind } from './types';

/** Every kind of breach the monitor judges, in the order it reports them (workflows, CLI and metrics share it). */
export const MONITOR_BREACH_KINDS: readonly MonitorBreachKind[] = [
  'accuracy',
  'errors',
  'latency',
  'prediction_shift',
  'drift',
  'skew',
  'no_traffic',
];
