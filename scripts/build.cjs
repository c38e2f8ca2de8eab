#!/usr/bin/env node
// `npm run build`: compile src/ to dist/ (tsconfig.build.json), copy the registry's SQL migrations next to the
// compiled migrate.js, and write the workflow bundles once (dist/workflow-bundle.js and
// dist/workflow-bundle-tracing.js) so compiled workers start without webpack. dist/ is rebuilt from scratch:
// a module deleted from src/ must not linger in it. `--out-dir <dir>` builds elsewhere (a test does, under the
// repository so that node_modules resolves).
'use strict';
const { spawnSync } = require('node:child_process');
const { cpSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outDirFlag = process.argv.indexOf('--out-dir');
const dist = outDirFlag > 0 ? path.resolve(process.argv[outDirFlag + 1] || '.') : path.join(root, 'dist');
// It is deleted first: never the repository or a folder that holds it.
if (!path.relative(dist, root).startsWith('..')) {
  console.error(`build: refusing to build into ${dist}: it would delete ${root}`);
  process.exit(2);
}
const started = Date.now();
const step = (what) => process.stdout.write(`build: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);

rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist],
  {
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
step(`compiled src/ to ${path.relative(root, dist)}/`);

cpSync(path.join(root, 'src', 'registry', 'migrations'), path.join(dist, 'registry', 'migrations'), { recursive: true });

require(path.join(dist, 'workers', 'workflow-bundle.js'))
  .writeWorkflowBundles(dist)
  .then((files) => step(`wrote ${files.map((f) => path.relative(root, f)).join(', ')}`))
  .catch((err) => {
    console.error(`build: bundling the workflows failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  });
