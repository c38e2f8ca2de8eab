/**
 * Dataset versions stored as content-defined chunks shared across versions, with a merge-on-read layer.
 *
 * A version is the rows of its window's partitions, partition by partition, each partition's rows in
 * (time, id, key) order. The **base** is those rows cut into chunks by content (src/datasets/cdc.ts) and
 * written as Parquet, one object per chunk, addressed by the SHA-256 of its bytes and shared by every version
 * that holds the same rows. Rows edited in place (a relabel) and scattered deletions do not rewrite chunks:
 * they go to **delta segments** (upserts and tombstones keyed by the row's key), one small segment per
 * version, applied on read; once the held-aside rows pass `version.compactAt` of the version, the base is
 * rewritten with them applied and the delta starts empty (what Delta Lake and Iceberg call compaction).
 * Inserted rows and runs of deleted rows change the base itself: content-defined boundaries keep that local.
 * Reading a version gives the same rows whichever layout stores them.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { canonicalJson } from '../ingest/line-framing';
import { EXTRA_COLUMN, HASH_COLUMN, writeRecordsParquet } from './parquet';
import { parquetValueToJson } from '../ingest/readers';
import type { DatasetSpec } from '../shared/spec';
import type { BlobStore } from '../storage/blob-store';
import { RowChunker, chunkSizes } from './cdc';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** A stored row: the record, its label, and its content hash in HASH_COLUMN. */
export type Row = Record<string, unknown>;

/** One base chunk of a version. */
export interface ChunkRef {
  /** SHA-256 of the Parquet object's bytes (its address). */
  hash: string;
  /** SHA-256 of the chunk's rows as canonical JSON lines: how a rebuild recognizes a chunk it already has. */
  rowsDigest: string;
  partition: string;
  rows: number;
  /** Stored (Parquet) bytes. */
  bytes: number;
}

/** One delta segment: upserts and tombstones written by one version, gzipped JSON lines. */
export interface DeltaSegment {
  hash: string;
  upserts: number;
  tombstones: number;
  bytes: number;
}

/** A v3 manifest: immutable, content-addressed chunks plus delta segments. */
export interface ManifestV3 {
  format: 'trainset-manifest-v3';
  versionId: string;
  dataset: string;
  specHash: string;
  logicalDate: string;
  /** The field whose value identifies a row across versions (the record's content hash by default). */
  keyField: string;
  schema: DatasetSpec['schema']['fields'];
  partitions: Array<{ partition: string; rows: number }>;
  chunks: ChunkRef[];
  /** Oldest first; a later segment's entry for a key overrides an earlier one. */
  delta: DeltaSegment[];
  /** Logical rows (after the delta). */
  rows: number;
  /** SHA-256 over the logical rows in order: equal digests, equal versions. */
  contentDigest: string;
  labelDistribution: Record<string, number>;
  /** Anything the caller adds (statistics, drift, split sizes). */
  stats?: Record<string, unknown>;
}

/** Key of a base chunk object. */
export const chunkKey = (dataset: string, hash: string): string => `datasets/${dataset}/chunks/${hash}.parquet`;
/** Key of a delta segment object. */
export const deltaKey = (dataset: string, hash: string): string => `datasets/${dataset}/deltas/${hash}.jsonl.gz`;

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Decode a Parquet chunk written by writeRecordsParquet back into rows. */
export async function decodeParquetRows(buf: Buffer, spec: DatasetSpec): Promise<Row[]> {
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const nested = Object.entries(spec.schema.fields)
    .filter(([, f]) => f.type === 'list' || f.type === 'object')
    .map(([name]) => name);
  const rows = await parquetReadObjects({ file, compressors });
  return rows.map((raw) => {
    const row = parquetValueToJson(raw) as Row;
    // Nested values and kept unknown fields are stored as JSON text (see src/datasets/parquet.ts).
    for (const name of nested) if (typeof row[name] === 'string') row[name] = JSON.parse(row[name] as string);
    const extra = row[EXTRA_COLUMN];
    delete row[EXTRA_COLUMN];
    return typeof extra === 'string' ? { ...(JSON.parse(extra) as Row), ...row } : row;
  });
}

/** The rows of one base chunk (raw: the delta not applied). */
export async function readChunkRows(blobs: BlobStore, spec: DatasetSpec, dataset: string, hash: string): Promise<Row[]> {
  return decodeParquetRows(await blobs.get(chunkKey(dataset, hash)), spec);
}

/** A delta entry: the row that replaces the base row with this key, or a tombstone. */
type DeltaEntry = { row: Row } | { deleted: true };

/** Identity of a row inside a version: partition + key. */
const entryKey = (partition: string, key: string): string => `${partition}\n${key}`;

/** The delta of a manifest as one map, later segments winning. */
export async function loadDelta(blobs: BlobStore, manifest: Pick<ManifestV3, 'dataset' | 'delta'>): Promise<Map<string, DeltaEntry>> {
  const map = new Map<string, DeltaEntry>();
  for (const seg of manifest.delta) {
    const text = (await gunzipAsync(await blobs.get(deltaKey(manifest.dataset, seg.hash)))).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      const e = JSON.parse(line) as { p: string; k: string; r?: Row; d?: 1 };
      map.set(entryKey(e.p, e.k), e.d ? { deleted: true } : { row: e.r as Row });
    }
  }
  return map;
}

/** Row order inside a partition: time, then id, then key; all compared as strings of fixed meaning. */
export function rowOrder(spec: DatasetSpec, keyField: string): (a: Row, b: Row) => number {
  const { timeField, idField } = spec.schema;
  const t = (r: Row): number => {
    const v = r[timeField];
    const ms = typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : Number.NaN;
    return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
  };
  const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
  return (a, b) => {
    const dt = t(a) - t(b);
    if (dt !== 0 && !Number.isNaN(dt)) return dt < 0 ? -1 : 1;
    const ia = s(a[idField]);
    const ib = s(b[idField]);
    if (ia !== ib) return ia < ib ? -1 : 1;
    const ka = s(a[keyField]);
    const kb = s(b[keyField]);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

/**
 * The logical rows of a v3 version, in order: base chunks with the delta applied. Memory: one chunk and the
 * delta (bounded by `version.compactAt`).
 */
export async function* readVersionV3(blobs: BlobStore, spec: DatasetSpec, manifest: ManifestV3): AsyncGenerator<Row> {
  const delta = await loadDelta(blobs, manifest);
  for (const chunk of manifest.chunks) {
    for (const row of await readChunkRows(blobs, spec, manifest.dataset, chunk.hash)) {
      const e = delta.size === 0 ? undefined : delta.get(entryKey(chunk.partition, String(row[manifest.keyField])));
      if (!e) yield row;
      else if ('row' in e) yield e.row;
    }
  }
}

/** One partition of a version being written: its rows in `rowOrder`, readable more than once. */
export interface PartitionRows {
  partition: string;
  rows: () => AsyncIterable<Row> | Iterable<Row>;
  /**
   * The stored chunks of this partition in the version its rows come from (any earlier version, not only
   * `previous`): merged against and reused, so a window rebuilt from several versions writes only what changed.
   * Default: `previous`'s chunks of the partition.
   */
  base?: ChunkRef[];
}

/** What writing a version did. */
export interface WriteVersionResult {
  manifest: Omit<ManifestV3, 'versionId' | 'stats'>;
  /** New objects stored (chunks and delta segments) and their bytes. */
  written: { objects: number; bytes: number };
  /** Base chunks shared with earlier versions. */
  reusedChunks: number;
  compacted: boolean;
}

/** Options of writeVersion. */
export interface WriteVersionOptions {
  blobs: BlobStore;
  spec: DatasetSpec;
  dataset: string;
  specHash: string;
  logicalDate: string;
  /**
   * The version this one follows: its delta segments are carried into this one, and its chunks are the base of
   * every partition that names none; undefined for the first.
   */
  previous?: ManifestV3;
  /** The window's partitions in order. */
  partitions: PartitionRows[];
  /** Field identifying a row across versions; default the content-hash column. */
  keyField?: string;
  /**
   * Called with each chunk's address before it is written or reused, so a concurrent garbage collection
   * can see it is live (the registry marks it); awaited.
   */
  touch?(objects: Array<{ hash: string; size: number }>): Promise<void>;
  /** Called with each logical row once, in order (statistics, label counts). */
  onRow?(row: Row): void;
}

/** Deleted rows in a run at least this long change the base instead of going to the delta. */
const DELETE_RUN = 8;
/** At most this many delta segments; one more compacts. */
const MAX_SEGMENTS = 32;

/**
 * Write a version: base chunks (new ones only; the rest are earlier versions'), a delta segment for
 * this version's in-place edits and scattered deletions, and the manifest body (the caller names and stores
 * it). Idempotent: every object is content-addressed and written create-only.
 */
export async function writeVersion(opts: WriteVersionOptions): Promise<WriteVersionResult> {
  const { blobs, spec, dataset, previous } = opts;
  const keyField = opts.keyField ?? HASH_COLUMN;
  const order = rowOrder(spec, keyField);
  const sizes = chunkSizes(spec.version.chunkBytes);
  const keyOf = (r: Row): string => String(r[keyField]);
  const written = { objects: 0, bytes: 0 };
  let reusedChunks = 0;

  // Chunks a rebuild may reuse, by partition and rows: previous's and every partition's own base.
  const reuseKey = (partition: string, rowsDigest: string): string => `${partition}\n${rowsDigest}`;
  const known = new Map<string, ChunkRef>();
  for (const c of previous?.chunks ?? []) known.set(reuseKey(c.partition, c.rowsDigest), c);
  for (const part of opts.partitions) for (const c of part.base ?? []) known.set(reuseKey(c.partition, c.rowsDigest), c);
  const prevDelta = previous && previous.delta.length > 0 ? await loadDelta(blobs, previous) : new Map<string, DeltaEntry>();

  const content = createHash('sha256');
  const labelDistribution: Record<string, number> = {};
  const partitions: ManifestV3['partitions'] = [];
  let logicalRows = 0;
  const logical = (partition: string, row: Row): void => {
    content.update(partition).update('\0').update(canonicalJson(row)).update('\n');
    const l = row[spec.schema.labelField];
    if (l !== undefined && l !== null) labelDistribution[String(l)] = (labelDistribution[String(l)] ?? 0) + 1;
    logicalRows += 1;
    opts.onRow?.(row);
  };

  /** Chunk a partition's base rows: reuse chunks the previous version has, write the rest. */
  const chunkWriter = (partition: string) => {
    const chunker = new RowChunker(sizes);
    const out: ChunkRef[] = [];
    let rows: Row[] = [];
    let digest = createHash('sha256');
    const close = async (): Promise<void> => {
      if (rows.length === 0) return;
      const rowsDigest = digest.digest('hex');
      const reuse = known.get(reuseKey(partition, rowsDigest));
      if (reuse) {
        await opts.touch?.([{ hash: reuse.hash, size: reuse.bytes }]);
        out.push(reuse);
        reusedChunks += 1;
      } else {
        const body = writeRecordsParquet(
          rows.map((r) => {
            const { [HASH_COLUMN]: h, ...record } = r;
            return { record, hash: String(h ?? '') };
          }),
          spec,
        );
        const hash = sha256(body);
        await opts.touch?.([{ hash, size: body.length }]);
        if (await blobs.putIfAbsent(chunkKey(dataset, hash), body)) {
          written.objects += 1;
          written.bytes += body.length;
        }
        out.push({ hash, rowsDigest, partition, rows: rows.length, bytes: body.length });
      }
      rows = [];
      digest = createHash('sha256');
    };
    return {
      out,
      async push(row: Row): Promise<void> {
        const line = Buffer.from(`${canonicalJson(row)}\n`, 'utf8');
        digest.update(line);
        rows.push(row);
        if (chunker.push(line)) await close();
      },
      close,
    };
  };

  const baseChunksOf = (part: PartitionRows): ChunkRef[] =>
    (part.base ?? previous?.chunks ?? []).filter((c) => c.partition === part.partition);
  async function* baseRowsOf(part: PartitionRows): AsyncGenerator<Row> {
    for (const c of baseChunksOf(part)) yield* await readChunkRows(blobs, spec, dataset, c.hash);
  }

  // Pass 1: merge each partition's new rows with its base; new delta entries; new base chunks. The delta this
  // version carries is previous's, whatever each partition's base: a row whose effective value under it (base row,
  // then previous's entry for its key) differs from the new row gets an entry in this version's segment, so
  // entries previous holds for a partition now based on another version's chunks are overridden where they apply.
  const newEntries: Array<{ p: string; k: string; r?: Row; d?: 1 }> = [];
  let chunks: ChunkRef[] = [];
  for (const part of opts.partitions) {
    const p = part.partition;
    const writer = chunkWriter(p);
    const base = baseRowsOf(part)[Symbol.asyncIterator]();
    let b = await base.next();
    let pendingDeletes: Row[] = [];
    const flushDeletes = async (): Promise<void> => {
      if (pendingDeletes.length === 0) return;
      if (pendingDeletes.length < DELETE_RUN) {
        // Scattered deletions: the base rows stay, tombstones hide them.
        for (const row of pendingDeletes) {
          const before = prevDelta.get(entryKey(p, keyOf(row)));
          if (!(before && 'deleted' in before)) newEntries.push({ p, k: keyOf(row), d: 1 });
          await writer.push(row);
        }
      }
      // A run of deletions (an old day leaving the window, a purge) is dropped from the base itself.
      pendingDeletes = [];
    };
    let rowsInPartition = 0;
    for await (const r of part.rows()) {
      logical(p, r);
      rowsInPartition += 1;
      while (!b.done && order(b.value, r) < 0) {
        pendingDeletes.push(b.value);
        b = await base.next();
      }
      if (!b.done && order(b.value, r) === 0) {
        await flushDeletes();
        const baseRow = b.value;
        const before = prevDelta.get(entryKey(p, keyOf(baseRow)));
        const effective = !before ? baseRow : 'row' in before ? before.row : undefined;
        if (effective === undefined || canonicalJson(effective) !== canonicalJson(r)) newEntries.push({ p, k: keyOf(r), r });
        await writer.push(baseRow);
        b = await base.next();
      } else {
        await flushDeletes();
        // An insert; a stale delta entry under the same key must not apply to it.
        if (prevDelta.has(entryKey(p, keyOf(r)))) newEntries.push({ p, k: keyOf(r), r });
        await writer.push(r);
      }
    }
    while (!b.done) {
      pendingDeletes.push(b.value);
      b = await base.next();
    }
    await flushDeletes();
    await writer.close();
    chunks.push(...writer.out);
    partitions.push({ partition: p, rows: rowsInPartition });
  }

  let delta: DeltaSegment[] = [...(previous?.delta ?? [])];
  const held = prevDelta.size + newEntries.length;
  const compacted = held > 0 && (held > spec.version.compactAt * Math.max(1, logicalRows) || delta.length + 1 > MAX_SEGMENTS);
  if (compacted) {
    // Pass 2: rewrite the base with every change applied; the delta starts empty.
    chunks = [];
    delta = [];
    for (const part of opts.partitions) {
      const writer = chunkWriter(part.partition);
      for await (const r of part.rows()) await writer.push(r);
      await writer.close();
      chunks.push(...writer.out);
    }
  } else if (newEntries.length > 0) {
    const body = await gzipAsync(Buffer.from(newEntries.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8'), { level: 6 });
    const hash = sha256(body);
    await opts.touch?.([{ hash, size: body.length }]);
    if (await blobs.putIfAbsent(deltaKey(dataset, hash), body)) {
      written.objects += 1;
      written.bytes += body.length;
    }
    delta.push({
      hash,
      upserts: newEntries.filter((e) => e.r).length,
      tombstones: newEntries.filter((e) => e.d).length,
      bytes: body.length,
    });
  }
  // Segments whose partitions all left the window would only be skipped on read: drop them.
  const live = new Set(partitions.map((p) => p.partition));
  if (delta.length > 0 && !compacted) delta = await dropDeadSegments(blobs, dataset, delta, live);

  return {
    manifest: {
      format: 'trainset-manifest-v3',
      dataset,
      specHash: opts.specHash,
      logicalDate: opts.logicalDate,
      keyField,
      schema: spec.schema.fields,
      partitions,
      chunks,
      delta,
      rows: logicalRows,
      contentDigest: content.digest('hex'),
      labelDistribution,
    },
    written,
    reusedChunks,
    compacted,
  };
}

async function dropDeadSegments(blobs: BlobStore, dataset: string, delta: DeltaSegment[], live: Set<string>): Promise<DeltaSegment[]> {
  const kept: DeltaSegment[] = [];
  for (const seg of delta) {
    const text = (await gunzipAsync(await blobs.get(deltaKey(dataset, seg.hash)))).toString('utf8');
    const alive = text.split('\n').some((line) => line.length > 0 && live.has((JSON.parse(line) as { p: string }).p));
    if (alive) kept.push(seg);
  }
  return kept;
}

/** Version id of a v3 manifest: the spec, the logical date and the logical content, not the layout. */
export function versionIdV3(m: Pick<ManifestV3, 'specHash' | 'logicalDate' | 'contentDigest' | 'partitions'>): string {
  const h = createHash('sha256').update('v3\0').update(m.specHash).update('\0').update(m.logicalDate).update('\0').update(m.contentDigest);
  for (const p of m.partitions) h.update('\0').update(p.partition);
  return `dv-${h.digest('hex').slice(0, 32)}`;
}

/** Every object a v3 manifest references (for verify and garbage collection). */
export function manifestObjects(m: ManifestV3): Array<{ key: string; hash: string; bytes: number }> {
  return [
    ...m.chunks.map((c) => ({ key: chunkKey(m.dataset, c.hash), hash: c.hash, bytes: c.bytes })),
    ...m.delta.map((d) => ({ key: deltaKey(m.dataset, d.hash), hash: d.hash, bytes: d.bytes })),
  ];
}
