import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { checkParsedRecord, DEFAULT_MAX_DEPTH, FORBIDDEN_KEYS, type CheckResult } from '../contract';
import type { IngestItem } from '../ingest-lines';
import { canonicalJson, decodeUtf8Strict } from '../line-framing';
import { InputFileError, type ByteSource, type ReaderOptions } from './types';

/** Parquet values as JSON values: INT64 → number (a string when beyond 2^53, which the contract then refuses), dates → ISO text, nulls → absent. */
export function parquetValueToJson(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(parquetValueToJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      Object.defineProperty(out, k, { value: parquetValueToJson(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/**
 * Read a local Parquet file through the contract, one row group at a time; `lineNumber` is the 1-based row number.
 * A row is quarantined with its JSON form as the bytes: over `ingest.maxRecordBytes` as `record_too_large`; with
 * a string cell that is not UTF-8 as `invalid_utf8` (that cell left out of the JSON form); every row of a file
 * with a `__proto__`/`constructor`/`prototype` column (at any depth) as `forbidden_key`; otherwise by the
 * contract. A row nested deeper than `ingest.maxDepth` (a JSON cell can be) is `too_deep`, without a JSON form.
 * A file whose footer or a row group cannot be read fails with an InputFileError naming it.
 */
export async function* readParquetFile(path: string, options: ReaderOptions): AsyncGenerator<IngestItem> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return;
    yield* readRows(fileBuffer(handle, size), options);
  } finally {
    await handle.close();
  }
}

/** An AsyncBuffer over an open file: hyparquet reads the footer and then one column chunk at a time. */
function fileBuffer(handle: FileHandle, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end: number = byteLength): Promise<ArrayBuffer> {
      const length = Math.max(0, Math.min(end, byteLength) - start);
      const buf = new ArrayBuffer(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(new Uint8Array(buf, done), 0, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf;
    },
  };
}

/** Stands in for a string cell whose bytes are not UTF-8, so its row is quarantined instead of read with U+FFFD. */
const INVALID_UTF8: unique symbol = Symbol('invalid_utf8');

function hasInvalidUtf8(value: unknown): boolean {
  if (value === INVALID_UTF8) return true;
  if (Array.isArray(value)) return value.some(hasInvalidUtf8);
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Uint8Array) return false;
  return Object.values(value).some(hasInvalidUtf8);
}

/** True when objects and arrays nest deeper than `maxDepth` (the row is depth 1); iterative, so any depth is safe. */
function nestsDeeperThan(row: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: row, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { value, depth } = top;
    if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Uint8Array) continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push({ value: child, depth: depth + 1 });
  }
  return false;
}

async function* readRows(file: AsyncBuffer, options: ReaderOptions): AsyncGenerator<IngestItem> {
  const { spec, accounting, fileName } = options;
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new InputFileError(fileName, 'corrupt_parquet', `not a readable Parquet file (${describe(err)})`);
  }
  // hyparquet builds rows by assignment: a "__proto__" column would vanish (or swap the row's prototype) unseen.
  const forbiddenColumn = metadata.schema.slice(1).some((element) => FORBIDDEN_KEYS.has(element.name));
  const maxDepth = options.maxDepth ?? spec.ingest.maxDepth ?? DEFAULT_MAX_DEPTH;
  let invalidStrings = 0;
  // hyparquet decodes text with a lenient TextDecoder; bad bytes would reach the dataset as U+FFFD.
  const parsers = {
    stringFromBytes(bytes: Uint8Array | undefined): string | typeof INVALID_UTF8 | undefined {
      if (!bytes) return undefined;
      const text = decodeUtf8Strict(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (text !== undefined) return text;
      invalidStrings += 1;
      return INVALID_UTF8;
    },
  };
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const invalidBefore = invalidStrings;
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors, parsers });
    } catch (err) {
      throw new InputFileError(fileName, 'corrupt_parquet', `row group at rows ${rowStart}-${rowEnd} is unreadable (${describe(err)})`);
    }
    const checkUtf8 = invalidStrings > invalidBefore;
    for (let i = 0; i < rows.length; i++) {
      const lineNumber = rowStart + i + 1;
      // A JSON cell can nest without bound; the recursive conversions below would overflow the stack on it.
      if (nestsDeeperThan(rows[i], maxDepth)) {
        const item: IngestItem = { kind: 'quarantined', lineNumber, reason: 'too_deep', rawBase64: '', byteLength: 0 };
        accounting?.record(item);
        yield item;
        continue;
      }
      const record = parquetValueToJson(rows[i]);
      const raw = Buffer.from(canonicalJson(record), 'utf8');
      const r: CheckResult =
        raw.length > spec.ingest.maxRecordBytes
          ? { ok: false, reason: 'record_too_large' }
          : checkUtf8 && hasInvalidUtf8(rows[i])
            ? { ok: false, reason: 'invalid_utf8' }
            : forbiddenColumn
              ? { ok: false, reason: 'forbidden_key' }
              : checkParsedRecord(record, spec, options);
      const item: IngestItem = r.ok
        ? { kind: 'accepted', lineNumber, record: r.record }
        : { kind: 'quarantined', lineNumber, reason: r.reason, rawBase64: raw.toString('base64'), byteLength: raw.length };
      accounting?.record(item);
      yield item;
    }
    rowStart = rowEnd;
  }
}

/**
 * Read a Parquet stream through the contract. Parquet keeps its schema in a footer, so the stream is
 * first spooled to a temporary file (disk, not memory) and read from there row group by row group.
 */
export async function* readParquetRecords(source: ByteSource, options: ReaderOptions): AsyncGenerator<IngestItem> {
  const path = join(options.tmpDir ?? tmpdir(), `trainset-${randomUUID()}.parquet`);
  try {
    await pipeline(Readable.from(source, { objectMode: false }), createWriteStream(path));
    yield* readParquetFile(path, options);
  } finally {
    await rm(path, { force: true });
  }
}

// hyparquet's messages describe structure ("invalid magic", offsets), never cell values.
function describe(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
}
