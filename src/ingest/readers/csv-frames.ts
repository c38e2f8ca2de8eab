import type { ByteSource } from './types';

/** One unit of a CSV byte stream, as `splitCsvRecords` finds it. */
export type CsvFrame =
  /** One record's bytes without its line end; may span lines through a quoted field; empty for a blank line. */
  | { kind: 'record'; bytes: Buffer }
  /** The first line of a record whose quoted field never closed properly; reading went on at the next line. */
  | { kind: 'unclosed_quote'; bytes: Buffer }
  /** A line longer than the limit, skipped as it streamed by; its bytes were never held. */
  | { kind: 'too_large'; byteLength: number };

/** Options for `splitCsvRecords`. */
export interface SplitCsvOptions {
  /** Longest record, in bytes without its line end; also how far a quoted field may run before it counts as unclosed. */
  maxRecordBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const MIN_BACKING_BYTES = 64 * 1024;

/**
 * Split a CSV byte stream (comma, `"` quotes doubled to escape, LF or CRLF line ends, leading BOM dropped)
 * into records, without parsing their cells: csv-parse does that per record, but once a quote is left open it
 * reads to the end of the file and cannot resume, so the record boundaries are found here.
 *
 * A record ends at the first line end outside a quoted field. It may span lines only through a quoted field
 * and only while it is well-formed: when the file ends inside the quote, when the record passes `maxRecordBytes`,
 * or when a quote is misplaced in it (inside an unquoted cell, or a closing quote followed by something other
 * than a comma or a line end), the quote counts as unclosed. The record is then cut back to its first line
 * (`unclosed_quote`) and reading resumes at the next line, as if the quote had never opened. The misplaced-quote
 * rule also keeps resumption linear: without it, a stray quote on every line could make each one scan up to
 * `maxRecordBytes` again. A single line over `maxRecordBytes` is `too_large`, skipped without being held.
 * Memory stays bounded by `maxRecordBytes` plus one chunk.
 */
export async function* splitCsvRecords(source: ByteSource, options: SplitCsvOptions): AsyncGenerator<CsvFrame> {
  const framer = new CsvFramer(options.maxRecordBytes);
  for await (const chunk of source) {
    framer.push(toBuffer(chunk));
    for (let frame = framer.next(false); frame !== undefined; frame = framer.next(false)) yield frame;
  }
  for (let frame = framer.next(true); frame !== undefined; frame = framer.next(true)) yield frame;
}

/** The record-boundary state machine; the current record always starts at `buf[0]`. */
class CsvFramer {
  private backing = Buffer.alloc(0);
  /** Bytes not yet framed: a view at the end of `backing`'s used part. */
  private buf = this.backing;
  private atFileStart = true;
  /** Next byte to look at; bytes before it are classified under the state below. */
  private pos = 0;
  private quoted = false;
  private fieldStart = true;
  /** A quote was misplaced in this record (csv-parse will refuse it); such a record may not span lines. */
  private misplaced = false;
  /** Index of the LF that ends the record's first line, once the record has crossed one. */
  private firstLineEnd = -1;
  /** Skipping an over-long record to the end of its line: bytes skipped so far, and whether the last was a CR. */
  private skipped = -1;
  private skippedCr = false;

  constructor(private readonly maxRecordBytes: number) {}

  /**
   * Append a chunk (copied: a source may reuse a chunk's memory). The pending bytes live at the end of a backing
   * buffer that grows by doubling, so tiny chunks under a long record cost linear, not quadratic, copying. Frames
   * already handed out lie before the pending bytes, and nothing is ever written there.
   */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const pending = this.buf.length;
    const offset = this.buf.byteOffset - this.backing.byteOffset;
    if (this.buf.buffer === this.backing.buffer && offset + pending + chunk.length <= this.backing.length) {
      chunk.copy(this.backing, offset + pending);
      this.buf = this.backing.subarray(offset, offset + pending + chunk.length);
      return;
    }
    const backing = Buffer.allocUnsafe(Math.max(2 * (pending + chunk.length), MIN_BACKING_BYTES));
    this.buf.copy(backing, 0);
    chunk.copy(backing, pending);
    this.backing = backing;
    this.buf = backing.subarray(0, pending + chunk.length);
  }

  /** The next complete frame, or undefined when more bytes are needed (or, at the end of the file, none are left). */
  next(eof: boolean): CsvFrame | undefined {
    if (this.atFileStart) {
      if (this.buf.length < BOM.length && !eof && BOM.subarray(0, this.buf.length).equals(this.buf)) return undefined;
      if (this.buf.subarray(0, BOM.length).equals(BOM)) this.buf = this.buf.subarray(BOM.length);
      this.atFileStart = false;
    }
    if (this.skipped >= 0) return this.skip(eof);
    const b = this.buf;
    const n = b.length;
    // More than this many bytes in the record means more than maxRecordBytes of content, whatever its line end.
    const limit = this.maxRecordBytes + 1;
    let i = this.pos;
    while (i < n) {
      if (i > limit) return this.overflow(i, eof);
      const c = b[i] as number;
      if (this.quoted) {
        if (c === QUOTE) {
          const after = this.afterQuote(i, eof);
          if (after === undefined) break;
          if (after === 'escape') {
            i += 2;
            continue;
          }
          if (after === 'close') this.quoted = false;
          else if (this.firstLineEnd >= 0) return this.resync();
          else this.misplaced = true;
        } else if (c === LF) {
          if (this.misplaced) return this.resync(i);
          if (this.firstLineEnd < 0) this.firstLineEnd = i;
        }
      } else if (c === LF) {
        return this.endRecord(i, i + 1);
      } else if (c === QUOTE) {
        if (this.fieldStart) this.quoted = true;
        else if (this.firstLineEnd >= 0) return this.resync();
        else this.misplaced = true;
        this.fieldStart = false;
      } else {
        this.fieldStart = c === COMMA;
      }
      i += 1;
    }
    this.pos = i;
    if (!eof || n === 0) return undefined;
    if (i < n) return undefined;
    if (this.quoted) return this.firstLineEnd >= 0 ? this.resync() : this.endRecord(n, n, 'unclosed_quote');
    return this.endRecord(n, n);
  }

  /** What the quote at `i` inside a quoted field does; undefined when the bytes that decide it have not arrived. */
  private afterQuote(i: number, eof: boolean): 'escape' | 'close' | 'misplaced' | undefined {
    const b = this.buf;
    if (i + 1 >= b.length) return eof ? 'close' : undefined;
    const d = b[i + 1];
    if (d === QUOTE) return 'escape';
    if (d === COMMA || d === LF) return 'close';
    if (d !== CR) return 'misplaced';
    if (i + 2 >= b.length) return eof ? 'close' : undefined;
    return b[i + 2] === LF ? 'close' : 'misplaced';
  }

  /** The record ends at `end` (its LF, or the end of the file); the next one starts at `next`. */
  private endRecord(end: number, next: number, kind: 'record' | 'unclosed_quote' = 'record'): CsvFrame {
    const bytes = this.buf.subarray(0, end > 0 && this.buf[end - 1] === CR ? end - 1 : end);
    const tooLarge = bytes.length > this.maxRecordBytes;
    if (tooLarge && kind === 'record' && this.firstLineEnd >= 0) return this.resync();
    this.restartAt(next);
    if (tooLarge) return { kind: 'too_large', byteLength: bytes.length };
    return { kind, bytes };
  }

  /** Give up on the record's quote: its first line (ending at `lineEnd`) is the frame, and reading resumes after it. */
  private resync(lineEnd = this.firstLineEnd): CsvFrame {
    return this.endRecord(lineEnd, lineEnd + 1, 'unclosed_quote');
  }

  /** The record passed the limit at byte `i`: one that spans lines is cut back to its first; a single line is skipped to its end. */
  private overflow(i: number, eof: boolean): CsvFrame | undefined {
    if (this.firstLineEnd >= 0) return this.resync();
    this.skipped = i;
    this.skippedCr = this.buf[i - 1] === CR;
    this.buf = this.buf.subarray(i);
    this.pos = 0;
    return this.skip(eof);
  }

  private skip(eof: boolean): CsvFrame | undefined {
    const lf = this.buf.indexOf(LF);
    if (lf < 0) {
      if (this.buf.length > 0) {
        this.skipped += this.buf.length;
        this.skippedCr = this.buf[this.buf.length - 1] === CR;
        this.buf = this.buf.subarray(this.buf.length);
      }
      if (!eof) return undefined;
      const byteLength = this.skipped - (this.skippedCr ? 1 : 0);
      this.skipped = -1;
      return { kind: 'too_large', byteLength };
    }
    const cr = lf > 0 ? this.buf[lf - 1] === CR : this.skippedCr;
    const byteLength = this.skipped + lf - (cr ? 1 : 0);
    this.skipped = -1;
    this.restartAt(lf + 1);
    return { kind: 'too_large', byteLength };
  }

  private restartAt(next: number): void {
    this.buf = this.buf.subarray(next);
    this.pos = 0;
    this.quoted = false;
    this.fieldStart = true;
    this.misplaced = false;
    this.firstLineEnd = -1;
  }
}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
