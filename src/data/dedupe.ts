import { createHash, hash as oneShotHash } from 'node:crypto';
import type { DatasetSpec } from '../shared/spec';
import { canonicalJson } from './jsonl';

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

/** Bytes of each digest the store keeps: 128 bits, so a false duplicate among billions of records is negligible. */
const KEY_BYTES = 16;
const KEY_WORDS = KEY_BYTES / 4;
const HEX_KEY = /^[0-9a-fA-F]{32}/;

/**
 * A set of 128-bit digest prefixes in flat typed arrays: the keys, appended in first-seen order (16 bytes
 * each), and an open-addressing table of key indexes (4 bytes a slot, at most 3/4 full). About 25–40 bytes
 * a record instead of ~130 for a Set of 64-character strings, and nothing the GC has to trace.
 */
class DigestSet {
  private keys = new Uint32Array(KEY_WORDS * 1024);
  private table = new Int32Array(2048).fill(-1);
  private mask = 2047;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds the key (the first 16 bytes of `digest`); returns false when it was already there. */
  add(digest: Buffer): boolean {
    const w0 = digest.readUInt32LE(0);
    const w1 = digest.readUInt32LE(4);
    const w2 = digest.readUInt32LE(8);
    const w3 = digest.readUInt32LE(12);
    const slot = this.find(w0, w1, w2, w3);
    if (this.table[slot] !== -1) return false;
    if (this.count * KEY_WORDS >= this.keys.length) {
      const grown = new Uint32Array(Math.ceil((this.keys.length * 3) / 2 / KEY_WORDS) * KEY_WORDS);
      grown.set(this.keys);
      this.keys = grown;
    }
    const at = this.count * KEY_WORDS;
    this.keys[at] = w0;
    this.keys[at + 1] = w1;
    this.keys[at + 2] = w2;
    this.keys[at + 3] = w3;
    this.table[slot] = this.count;
    this.count += 1;
    if (this.count * 4 > this.table.length * 3) this.rehash();
    return true;
  }

  has(digest: Buffer): boolean {
    const slot = this.find(digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12));
    return this.table[slot] !== -1;
  }

  /** The keys in first-seen order, as 16-byte buffers (copies). */
  *values(): Generator<Buffer> {
    for (let i = 0; i < this.count; i++) {
      const at = i * KEY_WORDS;
      yield Buffer.from(this.keys.buffer.slice(at * 4, (at + KEY_WORDS) * 4));
    }
  }

  /** The slot holding this key, or the empty slot where it would go (linear probing; SHA-256 bits are already uniform). */
  private find(w0: number, w1: number, w2: number, w3: number): number {
    const { keys, table, mask } = this;
    let slot = w0 & mask;
    for (;;) {
      const idx = table[slot] as number;
      if (idx === -1) return slot;
      const at = idx * KEY_WORDS;
      if (keys[at] === w0 && keys[at + 1] === w1 && keys[at + 2] === w2 && keys[at + 3] === w3) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private rehash(): void {
    const size = this.table.length * 2;
    const table = new Int32Array(size).fill(-1);
    const mask = size - 1;
    const keys = this.keys;
    for (let i = 0; i < this.count; i++) {
      let slot = (keys[i * KEY_WORDS] as number) & mask;
      while (table[slot] !== -1) slot = (slot + 1) & mask;
      table[slot] = i;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** The 16-byte key of a hash string: a hex digest's first 16 bytes, or for anything else the SHA-256 of the string. */
function keyOf(hash: string): Buffer {
  return HEX_KEY.test(hash) ? Buffer.from(hash.slice(0, 32), 'hex') : sha256(hash);
}

/**
 * Remembers record hashes; seed it with earlier partitions' hashes to dedupe across partitions.
 * Only the first 128 bits of each digest are kept (see DigestSet), so memory per record stays small.
 */
export class Deduper {
  private readonly seen = new DigestSet();

  constructor(
    private readonly spec: DatasetSpec,
    known: Iterable<string> = [],
  ) {
    for (const hash of known) this.seen.add(keyOf(hash));
  }

  /** Hash a record and say whether it was seen before; the hash (full SHA-256 hex) is remembered either way. */
  check(record: Record<string, unknown>): { hash: string; duplicate: boolean } {
    const digest = recordDigest(record, this.spec);
    const duplicate = !this.seen.add(digest);
    return { hash: digest.toString('hex'), duplicate };
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
   * The distinct hashes seen so far, in first-seen order, as their first 128 bits in hex (32 characters):
   * the full digests are not kept. Seeding another Deduper with them dedupes exactly as the full hashes would.
   */
  *hashes(): IterableIterator<string> {
    for (const key of this.seen.values()) yield key.toString('hex');
  }
}
