/** Which fields a hashed-feature model reads, and how many hash buckets it uses. */
export interface FeatureSpec {
  /** Number of hash buckets (the model's input dimension). */
  features: number;
  /** Fields tokenized as free text (unigrams + bigrams). */
  textFields: readonly string[];
  /** Fields turned into one `field=value` token each. */
  categoricalFields: readonly string[];
}

/** A sparse, L2-normalised feature vector: sorted bucket indices and their values. */
export interface SparseVector {
  indices: Uint32Array;
  values: Float64Array;
}

const NON_ALNUM = /[^\p{L}\p{N}]+/u;

/** Lowercase `text` and split it on anything that is not a letter or digit. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .split(NON_ALNUM)
    .filter((t) => t.length > 0);
}

/** Unigrams followed by space-joined bigrams of a text (bigrams never collide with unigrams). */
export function textTokens(text: string): string[] {
  const words = tokenize(text);
  const out = words.slice();
  for (let i = 1; i < words.length; i++) out.push(`${words[i - 1]} ${words[i]}`);
  return out;
}

/**
 * FNV-1a 32-bit over the UTF-8 bytes of `s`, as an unsigned integer.
 * UTF-8 (not UTF-16 code units) so that a serving stack in another language can reproduce it.
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp < 0x80) {
      h = Math.imul(h ^ cp, 0x01000193);
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x800) {
      h = Math.imul(h ^ (0xc0 | (cp >> 6)), 0x01000193);
    } else if (cp < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (cp >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (cp >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (cp & 0x3f)), 0x01000193);
  }
  return h >>> 0;
}

/** Every token of a record: text unigrams/bigrams of each text field, then `field=value` per categorical field. */
export function recordTokens(record: Record<string, unknown>, spec: FeatureSpec): string[] {
  const out: string[] = [];
  for (const field of spec.textFields) {
    const v = record[field];
    if (typeof v === 'string') out.push(...textTokens(v));
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(...textTokens(String(v)));
  }
  for (const field of spec.categoricalFields) {
    const v = record[field];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(`${field}=${String(v)}`);
  }
  return out;
}

/**
 * Hash a record into an L2-normalised sparse vector of `spec.features` buckets.
 * Bucket = low 31 bits of the hash mod features; sign = top bit (signed hashing keeps collisions unbiased).
 * The one featurizer used by training, evaluation and serving.
 */
export function featurize(record: Record<string, unknown>, spec: FeatureSpec): SparseVector {
  const acc = new Map<number, number>();
  for (const token of recordTokens(record, spec)) {
    const h = fnv1a32(token);
    const index = (h & 0x7fffffff) % spec.features;
    const sign = h >>> 31 === 1 ? -1 : 1;
    acc.set(index, (acc.get(index) ?? 0) + sign);
  }
  const entries = [...acc.entries()].filter(([, v]) => v !== 0).sort((a, b) => a[0] - b[0]);
  let norm = 0;
  for (const [, v] of entries) norm += v * v;
  norm = Math.sqrt(norm);
  const indices = new Uint32Array(entries.length);
  const values = new Float64Array(entries.length);
  entries.forEach(([i, v], k) => {
    indices[k] = i;
    values[k] = v / norm;
  });
  return { indices, values };
}
