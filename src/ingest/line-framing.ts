import { isAscii, isUtf8 } from 'node:buffer';
/** A complete line read from a stream, without its line terminator. */
export interface LineItem {
  kind: 'line';
  /** 1-based line number in the source. */
  lineNumber: number;
  /** The line's raw bytes (no trailing LF/CRLF, no leading BOM). */
  bytes: Buffer;
}

/** A line that was longer than the limit; its bytes were skipped, never held. */
export interface OversizeLineItem {
  kind: 'error';
  /** 1-based line number in the source. */
  lineNumber: number;
  reason: 'record_too_large';
  /** How many bytes the line had (terminator excluded). */
  byteLength: number;
}

/** What `splitLines` yields. */
export type SplitItem = LineItem | OversizeLineItem;

/** Options for `splitLines`. */
export interface SplitLinesOptions {
  /** Longest line, in bytes without its terminator, that is yielded; longer lines become errors. */
  maxLineBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Split a byte stream into lines (LF or CRLF), stripping a leading UTF-8 BOM.
 * Memory stays bounded by `maxLineBytes` plus one chunk: an over-long line is skipped as it streams by.
 */
export async function* splitLines(
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options: SplitLinesOptions,
): AsyncGenerator<SplitItem> {
  const { maxLineBytes } = options;
  // One extra byte lets a line of exactly maxLineBytes carry its CR until the LF arrives.
  const holdLimit = maxLineBytes + 1;
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  let skippedBytes = 0;
  let lineNumber = 1;
  let first = true;

  const finish = (): SplitItem => {
    if (skipping) {
      const item: OversizeLineItem = { kind: 'error', lineNumber, reason: 'record_too_large', byteLength: skippedBytes };
      skipping = false;
      skippedBytes = 0;
      return item;
    }
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, held);
    parts = [];
    held = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (first && bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);
    if (bytes.length > maxLineBytes) {
      return { kind: 'error', lineNumber, reason: 'record_too_large', byteLength: bytes.length };
    }
    return { kind: 'line', lineNumber, bytes };
  };

  // `copy`: a segment kept past this chunk is copied, since the source may reuse the chunk's memory.
  const take = (segment: Buffer, copy: boolean): void => {
    if (segment.length === 0) return;
    if (skipping) {
      skippedBytes += segment.length;
      return;
    }
    if (held + segment.length > holdLimit) {
      skipping = true;
      skippedBytes = held + segment.length;
      parts = [];
      held = 0;
      return;
    }
    parts.push(copy ? Buffer.from(segment) : segment);
    held += segment.length;
  };

  for await (const chunk of source) {
    const buf = toBuffer(chunk);
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        take(buf.subarray(pos), true);
        break;
      }
      take(buf.subarray(pos, nl), false);
      const item = finish();
      first = false;
      yield item;
      lineNumber += 1;
      pos = nl + 1;
    }
  }
  if (held > 0 || skipping) yield finish();
}

/** Decode a Buffer as strict UTF-8; returns undefined when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Buffer): string | undefined {
  // Validation is a SIMD pass; ASCII (most lines) then decodes as latin1, the cheapest string V8 builds.
  if (isAscii(bytes)) return bytes.toString('latin1');
  if (!isUtf8(bytes)) return undefined;
  return bytes.toString('utf8');
}

/**
 * Serialize a JSON value with object keys sorted at every level, so equal values hash equally.
 * Follows JSON.stringify's rules for undefined, functions, toJSON and non-finite numbers.
 */
export function canonicalJson(value: unknown): string {
  const out = serialize(value, false);
  if (out === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return out;
}

function serialize(value: unknown, inArray: boolean): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt values are not JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return inArray ? 'null' : undefined;
    default:
      break;
  }
  if (value === null) return 'null';
  // String concatenation rather than map/join: this runs once per record on the dedupe path.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += serialize(value[i], true) as string;
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const order = keyOrder(Object.keys(obj));
  let out = '{';
  let first = true;
  for (let i = 0; i < order.sorted.length; i++) {
    const v = serialize(obj[order.sorted[i] as string], false);
    if (v === undefined) continue;
    out += first ? `${order.quoted[i] as string}:${v}` : `,${order.quoted[i] as string}:${v}`;
    first = false;
  }
  return `${out}}`;
}

interface KeyOrder {
  keys: readonly string[];
  sorted: readonly string[];
  /** The sorted keys as JSON strings. */
  quoted: readonly string[];
}

let lastOrder: KeyOrder = { keys: [], sorted: [], quoted: [] };

// Records of one dataset share their keys: the last object's order is kept, so most objects skip the sort and quoting.
function keyOrder(keys: string[]): KeyOrder {
  const last = lastOrder;
  if (keys.length === last.keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== last.keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return last;
  }
  const sorted = [...keys].sort();
  lastOrder = { keys, sorted, quoted: sorted.map((k) => JSON.stringify(k)) };
  return lastOrder;
}
