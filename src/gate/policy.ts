/** Gate policies from files: the spec's `gates` section alone, or a whole spec, as YAML or JSON. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { GatesSchema } from '../shared/spec';
import type { GatePolicy } from '../shared/types';

/** Parse a gate policy from YAML or JSON text; a document with a top-level `gates` key is read as a spec. */
export function parseGatePolicy(text: string, source = 'policy'): GatePolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`Invalid gate policy ${source}: not YAML or JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'gates' in raw) raw = (raw as { gates: unknown }).gates;
  const r = GatesSchema.safeParse(raw ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid gate policy ${source}:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** Read and parse a gate policy file. */
export async function readGatePolicyFile(file: string): Promise<GatePolicy> {
  return parseGatePolicy(await readFile(file, 'utf8'), file);
}
