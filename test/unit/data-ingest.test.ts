import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ingestLines, PartitionAccounting, type IngestItem } from '../../src/ingest/ingest-lines';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');

async function run(source: Iterable<Buffer | string> | AsyncIterable<Buffer | string>, s = spec) {
  const accounting = new PartitionAccounting();
  const items: IngestItem[] = [];
  for await (const item of ingestLines(source, s, { accounting })) items.push(item);
  return { items, counts: accounting.snapshot(), accounting };
}

describe('ingestLines', () => {
  it('accounts for every line of a generated partition: recordsIn = accepted + quarantined', async () => {
    const generated = generateTicketLines({ date: '2024-03-01', count: 1000, seed: 7, badLineFraction: 0.05 });
    const text = `${generated.map((g) => g.line).join('\n')}\n`;
    // Small chunks exercise lines spanning chunk boundaries.
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 97) }, (_, i) => bytes.subarray(i * 97, (i + 1) * 97));
    const { items, counts } = await run(Readable.from(chunks));

    expect(counts.recordsIn).toBe(1000);
    expect(items).toHaveLength(1000);
    expect(counts.accepted + counts.quarantined).toBe(counts.recordsIn);
    expect(Object.values(counts.byReason).reduce((a, b) => a + b, 0)).toBe(counts.quarantined);
    const bad = generated.filter((g) => g.kind === 'bad').length;
    expect(counts.quarantined).toBe(bad);
    expect(bad).toBeGreaterThan(20);
    expect(Object.keys(counts.byReason).sort()).toEqual(
      expect.arrayContaining(['empty_line', 'invalid_enum:channel', 'invalid_json', 'missing_required_field:subject']),
    );
    expect(items.map((i) => i.lineNumber)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("keeps a quarantined line's original bytes and line number", async () => {
    const { items } = await run(['{"id":"T-1"}\n', 'not json\r\n']);
    expect(items[1]).toEqual({
      kind: 'quarantined',
      lineNumber: 2,
      reason: 'invalid_json',
      rawBase64: Buffer.from('not json').toString('base64'),
      byteLength: 8,
    });
    expect(items[0]).toMatchObject({ kind: 'quarantined', reason: 'missing_required_field:created_at' });
  });

  it('quarantines an over-long line as record_too_large without keeping its bytes', async () => {
    const small = { ...spec, ingest: { ...spec.ingest, maxRecordBytes: 300 } };
    const ok = generateTicketLines({ date: '2024-03-01', count: 3, seed: 1, badLineFraction: 0 })
      .map((g) => g.line)
      .filter((l) => l.length < 300);
    const { items, counts, accounting } = await run([`${ok[0]}\n`, `{"body":"${'x'.repeat(5000)}"}\n`, `${ok[0]}`], small);
    expect(items.map((i) => i.kind)).toEqual(['accepted', 'quarantined', 'accepted']);
    expect(items[1]).toMatchObject({ reason: 'record_too_large', rawBase64: '', lineNumber: 2 });
    expect(counts).toEqual({ recordsIn: 3, accepted: 2, quarantined: 1, byReason: { record_too_large: 1 } });
    expect(accounting.quarantineRate).toBeCloseTo(1 / 3);
  });
});
