/** `trainset backfill` refuses a bad range before it connects to anything, naming the problem. */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program';

describe('trainset backfill', () => {
  it('rejects from after to without starting anything', async () => {
    const program = buildProgram().exitOverride();
    // No TEMPORAL_ADDRESS reachable is needed: the check comes first.
    await expect(
      program.parseAsync(['backfill', 'tickets', '--from', '2026-11-05', '--to', '2026-11-01'], { from: 'user' }),
    ).rejects.toThrow('invalid backfill: from must not be after to');
  });
});
