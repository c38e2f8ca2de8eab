import { createHash } from 'node:crypto';
import type { Arm, RoutingState } from './ports';

const BUCKETS = 10_000;

/**
 * Bucket (0..9999) of a request key. The generation is deliberately not hashed in, so a key keeps its bucket
 * across weight steps: a key on the candidate at 5 % stays on it at 25 %.
 */
export function routingBucket(requestKey: string): number {
  return createHash('sha256').update(requestKey, 'utf8').digest().readUInt32BE(0) % BUCKETS;
}

/** Sticky, deterministic choice of the arm that serves a request key under a routing state. */
export function chooseArm(requestKey: string, state: RoutingState): Arm {
  if (state.candidateVersion === null || !(state.candidateWeight > 0)) return 'champion';
  if (state.candidateWeight >= 100) return 'candidate';
  return routingBucket(requestKey) < state.candidateWeight * (BUCKETS / 100) ? 'candidate' : 'champion';
}
