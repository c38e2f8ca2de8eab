/** Chunked dataset versions: reading gives the written rows whatever the layout; storage grows with change. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../../src/ingest/line-framing';
import { HASH_COLUMN } from '../../src/datasets/parquet';
import { chunkSizes, findBoundaries, RowChunker } from '../../src/datasets/cdc';
import {
  readVersionV3,
  rowOrder,
  versionIdV3,
  writeVersion,
  type ChunkRef,
  type ManifestV3,
  type Row,
  type WriteVersionOptions,
} from '../../src/datasets/version-store';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { MemoryBlobStore } from '../helpers/memory-blob-store';

const base = parseDatasetSpec(parseYaml(readFileSync(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')));
const spec: DatasetSpec = { ...base, version: { ...base.version, chunkBytes: 8 * 1024, compactAt: 0.05 } };
const QUEUES = ['billing', 'technical', 'account', 'shipping'];

/** n tickets of one day, in row order; ids and hashes from `from`. */
function tickets(day: string, n: number, from = 0): Row[] {
  const rows: Row[] = [];
  for (let i = from; i < from + n; i++) {
    const t = new Date(Date.parse(`${day}T00:00:00.000Z`) + i * 1000).toISOString();
    rows.push({
      id: `T-${day}-${i}`,
      created_at: t,
      channel: ['email', 'chat', 'phone', 'web'][i % 4],
      subject: `subject ${i}`,
      body: `body of ticket ${i} ${'lorem ipsum '.repeat(i % 7)}`,
      queue: QUEUES[i % 4],
      [HASH_COLUMN]: `h-${day}-${String(i).padStart(6, '0')}`,
    });
  }
  return rows.sort(rowOrder(spec, HASH_COLUMN));
}

async function write(
  blobs: MemoryBlobStore,
  partitions: Array<[string, Row[]] | [string, Row[], ChunkRef[]]>,
  previous?: ManifestV3,
): Promise<{ manifest: ManifestV3; written: { objects: number; bytes: number }; reused: number; compacted: boolean }> {
  const opts: WriteVersionOptions = {
    blobs,
    spec,
    dataset: 'tickets',
    specHash: 'spec-1',
    logicalDate: partitions[partitions.length - 1]![0],
    previous,
    partitions: partitions.map(([partition, rows, base]) => ({ partition, rows: () => rows, ...(base ? { base } : {}) })),
  };
  const r = await writeVersion(opts);
  return {
    manifest: { ...r.manifest, versionId: versionIdV3(r.manifest) },
    written: r.written,
    reused: r.reusedChunks,
    compacted: r.compacted,
  };
}

async function readAll(blobs: MemoryBlobStore, m: ManifestV3): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readVersionV3(blobs, spec, m)) out.push(canonicalJson(r));
  return out;
}
const canon = (rows: Row[]): string[] => rows.map((r) => canonicalJson(r));
const storedBytes = (m: ManifestV3): number => m.chunks.reduce((a, c) => a + c.bytes, 0);

describe('content-defined chunking', () => {
  it('cuts at row ends only, the same way row by row and over a buffer, and keeps boundaries after a local insert', () => {
    const lines = tickets('2026-01-01', 3000).map((r) => `${canonicalJson(r)}\n`);
    const buf = Buffer.from(lines.join(''));
    const sizes = chunkSizes(8 * 1024);
    const cuts = findBoundaries(buf, sizes);
    for (const c of cuts) expect(buf[c - 1]).toBe(10);
    const chunker = new RowChunker(sizes);
    const rowCuts: number[] = [];
    let pos = 0;
    for (const l of lines) {
      pos += Buffer.byteLength(l);
      if (chunker.push(Buffer.from(l))) rowCuts.push(pos);
    }
    if (rowCuts[rowCuts.length - 1] !== buf.length) rowCuts.push(buf.length);
    expect(rowCuts).toEqual(cuts);
    expect(cuts.length).toBeGreaterThan(buf.length / sizes.max);
    // Insert rows in the middle: every boundary before the insert stays, and they re-synchronize after it.
    const inserted = [
      ...lines.slice(0, 1500),
      ...tickets('2026-01-01', 20, 90_000).map((r) => `${canonicalJson(r)}\n`),
      ...lines.slice(1500),
    ];
    const buf2 = Buffer.from(inserted.join(''));
    const cuts2 = findBoundaries(buf2, sizes);
    const shift = buf2.length - buf.length;
    const before = cuts.filter((c) => c < buf.length / 3);
    expect(cuts2.slice(0, before.length)).toEqual(before);
    const after = new Set(cuts.filter((c) => c > (buf.length * 2) / 3).map((c) => c + shift));
    expect(cuts2.filter((c) => after.has(c)).length).toBeGreaterThan(after.size * 0.9);
  });
});

describe('chunked versions', () => {
  it('reads back exactly the rows written; an identical rewrite stores nothing and gets the same id', async () => {
    const blobs = new MemoryBlobStore();
    const day1 = tickets('2026-01-01', 2000);
    const v1 = await write(blobs, [['2026-01-01', day1]]);
    expect(await readAll(blobs, v1.manifest)).toEqual(canon(day1));
    expect(v1.manifest.chunks.length).toBeGreaterThan(10);
    expect(v1.manifest.rows).toBe(2000);
    const again = await write(blobs, [['2026-01-01', day1]], v1.manifest);
    expect(again.written).toEqual({ objects: 0, bytes: 0 });
    expect(again.manifest.versionId).toBe(v1.manifest.versionId);
  });

  it('stores about the change for 1 % inserted mid-file and 1 % deleted elsewhere', async () => {
    const blobs = new MemoryBlobStore();
    const rows = tickets('2026-01-01', 5000);
    const v1 = await write(blobs, [['2026-01-01', rows]]);
    const next = [...rows.slice(0, 1000), ...rows.slice(1050)];
    // 50 new rows whose times fall in the middle of the day.
    const mid = tickets('2026-01-01', 50, 10_000).map((r, i) => ({
      ...r,
      created_at: new Date(Date.parse(rows[3000]!.created_at as string) + i).toISOString(),
    }));
    const v2rows = [...next, ...mid].sort(rowOrder(spec, HASH_COLUMN));
    const v2 = await write(blobs, [['2026-01-01', v2rows]], v1.manifest);
    expect(await readAll(blobs, v2.manifest)).toEqual(canon(v2rows));
    expect(v2.manifest.delta).toEqual([]); // a run of deletions and an insert change the base itself
    const ratio = v2.written.bytes / storedBytes(v2.manifest);
    expect(ratio).toBeLessThan(0.15);
    expect(v2.reused).toBeGreaterThan(v2.manifest.chunks.length * 0.7);
  });

  it('relabels and scattered deletions go to a delta segment over shared chunks, and read back applied', async () => {
    const blobs = new MemoryBlobStore();
    const rows = tickets('2026-01-01', 4000);
    const v1 = await write(blobs, [['2026-01-01', rows]]);
    // Relabel every 200th row (0.5 %), delete 3 scattered rows.
    const deleted = new Set([17, 1800, 3999]);
    const edited = rows
      .map((r, i) => (i % 200 === 5 ? { ...r, queue: r.queue === 'billing' ? 'technical' : 'billing' } : r))
      .filter((_, i) => !deleted.has(i));
    const v2 = await write(blobs, [['2026-01-01', edited]], v1.manifest);
    expect(v2.reused).toBe(v1.manifest.chunks.length);
    expect(v2.manifest.chunks).toEqual(v1.manifest.chunks);
    expect(v2.manifest.delta).toHaveLength(1);
    expect(v2.manifest.delta[0]).toMatchObject({ upserts: 20, tombstones: 3 });
    expect(await readAll(blobs, v2.manifest)).toEqual(canon(edited));
    expect(v2.written.bytes).toBeLessThan(storedBytes(v1.manifest) * 0.05);

    // The same logical rows written from scratch: same version id, same rows, a different layout.
    const fresh = await write(new MemoryBlobStore(), [['2026-01-01', edited]]);
    expect(fresh.manifest.versionId).toBe(v2.manifest.versionId);
    expect(fresh.manifest.delta).toEqual([]);

    // A further edit reverting one relabel and deleting a row that was relabeled.
    const v3rows = edited.map((r, i) => (i === 5 ? rows[5]! : r)).filter((_, i) => i !== 205);
    const v3 = await write(blobs, [['2026-01-01', v3rows]], v2.manifest);
    expect(v3.manifest.delta).toHaveLength(2);
    expect(await readAll(blobs, v3.manifest)).toEqual(canon(v3rows));
  });

  it('compacts once held-aside rows pass compactAt: the delta empties and the rows stay the same', async () => {
    const blobs = new MemoryBlobStore();
    const rows = tickets('2026-01-01', 2000);
    const v1 = await write(blobs, [['2026-01-01', rows]]);
    const edited = rows.map((r, i) => (i % 8 === 0 ? { ...r, queue: r.queue === 'account' ? 'billing' : 'account' } : r)); // 12.5 % > 5 %
    const v2 = await write(blobs, [['2026-01-01', edited]], v1.manifest);
    expect(v2.compacted).toBe(true);
    expect(v2.manifest.delta).toEqual([]);
    expect(await readAll(blobs, v2.manifest)).toEqual(canon(edited));
  });

  it('slides a window: the oldest partition leaves, a new one arrives; only the new day is written', async () => {
    const blobs = new MemoryBlobStore();
    const days = ['2026-01-01', '2026-01-02', '2026-01-03'].map((d) => [d, tickets(d, 800)] as [string, Row[]]);
    const v1 = await write(blobs, days.slice(0, 2));
    const v2 = await write(blobs, days.slice(1, 3), v1.manifest);
    expect(v2.manifest.partitions.map((p) => p.partition)).toEqual(['2026-01-02', '2026-01-03']);
    expect(await readAll(blobs, v2.manifest)).toEqual(canon([...days[1]![1], ...days[2]![1]]));
    const day3 = v2.manifest.chunks.filter((c) => c.partition === '2026-01-03').reduce((a, c) => a + c.bytes, 0);
    expect(v2.written.bytes).toBe(day3);
  });

  it("a window rebuilt from several versions reuses each partition's chunks and reads back right under the carried delta", async () => {
    const blobs = new MemoryBlobStore();
    const [d1, d2, d3] = ['2026-01-01', '2026-01-02', '2026-01-03'];
    const rows1 = tickets(d1!, 800);
    const rows2 = tickets(d2!, 800);
    const relabel = (rows: Row[], every: number): Row[] =>
      rows.map((r, i) => (i % every === 3 ? { ...r, queue: r.queue === 'billing' ? 'shipping' : 'billing' } : r));
    const x = await write(blobs, [
      [d1!, rows1],
      [d2!, rows2],
    ]);
    // y relabels part of day 2 (a delta over x's chunks); p relabels part of day 1 and does not hold day 2.
    const y = await write(blobs, [[d2!, relabel(rows2, 200)]], x.manifest);
    const p = await write(blobs, [[d1!, relabel(rows1, 100)]], x.manifest);
    expect(y.manifest.delta).toHaveLength(1);
    expect(p.manifest.delta).toHaveLength(1);

    // The window takes day 1 from x (unrelabeled), day 2 from y, and carries p's delta (stale for day 1).
    const chunksOf = (m: ManifestV3, d: string): ChunkRef[] => m.chunks.filter((c) => c.partition === d);
    const rows3 = tickets(d3!, 800);
    const c = await write(
      blobs,
      [
        [d1!, rows1, chunksOf(x.manifest, d1!)],
        [d2!, relabel(rows2, 200), chunksOf(y.manifest, d2!)],
        [d3!, rows3, []],
      ],
      p.manifest,
    );
    expect(await readAll(blobs, c.manifest)).toEqual(canon([...rows1, ...relabel(rows2, 200), ...rows3]));
    // Day 1 and day 2 keep their chunks (y's day 2 is x's: its relabels were a delta); only day 3 and a segment are new.
    expect(chunksOf(c.manifest, d1!)).toEqual(chunksOf(x.manifest, d1!));
    expect(chunksOf(c.manifest, d2!)).toEqual(chunksOf(y.manifest, d2!));
    expect(c.reused).toBe(x.manifest.chunks.length);
    const day3 = chunksOf(c.manifest, d3!).reduce((a, k) => a + k.bytes, 0);
    expect(c.written.bytes).toBe(day3 + c.manifest.delta[1]!.bytes);
    // The new segment overrides p's stale day-1 entries (8) and restates y's day-2 relabels (4), nothing else.
    expect(c.manifest.delta.map((d) => d.hash)).toEqual([p.manifest.delta[0]!.hash, c.manifest.delta[1]!.hash]);
    expect(c.manifest.delta[1]).toMatchObject({ upserts: 8 + 4, tombstones: 0 });
  });
});
