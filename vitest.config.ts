import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Worker threads crash with the Temporal native bridge; forks do not.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Commands the tests spawn (node bin/trainset.js …) run the sources under test, never a stale dist/ build.
    env: { TRAINSET_FROM_SOURCE: '1' },
  },
});
