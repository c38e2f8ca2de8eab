import type { IngestItem } from '../ingest-lines';
import { readCsvRecords } from './csv';
import { GZIP_MAGIC, gunzipCapped } from './gzip';
import { readJsonlRecords } from './jsonl';
import { readParquetRecords } from './parquet';
import { InputFileError, type ByteSource, type InputFormat, type ReaderOptions } from './types';

export { coerceCsvRow, coerceCsvValue, readCsvRecords } from './csv';
export { splitCsvRecords, type CsvFrame } from './csv-frames';
export { gunzipCapped } from './gzip';
export { readJsonlRecords } from './jsonl';
export { parquetValueToJson, readParquetFile, readParquetRecords } from './parquet';
export * from './types';

const EXTENSIONS: Array<[string, InputFormat]> = [
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.json', 'jsonl'],
  ['.csv', 'csv'],
  ['.parquet', 'parquet'],
];

/** The format of a file: the spec's, or (for `auto`) its extension, a trailing `.gz` ignored. Undefined when unknown. */
export function detectFormat(fileName: string, specFormat: InputFormat | 'auto' = 'auto'): InputFormat | undefined {
  if (specFormat !== 'auto') return specFormat;
  const name = fileName.toLowerCase().replace(/\.gz$/, '');
  return EXTENSIONS.find(([ext]) => name.endsWith(ext))?.[1];
}

/** True for the file names `auto` format can read (so a partition listing can skip markers and stray files). */
export function isReadableInput(fileName: string): boolean {
  return detectFormat(fileName) !== undefined;
}

/**
 * Stream one input file through the contract: one accepted or quarantined item per record, in order, with
 * a 1-based `lineNumber` (JSONL line, CSV data record, Parquet row); see each reader for its reasons. Gzip (by
 * magic bytes, so `.gz` names are optional) is decompressed on the fly under `spec.ingest.maxDecompressedBytes`.
 * A file that cannot be read as a whole (bomb, truncated or corrupt gzip, corrupt Parquet, a CSV header that
 * names no columns, unknown format) throws an InputFileError naming it.
 */
export async function* openRecordStream(
  source: ByteSource,
  options: ReaderOptions & { format?: InputFormat | 'auto' },
): AsyncGenerator<IngestItem> {
  const { spec, fileName } = options;
  const format = detectFormat(fileName, options.format ?? spec.ingest.format);
  if (format === undefined) {
    throw new InputFileError(
      fileName,
      'unknown_format',
      'unknown input format; use .jsonl, .csv or .parquet (optionally .gz) or set ingest.format',
    );
  }
  const { first, rest } = await peek(source);
  if (first === undefined) return;
  let bytes: ByteSource = rest;
  if (first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1]) {
    bytes = gunzipCapped(rest, { fileName, maxDecompressedBytes: spec.ingest.maxDecompressedBytes });
  }
  const read: (s: ByteSource, o: ReaderOptions) => AsyncGenerator<IngestItem> =
    format === 'csv' ? readCsvRecords : format === 'parquet' ? readParquetRecords : readJsonlRecords;
  yield* read(bytes, options);
}

/** The first non-empty chunk, and an iterable that replays it followed by the rest of the source. */
async function peek(source: ByteSource): Promise<{ first: Buffer | undefined; rest: AsyncIterable<Buffer> }> {
  const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()) as
    AsyncIterator<Buffer | Uint8Array | string> | Iterator<Buffer | Uint8Array | string>;
  let first: Buffer | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    const buf = toBuffer(r.value);
    if (buf.length > 0) {
      first = buf;
      break;
    }
  }
  const head = first;
  async function* rest(): AsyncGenerator<Buffer> {
    if (head === undefined) return;
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
  return { first, rest: rest() };
}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
