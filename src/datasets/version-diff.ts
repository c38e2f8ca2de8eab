/**
 * Row-level diff of two dataset versions, matched by a key field.
 *
 * Side `a` is read once into a key → entry table; side `b` then streams past it. An entry is a 16-byte
 * SHA-256 prefix of the row's canonical form (decides changed vs unchanged) followed by one (field id, 32-bit
 * FNV-1a value hash) pair per field (names which fields changed), packed into one growing arena. Memory is therefore
 * about 80 bytes a key (the key string and its Map slot) plus 20 + 8 × fields bytes of arena per row of `a`,
 * and a Map slot per key only in `b`; rows themselves are never held. A V8 Map holds at most 2^24 keys, so
 * versions beyond ~16M distinct keys need to be diffed by key range.
 */
import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../ingest/line-framing';

/** A JSON record of a dataset version. */
export type Row = Record<string, unknown>;

/** Options for `diffRows`. */
export interface DiffRowsOptions {
  /** Field that identifies a row in both versions (string or number values; others count as missing keys). */
  keyField: string;
  /** Fields left out of the comparison (a load timestamp, a lineage column). */
  ignoreFields?: readonly string[];
  /** Most keys kept per sample list (the smallest, in code-unit order); 10 by default. */
  sampleLimit?: number;
}

/** Counts per side (`a` is the old version, `b` the new one). */
export interface PerSide {
  a: number;
  b: number;
}

/** What changed between two versions. Counts are of keys; rows with a repeated key count only in `duplicateKeys`. */
export interface VersionDiff {
  /** Keys only in `b`. */
  added: number;
  /** Keys only in `a`. */
  removed: number;
  /** Keys in both whose rows differ (outside `keyField` and `ignoreFields`). */
  changed: number;
  /** Keys in both whose rows are equal. */
  unchanged: number;
  /** Rows whose key was already seen on the same side; only the first row with a key is compared. */
  duplicateKeys: PerSide;
  /** Rows with no usable key (missing, null, empty, or not a string or number), or rows that are not objects. */
  missingKeys: PerSide;
  /** Up to `sampleLimit` keys of each kind, smallest first. */
  samples: { added: string[]; removed: string[]; changed: string[]; duplicate: string[] };
  /** Among changed rows, how many differ in each field (added or dropped fields count), by field name. */
  changedFields: Record<string, number>;
}

const DEFAULT_SAMPLE_LIMIT = 10;
const DIGEST_BYTES = 16;
/** Map values below zero: the key's `a` row was matched, or the key is only in `b`. */
const MATCHED = -1;
const ONLY_IN_B = -2;

/** A row reduced to what the diff keeps: its digest and per-field (id, hash) pairs sorted by field id. */
interface Fingerprint {
  digest: Buffer;
  fieldIds: number[];
  fieldHashes: number[];
}

/** The smallest `limit` strings seen, kept sorted; O(limit) per insert, and limits are small. */
class SmallestKeys {
  readonly keys: string[] = [];

  constructor(private readonly limit: number) {}

  add(key: string): void {
    const { keys, limit } = this;
    if (limit === 0 || (keys.length === limit && key >= (keys[limit - 1] as string))) return;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as string) < key) lo = mid + 1;
      else hi = mid;
    }
    if (keys[lo] === key) return;
    keys.splice(lo, 0, key);
    if (keys.length > limit) keys.pop();
  }
}

/** Append-only byte arena for `a`'s fingerprints: [field count u32][digest 16][(field id u32, hash u32) × count]. */
class Arena {
  private buf = Buffer.alloc(64 * 1024);
  private used = 0;

  append(fp: Fingerprint): number {
    const count = fp.fieldIds.length;
    const need = 4 + DIGEST_BYTES + 8 * count;
    if (this.used + need > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.used + need));
      this.buf.copy(grown, 0, 0, this.used);
      this.buf = grown;
    }
    const at = this.used;
    this.buf.writeUInt32LE(count, at);
    fp.digest.copy(this.buf, at + 4, 0, DIGEST_BYTES);
    for (let i = 0; i < count; i++) {
      this.buf.writeUInt32LE(fp.fieldIds[i] as number, at + 4 + DIGEST_BYTES + 8 * i);
      this.buf.writeUInt32LE(fp.fieldHashes[i] as number, at + 8 + DIGEST_BYTES + 8 * i);
    }
    this.used += need;
    return at;
  }

  digestEquals(at: number, digest: Buffer): boolean {
    return this.buf.compare(digest, 0, DIGEST_BYTES, at + 4, at + 4 + DIGEST_BYTES) === 0;
  }

  /** Call `onDiff(fieldId)` for every field whose hash differs or that only one side has. */
  diffFields(at: number, fp: Fingerprint, onDiff: (fieldId: number) => void): void {
    const count = this.buf.readUInt32LE(at);
    const base = at + 4 + DIGEST_BYTES;
    let i = 0;
    let j = 0;
    while (i < count || j < fp.fieldIds.length) {
      const idA = i < count ? this.buf.readUInt32LE(base + 8 * i) : Number.POSITIVE_INFINITY;
      const idB = j < fp.fieldIds.length ? (fp.fieldIds[j] as number) : Number.POSITIVE_INFINITY;
      if (idA === idB) {
        if (this.buf.readUInt32LE(base + 8 * i + 4) !== fp.fieldHashes[j]) onDiff(idA);
        i += 1;
        j += 1;
      } else if (idA < idB) {
        onDiff(idA);
        i += 1;
      } else {
        onDiff(idB);
        j += 1;
      }
    }
  }
}

// crypto.hash skips building a Hash object (2-3x faster per row) but needs Node 20.12; package.json allows 20.0.
const sha256: (text: string) => Buffer =
  typeof hash === 'function' ? (text) => hash('sha256', text, 'buffer') : (text) => createHash('sha256').update(text).digest();

/**
 * 32-bit FNV-1a over UTF-16 code units: only names which fields changed, after the row's SHA-256 digest has
 * decided that it changed, so a collision can at worst leave one field out of `changedFields`. A SHA-256 per
 * field cost more than everything else in the diff together.
 */
function fieldHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function keyOf(row: unknown, keyField: string): string | undefined {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return undefined;
  const v = (row as Row)[keyField];
  if (typeof v === 'string') return v === '' ? undefined : v;
  // Keys are compared as text: 7 and "7" are the same key.
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * Compare two versions row by row, matching rows on `options.keyField`. Rows are compared by their canonical
 * JSON (key order never matters) without the key and `ignoreFields`. Reads `a` fully, then streams `b`;
 * memory grows with `a`'s row count, never with row size (see the module comment).
 */
export async function diffRows(
  a: AsyncIterable<Row> | Iterable<Row>,
  b: AsyncIterable<Row> | Iterable<Row>,
  options: DiffRowsOptions,
): Promise<VersionDiff> {
  const { keyField } = options;
  const sampleLimit = options.sampleLimit ?? DEFAULT_SAMPLE_LIMIT;
  if (!Number.isInteger(sampleLimit) || sampleLimit < 0) {
    throw new RangeError(`diffRows: sampleLimit must be a non-negative integer, got ${sampleLimit}`);
  }
  const skip = new Set([keyField, ...(options.ignoreFields ?? [])]);
  const fieldIds = new Map<string, number>();
  const fieldNames: string[] = [];

  const fieldIdOf = (name: string): number => {
    let id = fieldIds.get(name);
    if (id === undefined) {
      id = fieldNames.length;
      fieldIds.set(name, id);
      fieldNames.push(name);
    }
    return id;
  };

  // The row's compared fields as (name, canonical value), sorted by name; undefined values are absent, as in JSON.
  const canonicalFields = (row: Row): Array<[string, string]> => {
    const out: Array<[string, string]> = [];
    for (const name of Object.keys(row).sort()) {
      if (skip.has(name) || row[name] === undefined) continue;
      out.push([name, canonicalJson(row[name])]);
    }
    return out;
  };

  const digestOf = (fields: Array<[string, string]>): Buffer => {
    let text = '';
    // JSON-quoted names and canonical values are self-delimiting, so this encoding is unambiguous.
    for (const [name, value] of fields) text += `${JSON.stringify(name)}:${value},`;
    return sha256(text);
  };

  const fingerprintOf = (fields: Array<[string, string]>, digest: Buffer): Fingerprint => {
    const pairs = fields.map(([name, value]): [number, number] => [fieldIdOf(name), fieldHash(value)]);
    pairs.sort((x, y) => x[0] - y[0]);
    return { digest, fieldIds: pairs.map((p) => p[0]), fieldHashes: pairs.map((p) => p[1]) };
  };

  const diff: VersionDiff = {
    added: 0,
    removed: 0,
    changed: 0,
    unchanged: 0,
    duplicateKeys: { a: 0, b: 0 },
    missingKeys: { a: 0, b: 0 },
    samples: { added: [], removed: [], changed: [], duplicate: [] },
    changedFields: {},
  };
  const samples = {
    added: new SmallestKeys(sampleLimit),
    removed: new SmallestKeys(sampleLimit),
    changed: new SmallestKeys(sampleLimit),
    duplicate: new SmallestKeys(sampleLimit),
  };
  const changedById: number[] = [];
  const arena = new Arena();
  // Value: `a`'s arena offset while unmatched, then MATCHED; ONLY_IN_B for keys `b` added.
  const entries = new Map<string, number>();

  for await (const row of a) {
    const key = keyOf(row, keyField);
    if (key === undefined) {
      diff.missingKeys.a += 1;
      continue;
    }
    if (entries.has(key)) {
      diff.duplicateKeys.a += 1;
      samples.duplicate.add(key);
      continue;
    }
    const fields = canonicalFields(row);
    entries.set(key, arena.append(fingerprintOf(fields, digestOf(fields))));
  }

  // `a`'s duplicates are all in `entries`; `b`'s are told apart from them by the entry's state.
  for await (const row of b) {
    const key = keyOf(row, keyField);
    if (key === undefined) {
      diff.missingKeys.b += 1;
      continue;
    }
    const at = entries.get(key);
    if (at === undefined) {
      diff.added += 1;
      samples.added.add(key);
      entries.set(key, ONLY_IN_B);
      continue;
    }
    if (at < 0) {
      diff.duplicateKeys.b += 1;
      samples.duplicate.add(key);
      continue;
    }
    entries.set(key, MATCHED);
    const fields = canonicalFields(row);
    const digest = digestOf(fields);
    if (arena.digestEquals(at, digest)) {
      diff.unchanged += 1;
      continue;
    }
    diff.changed += 1;
    samples.changed.add(key);
    arena.diffFields(at, fingerprintOf(fields, digest), (id) => {
      changedById[id] = (changedById[id] ?? 0) + 1;
    });
  }

  for (const [key, at] of entries) {
    if (at < 0) continue;
    diff.removed += 1;
    samples.removed.add(key);
  }

  diff.samples = {
    added: samples.added.keys,
    removed: samples.removed.keys,
    changed: samples.changed.keys,
    duplicate: samples.duplicate.keys,
  };
  const changedFields = changedById.flatMap((count, id) => (count ? [[fieldNames[id] as string, count] as const] : []));
  changedFields.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  diff.changedFields = Object.fromEntries(changedFields);
  return diff;
}
