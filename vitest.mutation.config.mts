import { defineConfig } from 'vitest/config';

/**
 * The unit tests of the pure decision and validation modules, for Stryker (stryker.config.mjs).
 * No globalSetup (it starts PostgreSQL, S3 and the dev server) and no setup file (it loads the Temporal
 * native runtime): these tests need neither, and Stryker runs them once per mutant.
 */
export default defineConfig({
  test: {
    include: [
      'test/unit/gate-policy.test.ts',
      'test/unit/gate-recheck.test.ts',
      'test/unit/canary-decisions.test.ts',
      'test/workflows/backfill-plan.test.ts',
      'test/unit/data-contract.test.ts',
      'test/unit/pii-detectors.test.ts',
      'test/unit/pii-engine.test.ts',
      'test/unit/pii-validators.test.ts',
      'test/unit/data-drift.test.ts',
      'test/unit/monitor-decisions.test.ts',
      'test/unit/monitor-skew.test.ts',
      'test/unit/labeling-agreement.test.ts',
      'test/unit/*-mutants.test.ts',
    ],
    testTimeout: 30_000,
  },
});
