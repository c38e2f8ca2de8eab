import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { DatasetSpec, FieldSpec } from '../shared/spec';

/** Column the versioning stage adds: the record's dedupe hash, so a version's rows can be joined back to labels and lineage. */
export const HASH_COLUMN = '_trainset_hash';
/** Column that holds undeclared fields (as one JSON object) when the spec keeps unknown fields. */
export const EXTRA_COLUMN = '_extra';

/** Rows per row group: bounds the writer's memory (one group's columns) while keeping groups large enough to scan well. */
export const DEFAULT_ROW_GROUP_SIZE = 10_000;

type ToCell = (value: unknown) => unknown;

interface Column {
  name: string;
  element: SchemaElement;
  toCell: ToCell;
  /** Per-column writer overrides (see `HASH_WRITE_OPTIONS`). */
  write?: { codec?: 'UNCOMPRESSED'; encoding?: 'PLAIN'; statistics?: boolean };
}

// Hashes are distinct hex strings: a dictionary never pays, Snappy barely shrinks them, min/max prune nothing.
const HASH_WRITE_OPTIONS = { codec: 'UNCOMPRESSED', encoding: 'PLAIN', statistics: false } as const;

const asIs: ToCell = (v) => v;
const toBigInt: ToCell = (v) => (typeof v === 'number' ? BigInt(v) : v);
const toMillis: ToCell = (v) => (typeof v === 'string' ? Date.parse(v) : v);

function columnFor(name: string, field: FieldSpec): Column {
  // Optional even when required: the label field is required yet absent on unlabeled records.
  const base = { name, repetition_type: 'OPTIONAL' as const };
  switch (field.type) {
    case 'string':
    case 'enum':
      return { name, element: { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' }, toCell: asIs };
    case 'integer':
      return { name, element: { ...base, type: 'INT64', converted_type: 'INT_64' }, toCell: toBigInt };
    case 'number':
      return { name, element: { ...base, type: 'DOUBLE' }, toCell: asIs };
    case 'boolean':
      return { name, element: { ...base, type: 'BOOLEAN' }, toCell: asIs };
    case 'timestamp':
      return {
        name,
        element: {
          ...base,
          type: 'INT64',
          converted_type: 'TIMESTAMP_MILLIS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
        },
        toCell: toMillis,
      };
    case 'list':
    case 'object':
      // Nested values are stored as JSON text: every reader (DuckDB, pyarrow, pandas) parses it, and the
      // contract already fixed their shape.
      return { name, element: { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON' }, toCell: asIs };
  }
}

/** The Parquet columns of a spec's records: one per declared field (in spec order), the hash, and `_extra` when unknown fields are kept. */
export function parquetColumns(spec: DatasetSpec): Array<{ name: string; element: SchemaElement }> {
  return buildColumns(spec).map(({ name, element }) => ({ name, element }));
}

function buildColumns(spec: DatasetSpec): Column[] {
  const cols = Object.entries(spec.schema.fields).map(([name, field]) => columnFor(name, field));
  cols.push({
    name: HASH_COLUMN,
    element: { name: HASH_COLUMN, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    toCell: asIs,
    write: HASH_WRITE_OPTIONS,
  });
  if (spec.schema.unknownFields === 'keep') {
    cols.push({
      name: EXTRA_COLUMN,
      element: { name: EXTRA_COLUMN, type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: 'OPTIONAL' },
      toCell: asIs,
    });
  }
  return cols;
}

/** Options for `ParquetRecordWriter`. */
export interface ParquetRecordWriterOptions {
  /** Receives the file's bytes in order, one row group at a time (e.g. to a file or an upload); without it `finish()` returns the whole file. */
  sink?: (chunk: Buffer) => void;
  rowGroupSize?: number;
}

/**
 * Writes accepted records as a Parquet file (SNAPPY), buffering one row group of rows at a time, so memory
 * does not grow with the number of records when a `sink` takes the bytes away.
 */
export class ParquetRecordWriter {
  private readonly columns: Column[];
  private readonly declared: Set<string>;
  private readonly bytes = new ByteWriter(1 << 20);
  private readonly writer: ParquetWriter;
  private readonly chunks: Buffer[] = [];
  private readonly rowGroupSize: number;
  private rows: Array<unknown[]>;
  private count = 0;

  constructor(
    spec: DatasetSpec,
    private readonly options: ParquetRecordWriterOptions = {},
  ) {
    this.columns = buildColumns(spec);
    this.declared = new Set(Object.keys(spec.schema.fields));
    this.rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
    this.rows = this.columns.map(() => []);
    const schema: SchemaElement[] = [{ name: 'root', num_children: this.columns.length }, ...this.columns.map((c) => c.element)];
    // hyparquet-writer calls flush() after each row group; handing the bytes on keeps its buffer at one group.
    const sink = (chunk: Buffer): void => (options.sink ? options.sink(chunk) : void this.chunks.push(chunk));
    const bytes = this.bytes as ByteWriter & { flush?: () => void };
    bytes.flush = () => {
      if (bytes.index === 0) return;
      sink(Buffer.from(new Uint8Array(bytes.buffer, 0, bytes.index)));
      bytes.index = 0;
    };
    this.writer = new ParquetWriter({ writer: this.bytes, schema, codec: 'SNAPPY', createdBy: 'trainset' });
  }

  /** Rows written so far. */
  get rowCount(): number {
    return this.count;
  }

  /** Add one accepted record with its dedupe hash. */
  write(record: Record<string, unknown>, hash: string): void {
    const cols = this.columns;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i] as Column;
      let v: unknown;
      if (c.name === HASH_COLUMN) v = hash;
      else if (c.name === EXTRA_COLUMN) v = this.extra(record);
      else v = Object.prototype.hasOwnProperty.call(record, c.name) ? record[c.name] : undefined;
      (this.rows[i] as unknown[]).push(v === undefined || v === null ? null : c.toCell(v));
    }
    this.count += 1;
    if ((this.rows[0] as unknown[]).length >= this.rowGroupSize) this.flushGroup();
  }

  /** Write the footer; returns the whole file unless a sink took the bytes. */
  finish(): Buffer | undefined {
    this.flushGroup();
    void this.writer.finish();
    (this.bytes as ByteWriter & { flush: () => void }).flush();
    return this.options.sink ? undefined : Buffer.concat(this.chunks);
  }

  private extra(record: Record<string, unknown>): Record<string, unknown> | undefined {
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(record)) {
      if (this.declared.has(key)) continue;
      out ??= {};
      out[key] = record[key];
    }
    return out;
  }

  private flushGroup(): void {
    if ((this.rows[0] as unknown[]).length === 0) return;
    const columnData = this.columns.map((c, i) => ({ name: c.name, data: this.rows[i] as unknown[], ...c.write }));
    void this.writer.write({ columnData, rowGroupSize: this.rowGroupSize });
    this.rows = this.columns.map(() => []);
  }
}

/** Write records (each with its dedupe hash) as one in-memory Parquet file with the spec's columns. */
export function writeRecordsParquet(rows: Iterable<{ record: Record<string, unknown>; hash: string }>, spec: DatasetSpec): Buffer {
  const w = new ParquetRecordWriter(spec);
  for (const { record, hash } of rows) w.write(record, hash);
  return w.finish() as Buffer;
}
