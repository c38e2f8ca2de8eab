/** The in-memory part of a DigestStore: a capped open-addressing set of 128-bit keys that can list its keys sorted. */

/** Bytes of each key: 128 bits, so a false duplicate among billions of records is negligible. */
export const KEY_BYTES = 16;
export const KEY_WORDS = KEY_BYTES / 4;

/** Sign of (key at `words[at..at+3]`) − (w0, w1, w2, w3), words compared as unsigned integers. */
export function compareKey(words: Uint32Array, at: number, w0: number, w1: number, w2: number, w3: number): number {
  const a0 = words[at] as number;
  if (a0 !== w0) return a0 < w0 ? -1 : 1;
  const a1 = words[at + 1] as number;
  if (a1 !== w1) return a1 < w1 ? -1 : 1;
  const a2 = words[at + 2] as number;
  if (a2 !== w2) return a2 < w2 ? -1 : 1;
  const a3 = words[at + 3] as number;
  return a3 === w3 ? 0 : a3 < w3 ? -1 : 1;
}

/**
 * A set of at most `capacity` 128-bit keys in flat typed arrays: the keys, appended in first-seen order (16
 * bytes each), and an open-addressing table of key indexes (4 bytes a slot, at most 3/4 full). About 25–40
 * bytes a key instead of ~130 for a Set of 64-character strings, and nothing the GC has to trace.
 */
export class DigestSet {
  private keys: Uint32Array;
  private table = new Int32Array(2048).fill(-1);
  private mask = 2047;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.keys = new Uint32Array(KEY_WORDS * Math.min(1024, capacity));
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** The keys' words, KEY_WORDS per key, in first-seen order (valid up to `size` keys). */
  get words(): Uint32Array {
    return this.keys;
  }

  has(w0: number, w1: number, w2: number, w3: number): boolean {
    return this.table[this.find(w0, w1, w2, w3)] !== -1;
  }

  /** Adds a key that is not in the set; the set must not be full. */
  add(w0: number, w1: number, w2: number, w3: number): void {
    const slot = this.find(w0, w1, w2, w3);
    if (this.count * KEY_WORDS >= this.keys.length) {
      const grown = new Uint32Array(Math.min(this.capacity, Math.ceil((this.keys.length * 3) / 2 / KEY_WORDS)) * KEY_WORDS);
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
  }

  /** Empties the set, keeping its arrays for the next keys. */
  clear(): void {
    this.count = 0;
    this.table.fill(-1);
  }

  /**
   * The key indexes in ascending key order: an LSD radix sort on the first word (uniform SHA-256 bits), then
   * an insertion sort of the rare runs of equal first words. Uses the table as scratch when it is large
   * enough, so the set must be cleared afterwards.
   */
  sortedOrder(): Uint32Array {
    const n = this.count;
    const keys = this.keys;
    const scratch = this.table.length >= 2 * n ? new Uint32Array(this.table.buffer, 0, 2 * n) : new Uint32Array(2 * n);
    const pass1 = scratch.subarray(0, n);
    const order = scratch.subarray(n);
    // Two counting passes, 16 bits of the first word each; the first reads indexes 0..n-1 in order.
    const counts = new Uint32Array(1 << 16);
    for (let shift = 0; shift <= 16; shift += 16) {
      const from = shift === 0 ? undefined : pass1;
      const to = shift === 0 ? pass1 : order;
      counts.fill(0);
      for (let j = 0; j < n; j++) {
        const d = ((keys[(from ? (from[j] as number) : j) * KEY_WORDS] as number) >>> shift) & 0xffff;
        counts[d] = (counts[d] as number) + 1;
      }
      for (let d = 0, sum = 0; d < counts.length; d++) {
        const c = counts[d] as number;
        counts[d] = sum;
        sum += c;
      }
      for (let j = 0; j < n; j++) {
        const i = from ? (from[j] as number) : j;
        const d = ((keys[i * KEY_WORDS] as number) >>> shift) & 0xffff;
        const at = counts[d] as number;
        to[at] = i;
        counts[d] = at + 1;
      }
    }
    for (let start = 0; start < n;) {
      const w0 = keys[(order[start] as number) * KEY_WORDS] as number;
      let end = start + 1;
      while (end < n && keys[(order[end] as number) * KEY_WORDS] === w0) end += 1;
      for (let j = start + 1; j < end; j++) {
        const i = order[j] as number;
        const at = i * KEY_WORDS;
        const w1 = keys[at + 1] as number;
        const w2 = keys[at + 2] as number;
        const w3 = keys[at + 3] as number;
        let k = j;
        for (; k > start && compareKey(keys, (order[k - 1] as number) * KEY_WORDS, w0, w1, w2, w3) > 0; k--) {
          order[k] = order[k - 1] as number;
        }
        order[k] = i;
      }
      start = end;
    }
    return order;
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
