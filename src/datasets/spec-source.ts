import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DATASET_NAME } from '../shared/ids';
import { parseDatasetSpec, type DatasetSpec } from '../shared/spec';

/** A loaded spec and the hash that pins it into dataset versions. */
export interface LoadedSpec {
  spec: DatasetSpec;
  specHash: string;
}

/** Where dataset specs come from. */
export interface SpecSource {
  load(dataset: string): Promise<LoadedSpec>;
}

/**
 * Hash of a spec's canonical JSON (key order does not matter). The `monitor` section is left out: it watches the
 * served model and shapes no dataset or model, so changing it (or upgrading to a release that added it with its
 * defaults) starts no new dataset version.
 */
export function specHashOf(spec: DatasetSpec): string {
  const { monitor: _monitor, ...shaping } = spec;
  return createHash('sha256').update(stableStringify(shaping)).digest('hex');
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Specs as `<dir>/<dataset>.yaml` (or .yml / .json) files. */
export function createDirSpecSource(dir: string): SpecSource {
  return {
    async load(dataset: string): Promise<LoadedSpec> {
      if (!DATASET_NAME.test(dataset)) throw new Error(`Invalid dataset name ${JSON.stringify(dataset)}`);
      for (const ext of ['.yaml', '.yml', '.json']) {
        const file = path.join(dir, `${dataset}${ext}`);
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          continue;
        }
        const spec = parseDatasetSpec(parseYaml(text), file);
        if (spec.dataset !== dataset) throw new Error(`Spec ${file} declares dataset "${spec.dataset}", expected "${dataset}"`);
        return { spec, specHash: specHashOf(spec) };
      }
      throw new Error(`No spec for dataset "${dataset}" in ${dir} (looked for ${dataset}.yaml, .yml, .json)`);
    },
  };
}
