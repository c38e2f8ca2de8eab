// Mutation testing of the pure decision and validation modules (`npm run mutation`; docs/development.md).
// One module at a time: `npx stryker run --mutate src/pii/validators.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The unit tests of these modules only, without the global setup that starts the services.
  vitest: { configFile: 'vitest.mutation.config.mts', related: true },
  // Each mutant runs only the tests that executed its code.
  coverageAnalysis: 'perTest',
  mutate: [
    'src/gate/evaluate-gate.ts',
    'src/gate/policy.ts',
    'src/gate/canary-decisions.ts',
    'src/workflows/backfill-plan.ts',
    'src/ingest/contract.ts',
    'src/pii/validators.ts',
    'src/pii/detectors*.ts',
    'src/quality/drift.ts',
    'src/monitor/decisions.ts',
    'src/monitor/skew.ts',
    'src/labeling/agreement.ts',
  ],
  // The sandbox copies the project; leave out the local data store and build outputs.
  ignorePatterns: ['.trainset', 'dist', 'coverage', '.scratch', 'deploy', 'test/histories', '*.log'],
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
};
