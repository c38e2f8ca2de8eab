/** A test's own folder of specs: the repository's specs copied, each one editable without touching specs/. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';

export { withShuffledLabels } from '../../src/cli/demo';

const REPO_SPECS = path.resolve(__dirname, '../../specs');

/** A copied specs folder. */
export interface SpecCopy {
  dir: string;
  /** Rewrite `<dataset>.yaml` from the repository's version through `change` (undefined: back to the original). */
  write(dataset: string, change?: (spec: Record<string, unknown>) => Record<string, unknown>): Promise<void>;
  remove(): Promise<void>;
}

/** Copy specs/ into a fresh temporary folder. */
export async function copySpecs(): Promise<SpecCopy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-specs-'));
  await cp(REPO_SPECS, dir, { recursive: true });
  return {
    dir,
    async write(dataset, change) {
      const original = parse(await readFile(path.join(REPO_SPECS, `${dataset}.yaml`), 'utf8')) as Record<string, unknown>;
      await writeFile(path.join(dir, `${dataset}.yaml`), stringify(change ? change(original) : original));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
