/** The workflows' retry policies ride out a short outage of a backend (the chaos suite's 30 s PostgreSQL stop). */
import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { describe, expect, it } from 'vitest';
import { RETRY_POLICIES } from '../../src/workflows/activity-proxies';

/** Milliseconds of backoff between the first and the last attempt of a policy (attempts that fail at once). */
function retryWindowMs(p: {
  initialInterval?: Duration;
  maximumInterval?: Duration;
  backoffCoefficient?: number;
  maximumAttempts?: number;
}): number {
  const initial = msToNumber(p.initialInterval ?? '1 second');
  const max = p.maximumInterval === undefined ? initial * 100 : msToNumber(p.maximumInterval);
  const attempts = p.maximumAttempts ?? Infinity;
  let total = 0;
  let interval = initial;
  for (let i = 1; i < attempts && total < 3_600_000; i++) {
    total += interval;
    interval = Math.min(interval * (p.backoffCoefficient ?? 2), max);
  }
  return total;
}

describe('retry policies', () => {
  it.each(['standard', 'scan', 'lookup'] as const)('%s outlasts a two-minute outage of the registry or the blob store', (name) => {
    expect(retryWindowMs(RETRY_POLICIES[name])).toBeGreaterThanOrEqual(120_000);
  });

  it('canary traffic retries stay at most 10 s apart, so a step lands within its bake', () => {
    expect(msToNumber(RETRY_POLICIES.traffic.maximumInterval)).toBeLessThanOrEqual(10_000);
  });
});
