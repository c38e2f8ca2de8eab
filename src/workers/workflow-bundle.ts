/**
 * The workflow bundle: webpack output of src/workflows/index that a worker runs in its sandbox. `npm run build`
 * writes it once (dist/workflow-bundle.js, and dist/workflow-bundle-tracing.js with the OpenTelemetry workflow
 * interceptors); compiled workers load that file. Running from the sources (tsx, tests) there is none, so it is
 * bundled on the fly, once per process.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { OTEL_WORKFLOW_INTERCEPTOR_MODULE } from './tracing';

/** Path of the workflows module (the only workflowsPath): index.ts from source, index.js when compiled. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', `index${path.extname(__filename)}`);

/** File name of the prebuilt bundle, without and with the tracing interceptors. */
export const bundleFileName = (tracing: boolean): string => (tracing ? 'workflow-bundle-tracing.js' : 'workflow-bundle.js');

/** Where `npm run build` puts the prebuilt bundles: the root of dist/, one folder above this module's. */
const PREBUILT_DIR = path.join(__dirname, '..');

/** The workflow bundler's logger: warnings and errors only (also used by tests and benchmarks that bundle). */
export const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`${m}\n`),
  error: (m: string) => process.stderr.write(`${m}\n`),
};

/** Bundle the workflows (webpack, seconds); with tracing, the OpenTelemetry workflow interceptors too (they add no commands). */
export async function bundleWorkflows(opts: { tracing: boolean }): Promise<{ code: string }> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: opts.tracing ? [OTEL_WORKFLOW_INTERCEPTOR_MODULE] : [],
    logger: quietBundlerLogger,
  });
}

const onTheFly = new Map<boolean, Promise<WorkflowBundleOption>>();

/**
 * The bundle a worker runs: the prebuilt file when running compiled code, else bundled once per process (every
 * worker of the process reuses it).
 */
export function workflowBundle(opts: { tracing?: boolean } = {}): Promise<WorkflowBundleOption> {
  const tracing = opts.tracing ?? false;
  const prebuilt = path.join(PREBUILT_DIR, bundleFileName(tracing));
  if (path.extname(__filename) === '.js' && existsSync(prebuilt)) return Promise.resolve({ codePath: prebuilt });
  let bundle = onTheFly.get(tracing);
  if (!bundle) {
    bundle = bundleWorkflows({ tracing });
    onTheFly.set(tracing, bundle);
  }
  return bundle;
}

/** Write both bundles into outDir (the build step); returns the files written. */
export async function writeWorkflowBundles(outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (const tracing of [false, true]) {
    const file = path.join(outDir, bundleFileName(tracing));
    await writeFile(file, (await bundleWorkflows({ tracing })).code);
    files.push(file);
  }
  return files;
}
