import { describe, expect, it } from 'vitest';
import { diffRows, type Row } from '../../src/datasets/version-diff';

const queues = ['billing', 'technical', 'account', 'shipping'];

function version(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `T-${String(i).padStart(4, '0')}`,
    created_at: new Date(Date.UTC(2024, 2, 1) + i * 60_000).toISOString(),
    subject: `ticket ${i}`,
    tags: [i % 2 === 0 ? 'even' : 'odd'],
    queue: queues[i % 4],
  }));
}

async function* streamed(rows: Row[]): AsyncGenerator<Row> {
  for (const row of rows) yield row;
}

describe('diffRows', () => {
  it('reports relabeled rows as changed in the queue field', async () => {
    const a = version(20);
    const b = a.map((r, i) => (i === 3 || i === 11 ? { ...r, queue: 'account' === r.queue ? 'billing' : 'account' } : r));
    const diff = await diffRows(a, streamed(b), { keyField: 'id' });
    expect(diff).toEqual({
      added: 0,
      removed: 0,
      changed: 2,
      unchanged: 18,
      duplicateKeys: { a: 0, b: 0 },
      missingKeys: { a: 0, b: 0 },
      samples: { added: [], removed: [], changed: ['T-0003', 'T-0011'], duplicate: [] },
      changedFields: { queue: 2 },
    });
  });

  it('counts inserted and deleted rows and samples their keys', async () => {
    const all = version(30);
    const a = all.slice(0, 25);
    const b = [...all.slice(5, 30)].reverse();
    const diff = await diffRows(streamed(a), b, { keyField: 'id', sampleLimit: 3 });
    expect(diff).toMatchObject({ added: 5, removed: 5, changed: 0, unchanged: 20 });
    expect(diff.samples.added).toEqual(['T-0025', 'T-0026', 'T-0027']);
    expect(diff.samples.removed).toEqual(['T-0000', 'T-0001', 'T-0002']);
    expect(diff.changedFields).toEqual({});
  });

  it('ignores key order in rows and the fields it is told to ignore', async () => {
    const a = [{ id: 'x', queue: 'billing', meta: { p: 1, q: [1, 2] }, loaded_at: '2024-01-01' }];
    const b = [{ loaded_at: '2024-06-01', meta: { q: [1, 2], p: 1 }, queue: 'billing', id: 'x' }];
    expect(await diffRows(a, b, { keyField: 'id' })).toMatchObject({ changed: 1, changedFields: { loaded_at: 1 } });
    expect(await diffRows(a, b, { keyField: 'id', ignoreFields: ['loaded_at'] })).toMatchObject({ changed: 0, unchanged: 1 });
  });

  it('counts added, dropped and edited fields separately', async () => {
    const a = [
      { id: 1, queue: 'billing', subject: 's', body: 'b' },
      { id: 2, queue: 'billing', subject: 's' },
    ];
    const b = [
      { id: '1', queue: 'billing', subject: 'S', channel: 'web' },
      { id: 2, queue: 'billing', subject: 's', body: undefined },
    ];
    const diff = await diffRows(a, b, { keyField: 'id' });
    // 1 and "1" are one key; an undefined field is an absent one, as in JSON.
    expect(diff).toMatchObject({ changed: 1, unchanged: 1, samples: { changed: ['1'] } });
    expect(diff.changedFields).toEqual({ body: 1, channel: 1, subject: 1 });
    expect(Object.keys(diff.changedFields)).toEqual(['body', 'channel', 'subject']);
  });

  it('counts duplicate and missing keys on either side without failing', async () => {
    const [r0, r1, r2] = version(3) as [Row, Row, Row];
    const a = [r0, { ...r0, queue: 'other' }, r1, { ...r1, id: undefined }, { ...r1, id: '' }];
    const b = [r0, { ...r0, queue: 'other' }, { ...r2, queue: 'x' }, { ...r2 }, { ...r2, id: null }, { ...r2, id: { nested: true } }];
    const diff = await diffRows(a, b, { keyField: 'id' });
    // First row per key wins: r0 matches r0, r1 is removed, r2 is added once.
    expect(diff).toEqual({
      added: 1,
      removed: 1,
      changed: 0,
      unchanged: 1,
      duplicateKeys: { a: 1, b: 2 },
      missingKeys: { a: 2, b: 2 },
      samples: { added: ['T-0002'], removed: ['T-0001'], changed: [], duplicate: ['T-0000', 'T-0002'] },
      changedFields: {},
    });
  });

  it('handles empty sides', async () => {
    const rows = version(4);
    expect(await diffRows([], [], { keyField: 'id' })).toMatchObject({ added: 0, removed: 0, changed: 0, unchanged: 0 });
    expect(await diffRows([], streamed(rows), { keyField: 'id' })).toMatchObject({ added: 4, removed: 0 });
    expect(await diffRows(rows, [], { keyField: 'id', sampleLimit: 0 })).toMatchObject({
      removed: 4,
      added: 0,
      samples: { removed: [] },
    });
  });

  it('keeps the smallest keys as samples whatever the row order', async () => {
    const a = version(200);
    const b = a.map((r) => ({ ...r, queue: 'billing' }));
    const forward = await diffRows(a, b, { keyField: 'id', sampleLimit: 4 });
    const backward = await diffRows([...a].reverse(), [...b].reverse(), { keyField: 'id', sampleLimit: 4 });
    expect(forward).toEqual(backward);
    expect(forward.changed).toBe(150);
    expect(forward.samples.changed).toEqual(['T-0001', 'T-0002', 'T-0003', 'T-0005']);
    expect(forward.changedFields).toEqual({ queue: 150 });
  });

  it('rejects a negative or fractional sampleLimit', async () => {
    await expect(diffRows([], [], { keyField: 'id', sampleLimit: -1 })).rejects.toThrow(/sampleLimit must be a non-negative integer/);
    await expect(diffRows([], [], { keyField: 'id', sampleLimit: 1.5 })).rejects.toThrow(RangeError);
  });
});
