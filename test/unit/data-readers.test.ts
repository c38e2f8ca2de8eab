import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PartitionAccounting, type IngestItem } from '../../src/ingest/ingest-lines';
import { writeRecordsParquet } from '../../src/datasets/parquet';
import { coerceCsvValue, detectFormat, InputFileError, openRecordStream } from '../../src/ingest/readers';
import type { DatasetSpec } from '../../src/shared/spec';
import { goodTicket, richSpec, ticketsSpec } from './data-fixtures';

type Chunk = Buffer | string;

async function read(chunks: Chunk[], fileName: string, spec: DatasetSpec = ticketsSpec) {
  const accounting = new PartitionAccounting();
  const items: IngestItem[] = [];
  for await (const item of openRecordStream(chunks, { spec, fileName, accounting })) items.push(item);
  return { items, counts: accounting.snapshot() };
}

async function readError(chunks: Chunk[], fileName: string, spec: DatasetSpec = ticketsSpec): Promise<InputFileError> {
  try {
    await read(chunks, fileName, spec);
  } catch (err) {
    if (err instanceof InputFileError) return err;
    throw err;
  }
  throw new Error('expected an InputFileError');
}

const jsonl = (n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ ...goodTicket, id: `T-${i}` })).join('\n');
const split = (buf: Buffer, size: number): Buffer[] =>
  Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));

describe('detectFormat', () => {
  it.each([
    ['a/b.jsonl', 'jsonl'],
    ['a/b.JSONL.gz', 'jsonl'],
    ['b.csv', 'csv'],
    ['b.csv.gz', 'csv'],
    ['b.parquet', 'parquet'],
    ['b.txt', undefined],
  ])('reads %s as %s', (name, format) => {
    expect(detectFormat(name)).toBe(format);
  });

  it('lets the spec override the extension', () => {
    expect(detectFormat('b.txt', 'csv')).toBe('csv');
  });

  it('fails an unknown format with an error naming the file', async () => {
    const err = await readError(['{}'], 'raw/x/readme.txt');
    expect(err.problem).toBe('unknown_format');
    expect(err.message).toContain('raw/x/readme.txt');
  });
});

describe('openRecordStream: JSONL and gzip', () => {
  it('reads plain JSONL with a BOM and CRLF line ends', async () => {
    const { items, counts } = await read([`\uFEFF${jsonl(3).replace(/\n/g, '\r\n')}\r\n`], 'p.jsonl');
    expect(counts).toEqual({ recordsIn: 3, accepted: 3, quarantined: 0, byReason: {} });
    expect(items.map((i) => i.lineNumber)).toEqual([1, 2, 3]);
  });

  it('streams gzip-compressed JSONL, detected by magic bytes even without .gz', async () => {
    const gz = gzipSync(`${jsonl(500)}\nnot json\n`);
    for (const name of ['p.jsonl.gz', 'p.jsonl']) {
      const { counts } = await read(split(gz, 777), name);
      expect(counts).toEqual({ recordsIn: 501, accepted: 500, quarantined: 1, byReason: { invalid_json: 1 } });
    }
  });

  it('fails a truncated gzip file with an error naming the file (no silent prefix)', async () => {
    const gz = gzipSync(jsonl(2000));
    const err = await readError([gz.subarray(0, Math.floor(gz.length / 2))], 'raw/t/2024-03-01/part-0.jsonl.gz');
    expect(err.problem).toBe('truncated_gzip');
    expect(err.message).toContain('raw/t/2024-03-01/part-0.jsonl.gz');
    expect(err.message).not.toContain('T-1');
  });

  it('stops a gzip bomb at maxDecompressedBytes without inflating it in memory', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const small = { ...ticketsSpec, ingest: { ...ticketsSpec.ingest, maxDecompressedBytes: 1024 * 1024 } };
    const before = process.memoryUsage().rss;
    const err = await readError([bomb], 'bomb.jsonl.gz', small);
    expect(err.problem).toBe('decompressed_too_large');
    expect(err.message).toContain('bomb.jsonl.gz');
    expect(process.memoryUsage().rss - before).toBeLessThan(48 * 1024 * 1024);
  });

  it('reads empty files as zero records, in every format', async () => {
    for (const name of ['e.jsonl', 'e.jsonl.gz', 'e.csv', 'e.parquet']) {
      expect((await read([], name)).counts.recordsIn).toBe(0);
      expect((await read([Buffer.alloc(0)], name)).counts.recordsIn).toBe(0);
    }
    expect((await read([gzipSync('')], 'e.jsonl.gz')).counts.recordsIn).toBe(0);
  });
});

describe('openRecordStream: CSV', () => {
  const header = 'id,created_at,channel,subject,body,queue';

  it('reads a header row, quoted cells with commas, doubled quotes and embedded newlines, BOM and CRLF', async () => {
    const csv = `\uFEFF${header}\r\nT-1,2024-03-01T10:00:00Z,email,"refund, please","line one\r\nline ""two""",billing\r\nT-2,2024-03-01,chat,hi,there,\r\n`;
    const { items, counts } = await read(split(Buffer.from(csv), 7), 'p.csv');
    expect(counts).toEqual({ recordsIn: 2, accepted: 2, quarantined: 0, byReason: {} });
    expect(items[0]).toMatchObject({
      kind: 'accepted',
      lineNumber: 1,
      record: { subject: 'refund, please', body: 'line one\r\nline "two"' },
    });
    // An empty cell is a missing value: T-2 is unlabeled, not labeled "".
    expect(items[1]).toMatchObject({ kind: 'accepted', lineNumber: 2 });
    expect(items[1]?.kind === 'accepted' && 'queue' in items[1].record).toBe(false);
  });

  it('coerces cells to the contract types and quarantines cells that do not convert', async () => {
    const rich = richSpec();
    const csv = [
      `${header},priority,score,vip,tags`,
      'T-1,2024-03-01,web,s,b,billing,3,0.25,true,"[""ab""]"',
      'T-2,2024-03-01,web,s,b,billing,high,,,',
      'T-3,2024-03-01,web,s,b,billing,9,,,',
      'T-4,2024-03-01,web,s,b,billing,,,maybe,',
    ].join('\n');
    const { items, counts } = await read([csv], 'p.csv', rich);
    expect(items[0]).toMatchObject({
      kind: 'accepted',
      record: { priority: 3, score: 0.25, vip: true, tags: ['ab'], created_at: '2024-03-01T00:00:00.000Z' },
    });
    expect(counts.byReason).toEqual({ 'wrong_type:priority': 1, 'out_of_range:priority': 1, 'wrong_type:vip': 1 });
    expect(coerceCsvValue('-12', { type: 'integer', required: true })).toBe(-12);
    expect(coerceCsvValue('1e3', { type: 'number', required: true })).toBe(1000);
    expect(coerceCsvValue('NaN', { type: 'number', required: true })).toBe('NaN');
    expect(coerceCsvValue('FALSE', { type: 'boolean', required: true })).toBe(false);
  });

  it('quarantines malformed rows as invalid_csv with their bytes, once each, in order, and keeps reading', async () => {
    const stray = 'T-2,2024-03-01,web,12" and 13" screens,b,billing';
    const csv = `${header}\nT-1,2024-03-01,web,s,b,billing\nonly,three,cells\n${stray}\nT-4,2024-03-01,web,s,b,billing\n`;
    const { items, counts } = await read([csv], 'p.csv');
    expect(items.map((i) => [i.lineNumber, i.kind])).toEqual([
      [1, 'accepted'],
      [2, 'quarantined'],
      [3, 'quarantined'],
      [4, 'accepted'],
    ]);
    expect(items[1]).toMatchObject({ reason: 'invalid_csv', rawBase64: Buffer.from('only,three,cells').toString('base64') });
    // Two stray quotes are two csv-parse errors, but still one record with all of its bytes.
    expect(items[2]).toMatchObject({ reason: 'invalid_csv', rawBase64: Buffer.from(stray).toString('base64') });
    expect(counts).toEqual({ recordsIn: 4, accepted: 2, quarantined: 2, byReason: { invalid_csv: 2 } });
  });

  it('quarantines a line over maxRecordBytes as record_too_large without its bytes and reads on', async () => {
    const small = { ...ticketsSpec, ingest: { ...ticketsSpec.ingest, maxRecordBytes: 200 } };
    const long = `T-1,2024-03-01,web,s,${'x'.repeat(500)},billing`;
    const csv = `${header}\n${long}\r\nT-2,2024-03-01,web,s,b,billing\n`;
    const { items, counts } = await read(split(Buffer.from(csv), 64), 'big.csv', small);
    expect(items[0]).toEqual({ kind: 'quarantined', lineNumber: 1, reason: 'record_too_large', rawBase64: '', byteLength: long.length });
    expect(counts).toEqual({ recordsIn: 2, accepted: 1, quarantined: 1, byReason: { record_too_large: 1 } });
  });

  it('quarantines blank lines between records as empty_line, like JSONL, but skips them before the header', async () => {
    const csv = `\n${header}\nT-1,2024-03-01,web,s,b,billing\n\r\n\nT-2,2024-03-01,web,s,b,billing\n`;
    const { items, counts } = await read([csv], 'p.csv');
    expect(items.map((i) => (i.kind === 'accepted' ? 'ok' : i.reason))).toEqual(['ok', 'empty_line', 'empty_line', 'ok']);
    expect(counts.recordsIn).toBe(4);
  });

  it.each([
    ['an unclosed quote', 'id,"created_at,channel\nT-1,2024-03-01,web\n', 'has a quote that never closes'],
    ['a repeated column', 'id,id,channel\nT-1,T-2,web\n', 'names a column twice'],
    ['CR-only line ends', 'id,channel\rT-1,web\r', 'contains a carriage return'],
  ])('fails a file whose header row has %s, naming the file', async (_name, csv, detail) => {
    const err = await readError([csv], 'raw/h.csv');
    expect(err.problem).toBe('unparseable_csv');
    expect(err.message).toContain('raw/h.csv');
    expect(err.message).toContain(detail);
  });

  it('quarantines a __proto__ column and invalid UTF-8 instead of crashing', async () => {
    const proto = await read([`${header},__proto__\nT-1,2024-03-01,web,s,b,billing,{}\n`], 'p.csv');
    expect(proto.counts.byReason).toEqual({ forbidden_key: 1 });
    expect(Object.prototype).not.toHaveProperty('polluted');
    const bad = Buffer.concat([Buffer.from(`${header}\nT-1,2024-03-01,web,s,`), Buffer.from([0xc3, 0x28]), Buffer.from(',billing\n')]);
    expect((await read([bad], 'p.csv')).counts.byReason).toEqual({ invalid_utf8: 1 });
  });

  it('reads gzip-compressed CSV', async () => {
    const { counts } = await read([gzipSync(`${header}\nT-1,2024-03-01,web,s,b,billing\n`)], 'p.csv.gz');
    expect(counts.accepted).toBe(1);
  });
});

describe('openRecordStream: Parquet', () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({
    record: { ...goodTicket, id: `T-${i}`, created_at: '2024-03-01T10:00:00.000Z', ...(i % 5 === 0 ? { queue: undefined } : {}) },
    hash: `h${i}`,
  }));

  it('reads rows back through the contract with 1-based row numbers, nulls as missing values', async () => {
    const file = writeRecordsParquet(rows, ticketsSpec);
    const { items, counts } = await read(split(file, 1000), 'p.parquet');
    expect(counts).toEqual({ recordsIn: 25, accepted: 25, quarantined: 0, byReason: {} });
    expect(items.map((i) => i.lineNumber)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(items[0]).toEqual({
      kind: 'accepted',
      lineNumber: 1,
      record: { ...goodTicket, id: 'T-0', created_at: '2024-03-01T10:00:00.000Z', queue: undefined },
    });
  });

  it('quarantines rows that break the contract with their JSON form', async () => {
    const file = writeRecordsParquet([{ record: { ...goodTicket, channel: 'fax' }, hash: 'h' }], ticketsSpec);
    const { items } = await read([file], 'p.parquet');
    expect(items[0]).toMatchObject({ kind: 'quarantined', reason: 'invalid_enum:channel' });
    const raw = JSON.parse(Buffer.from((items[0] as { rawBase64: string }).rawBase64, 'base64').toString()) as Record<string, unknown>;
    expect(raw.channel).toBe('fax');
  });

  it('fails a corrupt or truncated Parquet file with an error naming the file', async () => {
    const file = writeRecordsParquet(rows, ticketsSpec);
    expect((await readError([Buffer.from('this is not parquet at all')], 'raw/bad.parquet')).problem).toBe('corrupt_parquet');
    const truncated = await readError([file.subarray(0, file.length - 10)], 'raw/cut.parquet');
    expect(truncated.problem).toBe('corrupt_parquet');
    expect(truncated.message).toContain('raw/cut.parquet');
    const mangled = Buffer.from(file);
    mangled.fill(0xff, 8, Math.min(400, mangled.length - 200));
    const err = await readError([mangled], 'raw/mangled.parquet');
    expect(err.problem).toBe('corrupt_parquet');
  });
});
