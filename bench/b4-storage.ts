/**
 * Issue 4's storage benchmarks, all on the chunked version store (src/datasets/version-store.ts) over an
 * in-memory blob store, so they measure bytes and CPU, not a disk:
 *   B4  new bytes stored for a version with 1 % of rows inserted mid-file and 1 % deleted elsewhere ÷ that
 *       version's size (target ≤ 0.10), beside a whole-file copy scheme measured the same way (= 1.0);
 *   B5  30 nightly versions of a sliding window (a new day of ~1 % in, the oldest day out, 0.1 % of rows
 *       relabeled in place): total bytes stored ÷ (first version + bytes of the appended and edited rows), ≤ 1.3;
 *   B6  content-defined chunking throughput ÷ SHA-256 throughput over the same serialized rows, ≥ 0.5.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../src/ingest/line-framing';
import { HASH_COLUMN, writeRecordsParquet } from '../src/datasets/parquet';
import { generateTickets } from '../src/samples/tickets/generate';
import { chunkSizes, findBoundaries } from '../src/datasets/cdc';
import { rowOrder, versionIdV3, writeVersion, type ManifestV3, type Row } from '../src/datasets/version-store';
import type { DatasetSpec } from '../src/shared/spec';
import { MemoryBlobStore } from '../test/helpers/memory-blob-store';
import { benchSpec } from './b1-data-path';
import type { Bench } from './harness';

const MB = 1024 * 1024;
const QUEUES = ['billing', 'technical', 'account', 'shipping'];

/** Labeled, contract-clean ticket rows of one day, in row order (the sample generator's bad lines left out). */
function dayRows(spec: DatasetSpec, date: string, count: number, seed: number): Row[] {
  const rows: Row[] = [];
  for (const line of generateTickets({ date, count, seed })) {
    let r: Row;
    try {
      r = JSON.parse(line) as Row;
    } catch {
      continue;
    }
    if (typeof r.id !== 'string' || typeof r.created_at !== 'string' || Number.isNaN(Date.parse(r.created_at))) continue;
    if (!['email', 'chat', 'phone', 'web'].includes(r.channel as string) || typeof r.body !== 'string' || typeof r.subject !== 'string')
      continue;
    const clean: Row = { id: r.id, created_at: r.created_at, channel: r.channel, subject: r.subject, body: r.body };
    clean.queue = typeof r.queue === 'string' && QUEUES.includes(r.queue) ? r.queue : QUEUES[rows.length % 4];
    clean[HASH_COLUMN] = createHash('sha256').update(`${date}/${r.id}/${rows.length}`).digest('hex');
    rows.push(clean);
  }
  return rows.sort(rowOrder(spec, HASH_COLUMN));
}

/** Bytes of every object in the store. */
function storeBytes(blobs: MemoryBlobStore): number {
  return blobs.totalBytes();
}

async function version(
  blobs: MemoryBlobStore,
  spec: DatasetSpec,
  partitions: Array<[string, Row[]]>,
  previous?: ManifestV3,
): Promise<{ manifest: ManifestV3; bytes: number }> {
  const r = await writeVersion({
    blobs,
    spec,
    dataset: 'bench',
    specHash: 'bench',
    logicalDate: partitions[partitions.length - 1]![0],
    previous,
    partitions: partitions.map(([partition, rows]) => ({ partition, rows: () => rows })),
  });
  const manifest: ManifestV3 = { ...r.manifest, versionId: versionIdV3(r.manifest) };
  const body = JSON.stringify(manifest);
  await blobs.put(`datasets/bench/manifests/${manifest.versionId}.json`, body);
  return { manifest, bytes: r.written.bytes + body.length };
}

const versionBytes = (m: ManifestV3): number => m.chunks.reduce((a, c) => a + c.bytes, 0) + m.delta.reduce((a, d) => a + d.bytes, 0);

export const b4: Bench = {
  id: 'B4',
  name: 'new_bytes_ratio',
  op: '<=',
  target: 0.1,
  async run() {
    const spec = benchSpec();
    const target = Number(process.env.B4_MB ?? 100) * MB;
    // One partition of ~target serialized bytes.
    const rows: Row[] = [];
    let bytes = 0;
    for (let day = 0; bytes < target; day++) {
      for (const r of dayRows(spec, `2026-01-${String((day % 28) + 1).padStart(2, '0')}`, 20_000, 500 + day)) {
        rows.push(r);
        bytes += canonicalJson(r).length + 1;
      }
    }
    rows.sort(rowOrder(spec, HASH_COLUMN));
    const blobs = new MemoryBlobStore();
    // 1 % inserted in one block mid-file, 1 % deleted in one block elsewhere.
    const n = rows.length;
    const onePct = Math.round(n / 100);
    const at = rows[Math.floor(n / 2)]!.created_at as string;
    const inserted = dayRows(spec, '2026-03-01', onePct * 2, 99).slice(0, onePct);
    for (const [i, r] of inserted.entries()) r.created_at = new Date(Date.parse(at) + i).toISOString();
    const next = [...rows.slice(0, Math.floor(n / 5)), ...rows.slice(Math.floor(n / 5) + onePct), ...inserted].sort(
      rowOrder(spec, HASH_COLUMN),
    );
    const v1 = await version(blobs, spec, [['2026-02-01', rows]]);
    const before = storeBytes(blobs);
    const v2 = await version(blobs, spec, [['2026-02-01', next]], v1.manifest);
    const chunked = (storeBytes(blobs) - before) / versionBytes(v2.manifest);

    // The whole-file scheme: each version one content-addressed Parquet object of all its rows.
    const whole = new MemoryBlobStore();
    const put = async (rs: Row[]): Promise<number> => {
      const body = writeRecordsParquet(
        rs.map((r) => {
          const { [HASH_COLUMN]: h, ...record } = r;
          return { record, hash: String(h) };
        }),
        spec,
      );
      await whole.putIfAbsent(`objects/${createHash('sha256').update(body).digest('hex')}`, body);
      return body.length;
    };
    await put(rows);
    const wholeBefore = storeBytes(whole);
    const nextSize = await put(next);
    const wholeRatio = (storeBytes(whole) - wholeBefore) / nextSize;
    console.error(
      `  B4 ${(bytes / MB).toFixed(0)} MiB serialized, ${n} rows, ${v2.manifest.chunks.length} chunks; new bytes ${((storeBytes(blobs) - before) / MB).toFixed(2)} MiB of ${(versionBytes(v2.manifest) / MB).toFixed(1)} MiB stored; whole-file copy ratio ${wholeRatio.toFixed(3)}`,
    );
    return chunked;
  },
};

export const b5: Bench = {
  id: 'B5',
  name: 'sliding_window_storage_ratio',
  op: '<=',
  target: 1.3,
  async run() {
    const spec = benchSpec();
    const days = Number(process.env.B5_DAYS ?? 100);
    const perDay = Number(process.env.B5_ROWS_PER_DAY ?? 400);
    const versions = Number(process.env.B5_VERSIONS ?? 30);
    const date = (i: number): string => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const window = new Map<string, Row[]>();
    for (let d = 0; d < days; d++) window.set(date(d), dayRows(spec, date(d), perDay, d));
    const blobs = new MemoryBlobStore();
    const first = await version(blobs, spec, [...window.entries()]);
    const firstBytes = storeBytes(blobs);
    const totalRows = [...window.values()].reduce((a, r) => a + r.length, 0);
    const bytesPerRow = versionBytes(first.manifest) / totalRows;
    let previous = first.manifest;
    let changedRows = 0;
    let seed = 1;
    for (let v = 1; v < versions; v++) {
      window.delete(date(v - 1));
      const fresh = dayRows(spec, date(days + v - 1), perDay, 10_000 + v);
      window.set(date(days + v - 1), fresh);
      changedRows += fresh.length;
      // 0.1 % of the window's rows relabeled in place, spread over every day.
      const all = [...window.values()];
      const edits = Math.max(1, Math.round(totalRows / 1000));
      for (let e = 0; e < edits; e++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const day = all[seed % all.length]!;
        const i = (seed >> 8) % day.length;
        const r = day[i]!;
        day[i] = { ...r, queue: QUEUES[(QUEUES.indexOf(r.queue as string) + 1) % 4] };
      }
      changedRows += edits;
      previous = (await version(blobs, spec, [...window.entries()], previous)).manifest;
    }
    const total = storeBytes(blobs);
    const denominator = firstBytes + changedRows * bytesPerRow;
    console.error(
      `  B5 ${versions} versions of ${days} days × ${perDay} rows: stored ${(total / MB).toFixed(2)} MiB; first version ${(firstBytes / MB).toFixed(2)} MiB + ${changedRows} appended/edited rows ≈ ${((changedRows * bytesPerRow) / MB).toFixed(2)} MiB; last version: ${previous.chunks.length} chunks, ${previous.delta.length} delta segments`,
    );
    return total / denominator;
  },
};

export const b6: Bench = {
  id: 'B6',
  name: 'chunking_throughput_ratio',
  op: '>=',
  target: 0.5,
  run() {
    const spec = benchSpec();
    const lines: string[] = [];
    let size = 0;
    for (let day = 0; size < Number(process.env.B6_MB ?? 64) * MB; day++) {
      for (const r of dayRows(spec, '2026-01-01', 20_000, day)) {
        const l = `${canonicalJson(r)}\n`;
        lines.push(l);
        size += l.length;
      }
    }
    const buf = Buffer.from(lines.join(''));
    const sizes = chunkSizes(spec.version.chunkBytes);
    const ratios: number[] = [];
    let cuts = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      createHash('sha256').update(buf).digest();
      const t1 = process.hrtime.bigint();
      cuts = findBoundaries(buf, sizes).length;
      const t2 = process.hrtime.bigint();
      ratios.push(Number(t1 - t0) / Number(t2 - t1));
      console.error(
        `  B6 round ${i + 1}: SHA-256 ${((buf.length / MB) * (1e9 / Number(t1 - t0))).toFixed(0)} MB/s, chunking ${((buf.length / MB) * (1e9 / Number(t2 - t1))).toFixed(0)} MB/s`,
      );
    }
    console.error(`  B6 ${(buf.length / MB).toFixed(0)} MiB, ${cuts} chunks (avg ${(buf.length / cuts / 1024).toFixed(0)} KiB)`);
    ratios.sort((a, b) => a - b);
    return ratios[Math.floor(ratios.length / 2)]!;
  },
};
