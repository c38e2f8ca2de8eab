/**
 * Content-defined chunking of a stream of serialized rows (FastCDC: a gear rolling hash, cut-point skipping,
 * normalized chunking), with every cut moved to the end of the row it falls in, so a chunk is whole rows.
 *
 * A boundary depends only on the bytes just before it, so inserting or deleting rows moves the boundaries of
 * the chunks around the change and nowhere else: the rest of a version stays byte-identical and is shared.
 */

/** 256 pseudo-random 32-bit values, fixed forever (changing them would move every boundary). */
const GEAR = (() => {
  const table = new Int32Array(256);
  // xorshift32 from a fixed seed: deterministic on every platform.
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    table[i] = x;
  }
  return table;
})();

/** Chunk size bounds, in serialized bytes. */
export interface ChunkSizes {
  /** Target average. */
  avg: number;
  /** No boundary before this many bytes (these bytes are not even hashed: cut-point skipping). */
  min: number;
  /** A boundary at the first row end past this many bytes, whatever the hash says. */
  max: number;
}

/** FastCDC's proportions: min = avg/4, max = avg·8; the min is raised to avg/2 here, which halves the bytes hashed. */
export function chunkSizes(avg: number): ChunkSizes {
  return { avg, min: Math.floor(avg / 2), max: avg * 8 };
}

/** Masks with the given number of one bits, spread over the upper 24 bits (where the gear hash mixes best). */
function spreadMask(bits: number): number {
  let mask = 0;
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - ((i * 11) % 24));
  return mask | 0;
}

/**
 * Streaming boundary finder over rows. Feed each row's serialized bytes with `push`; it answers whether a
 * chunk ends after that row. Stateless across chunks, so the same bytes always cut the same way.
 */
export class RowChunker {
  private readonly maskHard: number;
  private readonly maskEasy: number;
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private size = 0;
  private hash = 0;

  constructor(sizes: ChunkSizes) {
    if (!(sizes.min >= 0 && sizes.min < sizes.avg && sizes.avg < sizes.max)) throw new RangeError('need 0 <= min < avg < max');
    this.min = sizes.min;
    this.avg = sizes.avg;
    this.max = sizes.max;
    // Normalized chunking: a harder mask before the average size, an easier one after it.
    const bits = Math.round(Math.log2(Math.max(2, sizes.avg - sizes.min)));
    this.maskHard = spreadMask(bits + 1);
    this.maskEasy = spreadMask(Math.max(1, bits - 1));
  }

  /** Bytes in the open chunk. */
  get pending(): number {
    return this.size;
  }

  /** Account for one row; true when the chunk ends after it (the state is then reset for the next chunk). */
  push(row: Uint8Array): boolean {
    return this.pushRange(row, 0, row.length);
  }

  /** `push` for the row at bytes [start, end) of buf. */
  pushRange(buf: Uint8Array, start: number, end: number): boolean {
    const cut = this.scan(buf, start, end) >= 0 || this.size >= this.max;
    if (cut) this.reset();
    return cut;
  }

  /** Force a boundary (e.g. at a partition change): the next row starts a chunk. */
  reset(): void {
    this.size = 0;
    this.hash = 0;
  }

  /**
   * Hash bytes [start, end) of buf as the continuation of the open chunk; the offset (relative to start) of
   * the first byte at which the hash fires, or -1. `size` advances by end − start either way.
   */
  private scan(buf: Uint8Array, start: number, end: number): number {
    const { min, avg, maskHard, maskEasy } = this;
    const before = this.size;
    this.size += end - start;
    if (this.size <= min) return -1;
    let h = this.hash;
    let i = start + Math.max(0, min - before);
    const normEnd = Math.min(end, start + Math.max(0, avg - before));
    for (; i < normEnd; i++) {
      h = ((h << 1) + (GEAR[buf[i] as number] as number)) | 0;
      if ((h & maskHard) === 0) {
        this.hash = h;
        return i - start;
      }
    }
    for (; i < end; i++) {
      h = ((h << 1) + (GEAR[buf[i] as number] as number)) | 0;
      if ((h & maskEasy) === 0) {
        this.hash = h;
        return i - start;
      }
    }
    this.hash = h;
    return -1;
  }
}

/**
 * Chunk ends in a buffer of newline-terminated rows: offsets just past the `\n` closing each chunk, the last
 * being buf.length. The same cuts `RowChunker.push` makes row by row.
 */
export function findBoundaries(buf: Uint8Array, sizes: ChunkSizes): number[] {
  const chunker = new RowChunker(sizes);
  const cuts: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(10, pos);
    const end = nl === -1 ? buf.length : nl + 1;
    if (chunker.pushRange(buf, pos, end)) cuts.push(end);
    pos = end;
  }
  if (buf.length > 0 && cuts[cuts.length - 1] !== buf.length) cuts.push(buf.length);
  return cuts;
}
