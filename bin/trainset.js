#!/usr/bin/env node
// Entry point of the `trainset` command: the compiled CLI (dist/cli/main.js, written by `npm run build`).
// In a checkout that was never built, or with TRAINSET_FROM_SOURCE=1 (the test suite sets it, so tests never run
// a stale dist/), it runs the TypeScript sources through tsx, which `npm ci` installs as a dev dependency.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'cli', 'main.js');
const source = path.join(root, 'src', 'cli', 'main.ts');

/** True when tsx (a dev dependency) is installed. */
function hasTsx() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

if (process.env.TRAINSET_FROM_SOURCE !== '1' && existsSync(compiled)) {
  require(compiled);
} else if (existsSync(source) && hasTsx()) {
  require('tsx/cjs');
  require(source);
} else {
  console.error(
    existsSync(compiled)
      ? 'trainset: TRAINSET_FROM_SOURCE=1 needs the sources and tsx (npm ci installs it); unset it to run dist/'
      : 'trainset: dist/cli/main.js is missing: run `npm run build` first',
  );
  process.exitCode = 1;
}
