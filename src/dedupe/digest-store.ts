/**
 * An exact set of 128-bit keys (digest prefixes) in bounded memory: up to a cap in an in-memory table, the
 * rest spilled to sorted runs on disk behind per-run Bloom filters and sparse indexes.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareKey, DigestSet, KEY_BYTES, KEY_WORDS } from './digest-set';

/** Keys held in memory before they are spilled to disk, by default: 16 MiB of keys and an 8 MiB table. */
const DEFAULT_MEMORY_KEYS = 1 << 20;
/** Keys per block of a run on disk: an exact check reads one block (8 KiB) at an offset. */
const BLOCK_KEYS = 512;
/** Keys written to disk per write call (128 KiB). */
const WRITE_KEYS = 16 * BLOCK_KEYS;
/** Bloom filter bits per spilled key: with 6 bits set per key, about 1% of new keys cost one block read per run. */
const BLOOM_BITS_PER_KEY = 10;
/** Words in a Bloom block: 512 bits, one cache line, so a probe touches one line of each run's filter. */
const BLOOM_BLOCK_WORDS = 16;

/** The 16 key bytes of four words, in digest order, as hex. */
function keyHex(w0: number, w1: number, w2: number, w3: number): string {
  const b = Buffer.allocUnsafe(KEY_BYTES);
  b.writeUInt32LE(w0, 0);
  b.writeUInt32LE(w1, 4);
  b.writeUInt32LE(w2, 8);
  b.writeUInt32LE(w3, 12);
  return b.toString('hex');
}

/** One sorted run of keys in the spill file, with what stays in memory to find a key in it. */
interface Run {
  /** Byte offset of the run's first key in the file. */
  offset: number;
  count: number;
  /** The first key of each block of BLOCK_KEYS keys, KEY_WORDS words each. */
  index: Uint32Array;
  /** Blocked Bloom filter: BLOOM_BLOCK_WORDS words a block. */
  bloom: Uint32Array;
}

/** Sets or tests one bit of a Bloom filter; a test returns false when the bit is clear. */
function bloomBit(bloom: Uint32Array, base: number, bit: number, set: boolean): boolean {
  const at = base + (bit >>> 5);
  const mask = 1 << (bit & 31);
  const word = bloom[at] as number;
  if (set) bloom[at] = word | mask;
  return (word & mask) !== 0;
}

/**
 * Sets (`set`) or tests a key's six bits in one 512-bit block of a Bloom filter: its second word picks the
 * block, its third and fourth words the bits (SHA-256 bits are uniform, so no further hashing is needed).
 */
function bloomBits(bloom: Uint32Array, w1: number, w2: number, w3: number, set: boolean): boolean {
  const base = Math.floor((w1 / 2 ** 32) * (bloom.length / BLOOM_BLOCK_WORDS)) * BLOOM_BLOCK_WORDS;
  if (set) {
    bloomBit(bloom, base, w2 & 511, true);
    bloomBit(bloom, base, (w2 >>> 9) & 511, true);
    bloomBit(bloom, base, (w2 >>> 18) & 511, true);
    bloomBit(bloom, base, w3 & 511, true);
    bloomBit(bloom, base, (w3 >>> 9) & 511, true);
    bloomBit(bloom, base, (w3 >>> 18) & 511, true);
    return true;
  }
  return (
    bloomBit(bloom, base, w2 & 511, false) &&
    bloomBit(bloom, base, (w2 >>> 9) & 511, false) &&
    bloomBit(bloom, base, (w2 >>> 18) & 511, false) &&
    bloomBit(bloom, base, w3 & 511, false) &&
    bloomBit(bloom, base, (w3 >>> 9) & 511, false) &&
    bloomBit(bloom, base, (w3 >>> 18) & 511, false)
  );
}

function writeFully(fd: number, bytes: Uint8Array, length: number, position: number): void {
  for (let done = 0; done < length;) done += writeSync(fd, bytes, done, length - done, position + done);
}

function readFully(fd: number, bytes: Uint8Array, length: number, position: number): void {
  for (let done = 0; done < length;) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) throw new Error(`dedupe spill file ended early at byte ${position + done}: was it truncated?`);
    done += n;
  }
}

/**
 * Keys spilled to disk as sorted runs in one file, with a Bloom filter (~10 bits a key) and a sparse index
 * (one key in BLOCK_KEYS) per run in memory, so an exact check reads one 8 KiB block only when a filter says
 * maybe. The file lives in a private mkdtemp folder that is unlinked as soon as the file is open (POSIX keeps
 * an open file's data), so nothing is left on disk even if the process dies; `close()` frees the space.
 */
class SpilledRuns {
  private fd: number | undefined;
  /** Only where the folder could not be removed while the file was open (Windows): removed by `close()`. */
  private dir: string | undefined;
  private end = 0;
  private total = 0;
  private readonly runs: Run[] = [];
  private readonly block = new Uint32Array(BLOCK_KEYS * KEY_WORDS);
  private readonly blockBytes = new Uint8Array(this.block.buffer);

  constructor(private readonly tmpDir: string) {}

  get size(): number {
    return this.total;
  }

  /** Writes the set's keys as a new sorted run; the caller clears the set afterwards. */
  write(set: DigestSet): void {
    const fd = this.open();
    const n = set.size;
    const keys = set.words;
    const order = set.sortedOrder();
    const run: Run = {
      offset: this.end,
      count: n,
      index: new Uint32Array(Math.ceil(n / BLOCK_KEYS) * KEY_WORDS),
      bloom: new Uint32Array(Math.max(1, Math.ceil((n * BLOOM_BITS_PER_KEY) / 512)) * BLOOM_BLOCK_WORDS),
    };
    const chunk = new Uint32Array(WRITE_KEYS * KEY_WORDS);
    const chunkBytes = new Uint8Array(chunk.buffer);
    let filled = 0;
    for (let j = 0; j < n; j++) {
      const at = (order[j] as number) * KEY_WORDS;
      const w0 = keys[at] as number;
      const w1 = keys[at + 1] as number;
      const w2 = keys[at + 2] as number;
      const w3 = keys[at + 3] as number;
      const to = filled * KEY_WORDS;
      chunk[to] = w0;
      chunk[to + 1] = w1;
      chunk[to + 2] = w2;
      chunk[to + 3] = w3;
      if (j % BLOCK_KEYS === 0) {
        const ix = (j / BLOCK_KEYS) * KEY_WORDS;
        run.index[ix] = w0;
        run.index[ix + 1] = w1;
        run.index[ix + 2] = w2;
        run.index[ix + 3] = w3;
      }
      bloomBits(run.bloom, w1, w2, w3, true);
      filled += 1;
      if (filled === WRITE_KEYS || j === n - 1) {
        writeFully(fd, chunkBytes, filled * KEY_BYTES, this.end);
        this.end += filled * KEY_BYTES;
        filled = 0;
      }
    }
    this.total += n;
    this.runs.push(run);
  }

  has(w0: number, w1: number, w2: number, w3: number): boolean {
    for (const run of this.runs) {
      if (bloomBits(run.bloom, w1, w2, w3, false) && this.runHas(run, w0, w1, w2, w3)) return true;
    }
    return false;
  }

  /** Every spilled key's words, run by run, each run in key order. */
  *keys(): Generator<[number, number, number, number]> {
    const words = new Uint32Array(BLOCK_KEYS * KEY_WORDS);
    const bytes = new Uint8Array(words.buffer);
    // By index, not a copy: close() empties the list, which ends an iteration still under way.
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r] as Run;
      for (let first = 0; first < run.count && this.fd !== undefined; first += BLOCK_KEYS) {
        const n = Math.min(BLOCK_KEYS, run.count - first);
        readFully(this.fd, bytes, n * KEY_BYTES, run.offset + first * KEY_BYTES);
        for (let at = 0; at < n * KEY_WORDS; at += KEY_WORDS) {
          yield [words[at] as number, words[at + 1] as number, words[at + 2] as number, words[at + 3] as number];
        }
      }
    }
  }

  /** Closes and frees the spill file. Idempotent. */
  close(): void {
    this.runs.length = 0;
    this.total = 0;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    const dir = mkdtempSync(join(this.tmpDir, 'trainset-dedupe-'));
    try {
      this.fd = openSync(join(dir, 'runs'), 'w+', 0o600);
    } finally {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        this.dir = dir;
      }
    }
    return this.fd;
  }

  /** Exact check in one run: find the block whose key range covers the key in the index, read it, binary-search it. */
  private runHas(run: Run, w0: number, w1: number, w2: number, w3: number): boolean {
    const { index } = run;
    if (compareKey(index, 0, w0, w1, w2, w3) > 0) return false;
    let lo = 0;
    let hi = index.length / KEY_WORDS - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareKey(index, mid * KEY_WORDS, w0, w1, w2, w3) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const n = Math.min(BLOCK_KEYS, run.count - lo * BLOCK_KEYS);
    readFully(this.fd as number, this.blockBytes, n * KEY_BYTES, run.offset + lo * BLOCK_KEYS * KEY_BYTES);
    let a = 0;
    let b = n - 1;
    while (a <= b) {
      const mid = (a + b) >>> 1;
      const c = compareKey(this.block, mid * KEY_WORDS, w0, w1, w2, w3);
      if (c === 0) return true;
      if (c < 0) a = mid + 1;
      else b = mid - 1;
    }
    return false;
  }
}

/** Options for `DigestStore`. */
export interface DigestStoreOptions {
  /** Keys held in memory (~24 bytes each) before they are spilled to a sorted run on disk; default 2^20 (~24 MiB). */
  memoryKeys?: number;
  /** Folder for the spill file; default os.tmpdir(). */
  tmpDir?: string;
}

/**
 * An exact set of 16-byte keys whose memory stays bounded: up to `memoryKeys` keys in memory, the rest in
 * sorted runs on disk (~1.25 bytes a key stays in memory for their Bloom filters). Call `close()` when done.
 */
export class DigestStore {
  private readonly memory: DigestSet;
  private readonly runs: SpilledRuns;
  private closed = false;

  constructor(options: DigestStoreOptions = {}) {
    const memoryKeys = options.memoryKeys ?? DEFAULT_MEMORY_KEYS;
    if (!Number.isInteger(memoryKeys) || memoryKeys < 1) {
      throw new RangeError(`memoryKeys must be a positive integer, got ${memoryKeys}`);
    }
    this.memory = new DigestSet(memoryKeys);
    this.runs = new SpilledRuns(options.tmpDir ?? tmpdir());
  }

  /** How many distinct keys were added. */
  get size(): number {
    return this.memory.size + this.runs.size;
  }

  /** Adds the key (the first 16 bytes of `digest`); returns false when it was already there. */
  add(digest: Buffer): boolean {
    this.assertOpen();
    const w0 = digest.readUInt32LE(0);
    const w1 = digest.readUInt32LE(4);
    const w2 = digest.readUInt32LE(8);
    const w3 = digest.readUInt32LE(12);
    if (this.memory.has(w0, w1, w2, w3) || this.runs.has(w0, w1, w2, w3)) return false;
    if (this.memory.full) {
      try {
        this.runs.write(this.memory);
      } catch (err) {
        // The sort used the table as scratch: the in-memory keys cannot be looked up any more.
        this.close();
        throw err;
      }
      this.memory.clear();
    }
    this.memory.add(w0, w1, w2, w3);
    return true;
  }

  /** True when the key (the first 16 bytes of `digest`) was added. */
  has(digest: Buffer): boolean {
    this.assertOpen();
    const w0 = digest.readUInt32LE(0);
    const w1 = digest.readUInt32LE(4);
    const w2 = digest.readUInt32LE(8);
    const w3 = digest.readUInt32LE(12);
    return this.memory.has(w0, w1, w2, w3) || this.runs.has(w0, w1, w2, w3);
  }

  /**
   * Every key as 32 hex characters: the spilled ones first (run by run, each in key order), then the in-memory
   * ones in first-seen order. Adding keys while iterating may skip or repeat some.
   */
  *keys(): Generator<string> {
    this.assertOpen();
    for (const [w0, w1, w2, w3] of this.runs.keys()) yield keyHex(w0, w1, w2, w3);
    const words = this.memory.words;
    for (let at = 0; at < this.memory.size * KEY_WORDS; at += KEY_WORDS) {
      yield keyHex(words[at] as number, words[at + 1] as number, words[at + 2] as number, words[at + 3] as number);
    }
  }

  /** Closes the spill file, which frees its disk space; the store cannot be used afterwards. Idempotent. */
  close(): void {
    this.closed = true;
    this.runs.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('digest store used after close(): create a new one');
  }
}
