import { describe, expect, it } from 'vitest';
import { PartitionAccounting, type IngestItem } from '../../src/ingest/ingest-lines';
import { openRecordStream, splitCsvRecords, type CsvFrame } from '../../src/ingest/readers';
import type { DatasetSpec } from '../../src/shared/spec';
import { ticketsSpec } from './data-fixtures';

const header = 'id,created_at,channel,subject,body,queue';
const row = (id: string, body = 'b'): string => `${id},2024-03-01,web,s,${body},billing`;
const withCap = (maxRecordBytes: number): DatasetSpec => ({ ...ticketsSpec, ingest: { ...ticketsSpec.ingest, maxRecordBytes } });
const b64 = (text: string): string => Buffer.from(text).toString('base64');

async function read(input: string | Buffer, spec: DatasetSpec = ticketsSpec, chunkSize = 0) {
  const bytes = Buffer.from(input);
  const chunks =
    chunkSize > 0
      ? Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize))
      : [bytes];
  const accounting = new PartitionAccounting();
  const items: IngestItem[] = [];
  for await (const item of openRecordStream(chunks, { spec, fileName: 'p.csv', accounting })) items.push(item);
  return { items, counts: accounting.snapshot() };
}

const summary = (items: IngestItem[]): string[] => items.map((i) => (i.kind === 'accepted' ? String(i.record.id) : i.reason));

describe('openRecordStream: CSV unclosed quotes', () => {
  const opening = row('T-3', '"never closed');

  it.each([
    ['plain rows, so the quote runs to the end of the file', [row('T-4'), row('T-5')]],
    ['rows with quoted cells, so a quote lands mid-cell', [row('T-4', '"b, c"'), row('T-5', '"x ""y"""')]],
  ])('quarantines an unclosed quote in the middle with its line, and accepts what follows: %s', async (_name, after) => {
    const csv = [header, row('T-1'), row('T-2', '"line one\nline two"'), opening, ...after, row('T-6', '"multi\nline"')].join('\n');
    const { items, counts } = await read(csv);
    expect(summary(items)).toEqual(['T-1', 'T-2', 'csv_unclosed_quote', 'T-4', 'T-5', 'T-6']);
    expect(items[2]).toEqual({
      kind: 'quarantined',
      lineNumber: 3,
      reason: 'csv_unclosed_quote',
      rawBase64: b64(opening),
      byteLength: opening.length,
    });
    expect(counts).toEqual({ recordsIn: 6, accepted: 5, quarantined: 1, byReason: { csv_unclosed_quote: 1 } });
  });

  it.each([
    ['without a final line end', ''],
    ['with a final LF', '\n'],
    ['with a final CRLF', '\r\n'],
  ])('quarantines an unclosed quote on the last row %s, keeping its bytes', async (_name, end) => {
    const { items, counts } = await read(`${header}\n${row('T-1')}\n${opening}${end}`);
    expect(summary(items)).toEqual(['T-1', 'csv_unclosed_quote']);
    expect(items[1]).toMatchObject({ lineNumber: 2, rawBase64: b64(opening) });
    expect(counts.recordsIn).toBe(2);
  });

  it('keeps a properly quoted field with embedded LF and CRLF line ends, commas and doubled quotes as one record', async () => {
    const body = 'first, line\nsecond "quoted"\r\n\nlast';
    const { items, counts } = await read(`${header}\n${row('T-1', `"${body.replace(/"/g, '""')}"`)}\n${row('T-2')}\n`);
    expect(items[0]).toMatchObject({ kind: 'accepted', lineNumber: 1, record: { id: 'T-1', body } });
    expect(counts).toEqual({ recordsIn: 2, accepted: 2, quarantined: 0, byReason: {} });
  });

  it('bounds a quoted field by maxRecordBytes: it is cut back to its opening line and every later line is read again', async () => {
    const lines = [header, row('T-1'), row('T-2', `"${'x\n'.repeat(150)}"`), row('T-3')].join('\n').split('\n');
    const { items, counts } = await read(lines.join('\n'), withCap(200));
    // One item per physical data line: the opening line, 149 lines of "x" (one cell each), then `",billing`,
    // whose quote runs to the end of the file, and T-3 once that quote is given up too.
    expect(counts.recordsIn).toBe(lines.length - 1);
    expect(summary(items)).toEqual(['T-1', 'csv_unclosed_quote', ...Array<string>(149).fill('invalid_csv'), 'csv_unclosed_quote', 'T-3']);
    expect(items[1]).toMatchObject({ rawBase64: b64(lines[2] as string) });
  });

  it('holds no more than maxRecordBytes of an endless quoted field, and reads the rows after it', async () => {
    async function* file(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${header}\n${row('T-1', '"opens here')}\n`);
      const line = Buffer.from(`${'x'.repeat(64 * 1024 - 1)}\n`);
      for (let i = 0; i < 400; i += 1) yield line; // 25 MiB inside the quote
      yield Buffer.from(`${row('T-2')}\n`);
    }
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const accounting = new PartitionAccounting();
    const reasons: string[] = [];
    for await (const item of openRecordStream(file(), { spec: ticketsSpec, fileName: 'p.csv', accounting })) {
      reasons.push(item.kind === 'accepted' ? 'ok' : item.reason);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    expect(reasons[0]).toBe('csv_unclosed_quote');
    expect(reasons.at(-1)).toBe('ok');
    expect(accounting.snapshot()).toMatchObject({ recordsIn: 402, accepted: 1, byReason: { csv_unclosed_quote: 1, invalid_csv: 400 } });
    expect(peak).toBeLessThan(16 * 1024 * 1024);
  });

  it('reads a BOM and CRLF line ends around an unclosed quote, keeping the bytes without the CR', async () => {
    const csv = `\uFEFF${header}\r\n${row('T-1')}\r\n${opening}\r\n${row('T-4')}\r\n${row('T-5', '"a\r\nb"')}\r\n`;
    const { items, counts } = await read(csv);
    expect(summary(items)).toEqual(['T-1', 'csv_unclosed_quote', 'T-4', 'T-5']);
    expect(items[1]).toMatchObject({ rawBase64: b64(opening) });
    expect(items[3]).toMatchObject({ record: { body: 'a\r\nb' } });
    expect(counts.recordsIn).toBe(4);
  });

  it('gives the same items wherever the chunk boundaries fall', async () => {
    const csv = `\uFEFF${[header, row('T-1', '"a ""b""\r\nc"'), opening, row('T-4', '"x, y"'), '', row('T-5')].join('\r\n')}\r\n`;
    const whole = await read(csv);
    expect(summary(whole.items)).toEqual(['T-1', 'csv_unclosed_quote', 'T-4', 'empty_line', 'T-5']);
    for (const size of [1, 2, 3, 5, 64]) expect((await read(csv, ticketsSpec, size)).items).toEqual(whole.items);
  });

  it('stays linear when every line carries a quote that would reopen the field', async () => {
    // Each line both closes and reopens a quoted cell; resuming at each next line must not rescan the megabyte after it.
    const { counts } = await read(`${header}\na,"b\n${'x",y,"z\n'.repeat(200_000)}`);
    expect(counts).toEqual({ recordsIn: 200_001, accepted: 0, quarantined: 200_001, byReason: { csv_unclosed_quote: 200_001 } });
  });
});

describe('splitCsvRecords', () => {
  async function frames(text: string, maxRecordBytes = 1024): Promise<Array<string | number>> {
    const out: CsvFrame[] = [];
    for await (const frame of splitCsvRecords([text], { maxRecordBytes })) out.push(frame);
    return out.map((f) => (f.kind === 'too_large' ? f.byteLength : `${f.kind === 'record' ? '' : '!'}${f.bytes.toString()}`));
  }

  it.each<[string, string, Array<string | number>, number?]>([
    ['splits on LF and CRLF, no phantom record after a final line end', 'a,b\r\nc,d\n', ['a,b', 'c,d']],
    ['keeps blank lines as empty records', 'a\n\n\r\nb', ['a', '', '', 'b']],
    ['drops a leading BOM only', '\uFEFFa\n\uFEFFb', ['a', '\uFEFFb']],
    ['keeps line ends, commas and doubled quotes inside quotes', '"a\r\n,""b"""\nc', ['"a\r\n,""b"""', 'c']],
    ['keeps a lone CR as data', 'a\rb\n', ['a\rb']],
    ['leaves a quote inside an unquoted cell to csv-parse when the line ends', 'a"b,c\nd', ['a"b,c', 'd']],
    ['marks a quote open at the end of the file, then reads on from the next line', 'x\n"a\nb\nc', ['x', '!"a', 'b', 'c']],
    ['gives up a multi-line quote at a misplaced quote', '"a\nb"c\nd', ['!"a', 'b"c', 'd']],
    ['gives up a quote left open at a line end after a misplaced one', 'a"b,"c\nd\n', ['!a"b,"c', 'd']],
    ['gives up a multi-line record over the limit', '"aaaa\nbbbbbb"\nc', ['!"aaaa', 'bbbbbb"', 'c'], 8],
    ['skips a single line over the limit, quote or not', '"aaaaaaaaaa\nb\nc,"dddddddddd"\ne', [11, 'b', 14, 'e'], 8],
    ['accepts a record of exactly the limit, with or without CR', '12345678\r\n12345678\n', ['12345678', '12345678'], 8],
  ])('%s', async (_name, text, expected, max) => {
    expect(await frames(text, max)).toEqual(expected);
  });
});
