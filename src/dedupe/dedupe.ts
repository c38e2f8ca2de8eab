import { createHash, hash as oneShotHash } from 'node:crypto';
import type { DatasetSpec } from '../shared/spec';
import { DigestStore, type DigestStoreOptions } from './digest-store';
import { canonicalJson } from '../ingest/line-framing';

// Whitespace that `normalizeText` would change: a run of two or more, or any whitespace other than a plain space.
const NEEDS_COLLAPSE = /[^\S ]|\s\s/;

/** Trim, collapse runs of whitespace to one space, and lowercase. */
export function normalizeText(text: string): string {
  const t = text.trim();
  // Most texts only have single spaces: skip the replace and its copy.
  return (NEEDS_COLLAPSE.test(t) ? t.replace(/\s+/g, ' ') : t).toLowerCase();
}

const sha256 =
  typeof oneShotHash === 'function'
    ? (data: string): Buffer => oneShotHash('sha256', data, 'buffer')
    : (data: string): Buffer => createHash('sha256').update(data).digest();

/** The normalized content a record's hash covers: text fields normalized, the id and label fields left out. */
function hashedContent(record: Record<string, unknown>, spec: DatasetSpec): Record<string, unknown> {
  const { idField, labelField, textFields } = spec.schema;
  const content: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (key === idField || key === labelField || value === undefined) continue;
    const v = typeof value === 'string' && textFields.includes(key) ? normalizeText(value) : value;
    if (key === '__proto__') {
      Object.defineProperty(content, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      content[key] = v;
    }
  }
  return content;
}

/** SHA-256 digest (32 bytes) of a record's normalized content; `recordHash` is its hex form. */
export function recordDigest(record: Record<string, unknown>, spec: DatasetSpec): Buffer {
  return sha256(canonicalJson(hashedContent(record, spec)));
}

/**
 * SHA-256 (hex) of a record's normalized content: text fields normalized, the id and label fields left
 * out, so the same content re-sent under a new id (or relabeled) hashes the same.
 */
export function recordHash(record: Record<string, unknown>, spec: DatasetSpec): string {
  return recordDigest(record, spec).toString('hex');
}

const HEX_KEY = /^[0-9a-fA-F]{32}/;

/** The 16-byte key of a hash string: a hex digest's first 16 bytes, or for anything else the SHA-256 of the string. */
function keyOf(hash: string): Buffer {
  return HEX_KEY.test(hash) ? Buffer.from(hash.slice(0, 32), 'hex') : sha256(hash);
}

/** Options for `Deduper`. */
export type DeduperOptions = DigestStoreOptions;

/**
 * Remembers record hashes; seed it with earlier partitions' hashes to dedupe across partitions. Exact over the
 * first 128 bits of each digest, in bounded memory (see DigestStore): call `close()` when done, in a `finally`.
 */
export class Deduper {
  private readonly seen: DigestStore;

  constructor(
    private readonly spec: DatasetSpec,
    known: Iterable<string> = [],
    options: DeduperOptions = {},
  ) {
    this.seen = new DigestStore(options);
    try {
      for (const hash of known) this.seen.add(keyOf(hash));
    } catch (err) {
      this.seen.close();
      throw err;
    }
  }

  /** Hash a record and say whether it was seen before; the hash (full SHA-256 hex) is remembered either way. */
  check(record: Record<string, unknown>): { hash: string; duplicate: boolean } {
    const digest = recordDigest(record, this.spec);
    const duplicate = !this.seen.add(digest);
    return { hash: digest.toString('hex'), duplicate };
  }

  /** Remember a hash (as `check` returns it) without a record, e.g. one a resumed run already wrote; false if known. */
  remember(hash: string): boolean {
    return this.seen.add(keyOf(hash));
  }

  /** True when this hash (as `check` returns it, or as `hashes()` yields it) was seen. */
  has(hash: string): boolean {
    return this.seen.has(keyOf(hash));
  }

  /** How many distinct hashes were seen. */
  get size(): number {
    return this.seen.size;
  }

  /**
   * The distinct hashes seen so far as their first 128 bits in hex (32 characters), in first-seen order until
   * the store spills (see DigestStore.keys): the full digests are not kept. Seeding another Deduper with them
   * dedupes exactly as the full hashes would.
   */
  hashes(): IterableIterator<string> {
    return this.seen.keys();
  }

  /** Closes the spill file, which frees its disk space; the Deduper cannot be used afterwards. Idempotent. */
  close(): void {
    this.seen.close();
  }
}
