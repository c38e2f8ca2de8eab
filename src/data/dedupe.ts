import { createHash } from 'node:crypto';
import type { DatasetSpec } from '../shared/spec';
import { canonicalJson } from './jsonl';

/** Trim, collapse runs of whitespace to one space, and lowercase. */
export function normalizeText(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * SHA-256 (hex) of a record's normalized content: text fields normalized, the id and label fields left
 * out, so the same content re-sent under a new id (or relabeled) hashes the same.
 */
export function recordHash(record: Record<string, unknown>, spec: DatasetSpec): string {
  const { idField, labelField, textFields } = spec.schema;
  const text = new Set(textFields);
  const content: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === idField || key === labelField || value === undefined) continue;
    const v = text.has(key) && typeof value === 'string' ? normalizeText(value) : value;
    if (key === '__proto__') {
      Object.defineProperty(content, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      content[key] = v;
    }
  }
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** Remembers record hashes; seed it with earlier partitions' hashes to dedupe across partitions. */
export class Deduper {
  private readonly seen: Set<string>;

  constructor(
    private readonly spec: DatasetSpec,
    known: Iterable<string> = [],
  ) {
    this.seen = new Set(known);
  }

  /** Hash a record and say whether it was seen before; the hash is remembered either way. */
  check(record: Record<string, unknown>): { hash: string; duplicate: boolean } {
    const hash = recordHash(record, this.spec);
    const duplicate = this.seen.has(hash);
    if (!duplicate) this.seen.add(hash);
    return { hash, duplicate };
  }

  /** True when this hash was seen. */
  has(hash: string): boolean {
    return this.seen.has(hash);
  }

  /** How many distinct hashes were seen. */
  get size(): number {
    return this.seen.size;
  }

  /** The distinct hashes seen so far, in first-seen order. */
  hashes(): IterableIterator<string> {
    return this.seen.values();
  }
}
