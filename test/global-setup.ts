/**
 * vitest globalSetup: makes sure the real services (Temporal CLI, PostgreSQL, S3) are up by running the idempotent
 * `scripts/services.sh up`, then copies `.trainset/services.env` into process.env. vitest builds each forked
 * worker's environment from process.env after global setup has run, so every test file sees these variables
 * (test/helpers/services.ts reads them). A missing backend fails the whole run here: no test skips silently.
 *
 * Set TRAINSET_EXTERNAL_SERVICES=1 to skip the script and use variables already exported (your own services).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_ENV_VARS } from './helpers/services';

const repoRoot = resolve(__dirname, '..');

/** Parses the `export NAME='value'` lines that scripts/services.sh writes. */
export function parseServicesEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) vars[match[1]] = match[2];
  }
  return vars;
}

function provideServices(): void {
  const started = Date.now();
  const result = spawnSync('bash', [join(repoRoot, 'scripts', 'services.sh'), 'up'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: process.env,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      `The test services could not be provided (scripts/services.sh up exited with ${
        result.error?.message ?? String(result.status)
      }). Tests need real Temporal, PostgreSQL and S3; fix the problem below and rerun.\n${output}`,
    );
  }
  const home = process.env.TRAINSET_HOME ?? join(repoRoot, '.trainset');
  const vars = parseServicesEnv(readFileSync(join(home, 'services.env'), 'utf8'));
  Object.assign(process.env, vars);
  console.log(`[global-setup] services up in ${Date.now() - started} ms (${join(home, 'services.env')})`);
}

/** vitest globalSetup entry point. */
export default function setup(): void {
  if (process.env.TRAINSET_EXTERNAL_SERVICES !== '1') provideServices();
  const missing = SERVICE_ENV_VARS.filter((name) => (process.env[name] ?? '') === '');
  if (missing.length > 0) {
    throw new Error(
      `Test services are not configured: ${missing.join(', ')} missing. Run \`bash scripts/services.sh up\` ` +
        '(or unset TRAINSET_EXTERNAL_SERVICES) and rerun the tests.',
    );
  }
}
