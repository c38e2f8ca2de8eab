import { parse, type Info } from 'csv-parse';
import { Readable } from 'node:stream';
import type { FieldSpec } from '../../shared/spec';
import { checkParsedRecord, FORBIDDEN_KEYS, type QuarantineReason } from '../contract';
import type { IngestItem } from '../ingest-lines';
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

interface CsvRecord {
  record: Record<string, string>;
  raw: string;
  info: Info;
}

interface Skipped {
  /** Good records csv-parse had emitted before this one. */
  after: number;
  raw: string;
  tooLarge: boolean;
}

const quarantined = (lineNumber: number, reason: QuarantineReason, raw: string): IngestItem => {
  const bytes = Buffer.from(raw.replace(/\r?\n$|\r$/, ''), 'utf8');
  return { kind: 'quarantined', lineNumber, reason, rawBase64: bytes.toString('base64'), byteLength: bytes.length };
};

/**
 * Read CSV with a header row (RFC 4180 quoting, embedded newlines, BOM, CRLF) through the contract.
 * `lineNumber` is the 1-based data record number (the header is not one). A record that breaks CSV
 * rules (wrong number of cells, a stray quote) is quarantined as `invalid_csv` with its bytes; an unclosed
 * quote swallows the rest of the file into that one record. A record over `maxRecordBytes` stops the
 * file with an InputFileError, since csv-parse cannot resynchronise after it.
 */
export async function* readCsvRecords(source: ByteSource, options: ReaderOptions): AsyncGenerator<IngestItem> {
  const { spec, accounting, fileName } = options;
  const fields = spec.schema.fields;
  const skipped: Skipped[] = [];
  const parser = parse({
    columns: true,
    bom: true,
    raw: true,
    info: true,
    skip_empty_lines: true,
    max_record_size: spec.ingest.maxRecordBytes,
    skip_records_with_error: true,
    on_skip: (err, raw) => {
      const e = err as { code?: string; records?: number } | undefined;
      skipped.push({ after: e?.records ?? 0, raw: raw ?? '', tooLarge: e?.code === 'CSV_MAX_RECORD_SIZE' });
    },
  });
  const input = Readable.from(source, { objectMode: false });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  let ordinal = 0;
  const emit = (item: IngestItem): IngestItem => {
    accounting?.record(item);
    return item;
  };
  // csv-parse reports skips through a callback that runs ahead of the records we consume; `after` puts them back in order.
  function* skipsBefore(goodRecords: number): Generator<IngestItem> {
    while (skipped.length > 0 && (skipped[0] as Skipped).after < goodRecords) {
      const s = skipped.shift() as Skipped;
      ordinal += 1;
      if (s.tooLarge) {
        throw new InputFileError(
          fileName,
          'unparseable_csv',
          `CSV record ${ordinal} is longer than ingest.maxRecordBytes (${spec.ingest.maxRecordBytes}), usually an unclosed quote; the rest of the file cannot be parsed`,
        );
      }
      yield emit(quarantined(ordinal, 'invalid_csv', s.raw));
    }
  }

  try {
    for await (const chunk of parser) {
      const { record, raw, info } = chunk as CsvRecord;
      yield* skipsBefore(info.records);
      ordinal += 1;
      if (raw.includes('\uFFFD')) {
        // csv-parse decodes invalid UTF-8 to U+FFFD; a replacement character in a raw feed means bad bytes upstream.
        yield emit(quarantined(ordinal, 'invalid_utf8', raw));
      } else if (Object.keys(record).some((k) => FORBIDDEN_KEYS.has(k))) {
        yield emit(quarantined(ordinal, 'forbidden_key', raw));
      } else {
        const r = checkParsedRecord(coerceCsvRow(record, fields), spec, options);
        yield emit(r.ok ? { kind: 'accepted', lineNumber: ordinal, record: r.record } : quarantined(ordinal, r.reason, raw));
      }
    }
    yield* skipsBefore(Number.POSITIVE_INFINITY);
  } finally {
    input.unpipe(parser);
    input.destroy();
    parser.destroy();
  }
}
