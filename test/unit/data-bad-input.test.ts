import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { PartitionAccounting, type IngestItem } from '../../src/ingest/ingest-lines';
import { InputFileError, openRecordStream } from '../../src/ingest/readers';
import type { DatasetSpec } from '../../src/shared/spec';
import { goodTicket, richSpec, ticketsSpec } from './data-fixtures';

// Issue 3's list of bad input, end to end through openRecordStream: each gets a reason (or a file error naming the
// file), never a crash, a silent drop or a hang, and every line is counted once.

async function read(chunks: Array<Buffer | string>, fileName: string, spec: DatasetSpec = ticketsSpec) {
  const accounting = new PartitionAccounting();
  const items: IngestItem[] = [];
  for await (const item of openRecordStream(chunks, { spec, fileName, accounting })) items.push(item);
  return { items, counts: accounting.snapshot() };
}

async function readError(chunks: Array<Buffer | string>, fileName: string): Promise<InputFileError> {
  const err: unknown = await read(chunks, fileName).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof InputFileError) return err;
  throw new Error(`expected an InputFileError, got ${String(err)}`);
}

const reasonOf = (item: IngestItem | undefined): string | undefined => (item?.kind === 'quarantined' ? item.reason : item?.kind);
const good = (patch: Record<string, unknown> = {}): string => JSON.stringify({ ...goodTicket, ...patch });

describe('bad JSONL input', () => {
  const deep = `{"id":"T-1","x":${'['.repeat(400_000)}${']'.repeat(400_000)}}`;
  const lines: Array<[string, string | Buffer, string]> = [
    ['a good line after a BOM, ending in CRLF', `\uFEFF${good()}\r`, 'accepted'],
    ['malformed JSON', '{id: "T-1"}', 'invalid_json'],
    ['truncated JSON', good().slice(0, 40), 'invalid_json'],
    ['a non-JSON line', 'hello, world', 'invalid_json'],
    ['NaN', '{"id":"T-1","x":NaN}', 'invalid_json'],
    ['Infinity', '{"id":"T-1","x":-Infinity}', 'invalid_json'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), 'invalid_utf8'],
    ['a wrong type', good({ subject: 42 }), 'wrong_type:subject'],
    ['a missing required field', good({ subject: undefined }), 'missing_required_field:subject'],
    ['a top-level array', '[1,2]', 'not_an_object'],
    ['a top-level number', '42', 'not_an_object'],
    ['a top-level string', '"text"', 'not_an_object'],
    ['a top-level null', 'null', 'not_an_object'],
    ['a __proto__ key', '{"__proto__":{"polluted":true},"id":"T-1"}', 'forbidden_key'],
    ['a nested constructor key', good({ meta: { constructor: { prototype: { polluted: true } } } }), 'forbidden_key'],
    ['nesting 400,000 deep', deep, 'too_deep'],
    ['a line over maxRecordBytes', `{"body":"${'x'.repeat(2 * 1024 * 1024)}"}`, 'record_too_large'],
    ['an empty line', '', 'empty_line'],
    ['a whitespace line', ' \t', 'empty_line'],
    ['a final line cut off mid-record, without a line end', good().slice(0, 25), 'invalid_json'],
  ];

  it('gives every class of bad line its reason and its bytes, and counts each line once', async () => {
    const file = Buffer.concat(lines.flatMap(([, line], i) => [Buffer.from(line), Buffer.from(i < lines.length - 1 ? '\n' : '')]));
    const { items, counts } = await read([file], 'raw/t/2024-03-01/bad.jsonl');
    expect(items.map((item, i) => [lines[i]?.[0], reasonOf(item)])).toEqual(lines.map(([name, , reason]) => [name, reason]));
    expect(items.map((i) => i.lineNumber)).toEqual(lines.map((_, i) => i + 1));
    expect(counts.recordsIn).toBe(lines.length);
    expect(counts.accepted + counts.quarantined).toBe(counts.recordsIn);
    for (const [i, item] of items.entries()) {
      if (item.kind !== 'quarantined' || item.reason === 'record_too_large') continue;
      const original = Buffer.from(lines[i]?.[1] as string | Buffer);
      // Compared as base64 text: a deep equality over an 800 kB Buffer takes seconds.
      expect(`${i}:${item.rawBase64}`).toBe(`${i}:${original.toString('base64')}`);
    }
    expect(items[16]).toMatchObject({ rawBase64: '', byteLength: 2 * 1024 * 1024 + 11 });
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('reads an empty file and a file of one line end as nothing and one empty line', async () => {
    expect((await read([], 'e.jsonl')).counts.recordsIn).toBe(0);
    expect((await read(['\n'], 'e.jsonl')).counts).toEqual({ recordsIn: 1, accepted: 0, quarantined: 1, byReason: { empty_line: 1 } });
  });
});

describe('bad CSV input', () => {
  const header = 'id,created_at,channel,subject,body,queue,score,tags,meta';
  const row = (cells: Record<string, string> = {}): string =>
    [
      cells.id ?? 'T-1',
      '2024-03-01',
      'web',
      cells.subject ?? 's',
      'b',
      'billing',
      cells.score ?? '',
      cells.tags ?? '',
      cells.meta ?? '',
    ].join(',');
  const rows: Array<[string, string, string]> = [
    ['a good row', row(), 'accepted'],
    ['NaN in a number cell', row({ score: 'NaN' }), 'wrong_type:score'],
    ['Infinity in a number cell', row({ score: 'Infinity' }), 'wrong_type:score'],
    ['text in a number cell', row({ score: 'high' }), 'wrong_type:score'],
    ['an empty required cell', row({ subject: '' }), 'missing_required_field:subject'],
    ['a list cell nested too deep', row({ tags: `"${'['.repeat(100)}${']'.repeat(100)}"` }), 'too_deep'],
    ['a constructor key in an object cell', row({ meta: '"{""constructor"":{""source"":""web""}}"' }), 'forbidden_key'],
    ['too few cells', 'T-1,2024-03-01,web', 'invalid_csv'],
    ['a final row cut off mid-record, without a line end', row().slice(0, 20), 'invalid_csv'],
  ];

  it('gives every class of bad row its reason and its bytes, and counts each row once', async () => {
    const { items, counts } = await read([`\uFEFF${header}\r\n${rows.map(([, r]) => r).join('\r\n')}`], 'raw/t/bad.csv', richSpec());
    expect(items.map((item, i) => [rows[i]?.[0], reasonOf(item)])).toEqual(rows.map(([name, , reason]) => [name, reason]));
    for (const [i, item] of items.entries()) {
      if (item.kind === 'quarantined') expect(Buffer.from(item.rawBase64, 'base64').toString()).toBe(rows[i]?.[1]);
    }
    expect(counts.recordsIn).toBe(rows.length);
    expect(Object.prototype).not.toHaveProperty('source');
  });
});

describe('bad Parquet input', () => {
  type Column = { name: string; data: unknown[]; type: 'STRING' | 'DOUBLE' | 'INT32' | 'JSON' };
  const strings = (n: number, patch: Record<string, unknown> = {}): Column[] =>
    Object.entries({ ...goodTicket, ...patch }).map(([name, v]) => ({ name, data: Array<unknown>(n).fill(v), type: 'STRING' }));
  const parquet = (columns: Column[]): Buffer =>
    Buffer.from(
      parquetWriteBuffer({
        columnData: columns as Parameters<typeof parquetWriteBuffer>[0]['columnData'],
        codec: 'UNCOMPRESSED',
        statistics: false,
      }),
    );

  it('quarantines NaN and Infinity in a number column as wrong types', async () => {
    const file = parquet([
      ...strings(4),
      { name: 'score', data: [0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], type: 'DOUBLE' },
    ]);
    const { items } = await read([file], 'p.parquet', richSpec());
    expect(items.map(reasonOf)).toEqual(['accepted', 'wrong_type:score', 'wrong_type:score', 'wrong_type:score']);
  });

  it('quarantines a column of the wrong type and a missing required value', async () => {
    const { subject: _s, ...rest } = goodTicket;
    const file = parquet([
      ...Object.entries(rest).map(([name, v]): Column => ({ name, data: [v, v], type: 'STRING' })),
      { name: 'subject', data: [7, null], type: 'INT32' },
    ]);
    const { items } = await read([file], 'p.parquet');
    expect(items.map(reasonOf)).toEqual(['wrong_type:subject', 'missing_required_field:subject']);
  });

  it.each(['__proto__', 'constructor'])('quarantines every row of a file with a %s column, polluting nothing', async (name) => {
    const file = parquet([...strings(2), { name, data: ['{"polluted":true}', 'x'], type: 'STRING' }]);
    const { counts } = await read([file], 'p.parquet');
    expect(counts).toEqual({ recordsIn: 2, accepted: 0, quarantined: 2, byReason: { forbidden_key: 2 } });
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('quarantines a row whose string cell is not UTF-8 instead of reading it with replacement characters', async () => {
    const file = parquet(strings(1, { subject: 'QQQQ' }).map((c) => (c.name === 'body' ? { ...c, data: ['fine'] } : c)));
    const at = file.indexOf('QQQQ');
    file.set([0xff, 0xfe], at);
    const { items } = await read([file], 'p.parquet');
    expect(items.map(reasonOf)).toEqual(['invalid_utf8']);
  });

  it('quarantines a JSON cell nested 100,000 deep as too_deep instead of overflowing the stack', async () => {
    const n = 100_000;
    const deep = `{"source":"web","x":${'['.repeat(n)}${']'.repeat(n)}}`;
    // The writer cannot serialize such a value itself: write a same-length placeholder, then put the text in its place.
    const placeholder = 'Z'.repeat(deep.length - 2);
    const file = parquet([...strings(2), { name: 'meta', data: [placeholder, { source: 'web' }], type: 'JSON' }]);
    file.write(deep, file.indexOf(JSON.stringify(placeholder)));
    const { items } = await read([file], 'p.parquet', richSpec());
    expect(items.map(reasonOf)).toEqual(['too_deep', 'accepted']);
  });

  it('quarantines a row over maxRecordBytes as record_too_large', async () => {
    const small = { ...ticketsSpec, ingest: { ...ticketsSpec.ingest, maxRecordBytes: 300 } };
    const file = parquet(strings(1, { body: 'x'.repeat(1000) }));
    expect((await read([file], 'p.parquet', small)).items.map(reasonOf)).toEqual(['record_too_large']);
  });
});

describe('unreadable files', () => {
  it('fails a gzip file with a bad checksum or trailing garbage as corrupt_gzip, naming the file', async () => {
    const gz = gzipSync(`${good()}\n`);
    const badCrc = Buffer.from(gz);
    badCrc.writeUInt8(badCrc.readUInt8(badCrc.length - 8) ^ 0xff, badCrc.length - 8);
    for (const file of [badCrc, Buffer.concat([gz, Buffer.from('not gzip')])]) {
      const err = await readError([file], 'raw/t/x.jsonl.gz');
      expect(err.problem).toBe('corrupt_gzip');
      expect(err.message).toContain('raw/t/x.jsonl.gz');
    }
  });
});
