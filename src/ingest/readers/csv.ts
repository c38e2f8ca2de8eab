import { parse, type Options } from 'csv-parse/sync';
import type { FieldSpec } from '../../shared/spec';
import { checkParsedRecord, FORBIDDEN_KEYS, type QuarantineReason } from '../contract';
import type { IngestItem, QuarantinedItem } from '../ingest-lines';
import { decodeUtf8Strict } from '../line-framing';
import { splitCsvRecords, type CsvFrame } from './csv-frames';
import { InputFileError, type ByteSource, type ReaderOptions } from './types';

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Turn one CSV cell (always text) into the field's JSON type; a cell that does not convert stays text so the contract names it. */
export function coerceCsvValue(text: string, field: FieldSpec | undefined): unknown {
  const t = text.trim();
  switch (field?.type) {
    case 'integer':
    case 'number':
      return (field.type === 'integer' ? INTEGER : NUMBER).test(t) ? Number(t) : text;
    case 'boolean': {
      const lower = t.toLowerCase();
      if (lower === 'true' || lower === '1') return true;
      if (lower === 'false' || lower === '0') return false;
      return text;
    }
    case 'list':
    case 'object':
      try {
        return JSON.parse(t) as unknown;
      } catch {
        return text;
      }
    default:
      return text;
  }
}

/** A CSV row (header → cell) coerced per the spec's top-level fields; empty cells are missing values. */
export function coerceCsvRow(row: Record<string, string>, fields: Record<string, FieldSpec>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(row)) {
    if (text === '' || text === undefined) continue;
    const field = Object.prototype.hasOwnProperty.call(fields, key) ? fields[key] : undefined;
    // A "__proto__" header must stay an own property so the contract can refuse it.
    Object.defineProperty(out, key, { value: coerceCsvValue(text, field), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const quarantined = (lineNumber: number, reason: QuarantineReason, bytes: Buffer): QuarantinedItem => ({
  kind: 'quarantined',
  lineNumber,
  reason,
  rawBase64: bytes.toString('base64'),
  byteLength: bytes.length,
});

const CSV_UNCLOSED_QUOTE: QuarantineReason = 'csv_unclosed_quote';

// A framed record holds a line end only inside a quoted cell, so records join on LF and a CR is always data.
const PARSE_OPTIONS: Options = { record_delimiter: '\n', relax_column_count: true };

// Records are parsed in runs: one csv-parse call per record costs several times the parsing itself.
const BATCH_RECORDS = 256;
const BATCH_BYTES = 1024 * 1024;

/**
 * The cells of each framed record (undefined where csv-parse refuses it), in one csv-parse call when all parse;
 * a run with a bad record is halved until the bad one stands alone. A well-formed frame is one record to
 * csv-parse too, so a run that parses without error gives exactly one row per frame.
 */
function parseCells(texts: string[]): Array<string[] | undefined> {
  if (texts.length === 0) return [];
  try {
    const rows = parse(texts.length === 1 ? (texts[0] as string) : texts.join('\n'), PARSE_OPTIONS);
    if (rows.length === texts.length) return rows;
  } catch {
    // A record in the run is not valid CSV; halving finds which.
  }
  if (texts.length === 1) return [undefined];
  const half = Math.ceil(texts.length / 2);
  return [...parseCells(texts.slice(0, half)), ...parseCells(texts.slice(half))];
}

/** The column names; a header that cannot name the columns makes the whole file unreadable. */
function readHeader(frame: CsvFrame, fileName: string): string[] {
  const fail = (detail: string): InputFileError => new InputFileError(fileName, 'unparseable_csv', `the CSV header row ${detail}`);
  if (frame.kind === 'too_large') throw fail('is longer than ingest.maxRecordBytes');
  if (frame.kind === 'unclosed_quote') throw fail('has a quote that never closes');
  const text = decodeUtf8Strict(frame.bytes);
  if (text === undefined) throw fail('is not valid UTF-8');
  // Line ends are LF or CRLF; in a file that ends lines with CR alone, the header would be the whole file.
  if (text.includes('\r')) throw fail('contains a carriage return; use LF or CRLF line ends');
  const [columns] = parseCells([text]);
  if (columns === undefined) throw fail('is not valid CSV');
  if (new Set(columns).size !== columns.length) throw fail('names a column twice');
  return columns;
}

/**
 * Read CSV with a header row (RFC 4180: comma, `"` quotes doubled to escape, quoted cells may hold commas and
 * line ends; BOM and CRLF accepted) through the contract. `splitCsvRecords` finds the record boundaries, so a
 * bad record never takes the following ones with it; csv-parse parses the cells. One item per data record,
 * `lineNumber` counting them from 1 (the header is not one):
 * - a record that spans lines through a quoted cell that does not close properly (the file ends inside it, it
 *   runs past `ingest.maxRecordBytes`, or a quote is misplaced in it) → its first line as `csv_unclosed_quote`,
 *   with its bytes; reading resumes at the next line, each following line being a record of its own again;
 * - a line over `ingest.maxRecordBytes` → `record_too_large`, without its bytes;
 * - a blank line → `empty_line`; the wrong number of cells or a misplaced quote → `invalid_csv`; bytes that are
 *   not UTF-8 → `invalid_utf8`; a `__proto__`/`constructor`/`prototype` column → `forbidden_key` (every record);
 * - otherwise the cells, coerced to the spec's types (empty = missing), go through the contract like JSON.
 * Blank lines before the header are skipped. A header that cannot name the columns (unclosed quote, too long,
 * not UTF-8, a repeated name, CR-only line ends) fails the file with an InputFileError naming it.
 */
export async function* readCsvRecords(source: ByteSource, options: ReaderOptions): AsyncGenerator<IngestItem> {
  const { spec, accounting, fileName } = options;
  let columns: Columns | undefined;
  let batch: CsvFrame[] = [];
  let batchBytes = 0;
  let lineNumber = 1;
  function* flush(cols: Columns): Generator<IngestItem> {
    const items = toItems(batch, lineNumber, cols, options);
    lineNumber += batch.length;
    batch = [];
    batchBytes = 0;
    for (const item of items) {
      accounting?.record(item);
      yield item;
    }
  }
  for await (const frame of splitCsvRecords(source, { maxRecordBytes: spec.ingest.maxRecordBytes })) {
    if (columns === undefined) {
      if (frame.kind === 'record' && frame.bytes.length === 0) continue;
      const names = readHeader(frame, fileName);
      columns = { names, forbidden: names.some((k) => FORBIDDEN_KEYS.has(k)) };
      continue;
    }
    batch.push(frame);
    batchBytes += frame.kind === 'too_large' ? 0 : frame.bytes.length;
    if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) yield* flush(columns);
  }
  if (columns !== undefined) yield* flush(columns);
}

interface Columns {
  names: string[];
  /** A column is named `__proto__`, `constructor` or `prototype`. */
  forbidden: boolean;
}

/** One item per frame, in order, numbered from `firstLineNumber`. */
function toItems(frames: CsvFrame[], firstLineNumber: number, columns: Columns, options: ReaderOptions): IngestItem[] {
  const items: Array<IngestItem | undefined> = [];
  const texts: string[] = [];
  const pending: Array<{ index: number; bytes: Buffer }> = [];
  frames.forEach((frame, index) => {
    const lineNumber = firstLineNumber + index;
    if (frame.kind === 'too_large') {
      items.push({ kind: 'quarantined', lineNumber, reason: 'record_too_large', rawBase64: '', byteLength: frame.byteLength });
      return;
    }
    const { bytes } = frame;
    if (frame.kind === 'unclosed_quote') {
      items.push(quarantined(lineNumber, CSV_UNCLOSED_QUOTE, bytes));
      return;
    }
    if (bytes.length === 0) {
      items.push(quarantined(lineNumber, 'empty_line', bytes));
      return;
    }
    const text = decodeUtf8Strict(bytes);
    if (text === undefined) {
      items.push(quarantined(lineNumber, 'invalid_utf8', bytes));
      return;
    }
    // Filled in below, once the whole run's cells are parsed.
    items.push(undefined);
    texts.push(text);
    pending.push({ index, bytes });
  });
  parseCells(texts).forEach((cells, j) => {
    const { index, bytes } = pending[j] as { index: number; bytes: Buffer };
    items[index] = rowItem(firstLineNumber + index, bytes, cells, columns, options);
  });
  return items as IngestItem[];
}

function rowItem(lineNumber: number, bytes: Buffer, cells: string[] | undefined, columns: Columns, options: ReaderOptions): IngestItem {
  if (cells === undefined || cells.length !== columns.names.length) return quarantined(lineNumber, 'invalid_csv', bytes);
  if (columns.forbidden) return quarantined(lineNumber, 'forbidden_key', bytes);
  const row: Record<string, string> = {};
  columns.names.forEach((name, i) => {
    row[name] = cells[i] as string;
  });
  const r = checkParsedRecord(coerceCsvRow(row, options.spec.schema.fields), options.spec, options);
  return r.ok ? { kind: 'accepted', lineNumber, record: r.record } : quarantined(lineNumber, r.reason, bytes);
}
