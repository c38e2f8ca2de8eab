/** Dataset version manifests and reading a version's records back (used by quality, training, evaluation, canary). */
import { computeStats, type VersionStats } from '../quality/stats';
import { createHash } from 'node:crypto';
import { HASH_COLUMN } from './parquet';
import { decodeParquetRows, readVersionV3, type ManifestV3 } from './version-store';
import { splitByTime, type TimeSplit } from '../quality/split';
import type { BlobStore } from '../storage/blob-store';
import type { DatasetSpec } from '../shared/spec';
import { lineageOf } from '../ingest/feedback-lineage';

/** Field added to each stored row: the record's normalized content hash (labels and dedupe key by it). */
export const HASH_FIELD = HASH_COLUMN;

/** One partition's content-addressed object in a version. */
export interface ManifestPartition {
  partition: string;
  object: string;
  rows: number;
  bytes: number;
}

/**
 * An immutable dataset version manifest. Its id is a hash of the spec and the objects, nothing else.
 * v2 objects are Parquet (`objects/<sha256>.parquet`); v1 objects were JSONL (`objects/<sha256>`).
 */
export interface Manifest {
  format: 'trainset-manifest-v1' | 'trainset-manifest-v2';
  versionId: string;
  dataset: string;
  specHash: string;
  logicalDate: string;
  partitions: ManifestPartition[];
  rows: number;
  labelDistribution: Record<string, number>;
}

/** Production records of a version (or of one of its partitions): how many, and which model versions served them. */
export interface ProductionLineage {
  /** Rows that came from the gateway's feedback capture. */
  records: number;
  /** `<model>@<model version>` → rows it served. */
  servedBy: Record<string, number>;
}

/** What a manifest records of its rows' origin: production records in all and per partition. */
export interface ManifestLineage {
  production: ProductionLineage;
  byPartition: Record<string, ProductionLineage>;
}

/** The production lineage of rows: those carrying a feedback lineage (src/ingest/feedback-lineage.ts), by serving model version. */
export function productionLineage(rows: Iterable<Readonly<Record<string, unknown>>>): ProductionLineage {
  const out: ProductionLineage = { records: 0, servedBy: {} };
  for (const row of rows) {
    const l = lineageOf(row);
    if (l === undefined) continue;
    out.records += 1;
    const k = `${l.model}@${l.modelVersion}`;
    out.servedBy[k] = (out.servedBy[k] ?? 0) + 1;
  }
  return out;
}

/** A manifest's lineage from each partition's (partitions without production rows are left out). */
export function manifestLineageOf(byPartition: Record<string, ProductionLineage>): ManifestLineage {
  const production: ProductionLineage = { records: 0, servedBy: {} };
  const kept: Record<string, ProductionLineage> = {};
  for (const [partition, p] of Object.entries(byPartition).sort(([a], [b]) => a.localeCompare(b))) {
    if (p.records === 0) continue;
    kept[partition] = p;
    production.records += p.records;
    for (const [k, n] of Object.entries(p.servedBy)) production.servedBy[k] = (production.servedBy[k] ?? 0) + n;
  }
  return { production, byPartition: kept };
}

/** The lineage a manifest records (versions written before lineage was recorded have none). */
export function manifestLineage(m: AnyManifest): ManifestLineage | undefined {
  const l = (m as { lineage?: ManifestLineage }).lineage;
  return l !== undefined && typeof l === 'object' && l.production !== undefined ? l : undefined;
}

/** Key of a content-addressed Parquet object (v2 manifests). */
export const objectKey = (dataset: string, hash: string): string => `datasets/${dataset}/objects/${hash}.parquet`;
/** Key of a content-addressed JSONL object (v1 manifests, still readable). */
const jsonlObjectKey = (dataset: string, hash: string): string => `datasets/${dataset}/objects/${hash}`;
/** Key of a manifest. */
export const manifestKey = (dataset: string, versionId: string): string => `datasets/${dataset}/manifests/${versionId}.json`;

/** sha256 hex of a buffer or string. */
export const sha256 = (body: Buffer | string): string => createHash('sha256').update(body).digest('hex');

/** Version id: hash of the spec hash and the ordered object list, so the same content gives the same id. */
export function versionIdOf(specHash: string, logicalDate: string, partitions: ManifestPartition[]): string {
  const h = createHash('sha256').update(specHash).update('\0').update(logicalDate);
  for (const p of partitions) h.update('\0').update(p.partition).update(':').update(p.object);
  return `dv-${h.digest('hex').slice(0, 32)}`;
}

/** Read a manifest. */
export async function readManifest(blobs: BlobStore, dataset: string, versionId: string): Promise<AnyManifest> {
  return JSON.parse((await blobs.get(manifestKey(dataset, versionId))).toString('utf8')) as AnyManifest;
}

/** Every row of a Parquet object as the record it was written from (label and hash included). */
export async function readObjectRows(
  blobs: BlobStore,
  spec: DatasetSpec,
  dataset: string,
  hash: string,
  format: Manifest['format'] = 'trainset-manifest-v2',
): Promise<Array<Record<string, unknown>>> {
  if (format === 'trainset-manifest-v1') {
    const text = (await blobs.get(jsonlObjectKey(dataset, hash))).toString('utf8');
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  return decodeParquetRows(await blobs.get(objectKey(dataset, hash)), spec);
}

/** Any manifest this code can read: v1/v2 (one object per partition) or v3 (chunks + delta). */
export type AnyManifest = Manifest | ManifestV3;

/** Every row of a version, in manifest order. */
export async function readVersionRows(blobs: BlobStore, spec: DatasetSpec, manifest: AnyManifest): Promise<Array<Record<string, unknown>>> {
  const all: Array<Record<string, unknown>> = [];
  if (manifest.format === 'trainset-manifest-v3') {
    for await (const row of readVersionV3(blobs, spec, manifest)) all.push(row);
    return all;
  }
  for (const p of manifest.partitions) all.push(...(await readObjectRows(blobs, spec, manifest.dataset, p.object, manifest.format)));
  return all;
}

/** The rows of one partition of a version, in order (the delta applied). */
export async function* readPartitionRows(
  blobs: BlobStore,
  spec: DatasetSpec,
  manifest: AnyManifest,
  partition: string,
): AsyncGenerator<Record<string, unknown>> {
  if (manifest.format === 'trainset-manifest-v3') {
    yield* readVersionV3(blobs, spec, { ...manifest, chunks: manifest.chunks.filter((c) => c.partition === partition) });
    return;
  }
  for (const p of manifest.partitions) {
    if (p.partition === partition) yield* await readObjectRows(blobs, spec, manifest.dataset, p.object, manifest.format);
  }
}

/** A version's statistics: those its (v3) manifest carries, else computed from its rows (read unless given). */
export async function versionStats(
  blobs: BlobStore,
  spec: DatasetSpec,
  m: AnyManifest,
  rows?: ReadonlyArray<Record<string, unknown>>,
): Promise<VersionStats> {
  if (m.format === 'trainset-manifest-v3' && m.stats?.format === 'trainset-stats-v1') return m.stats as VersionStats;
  return computeStats(spec, rows ?? (await readVersionRows(blobs, spec, m)));
}

/** The partitions a version spans, oldest first. */
export const manifestPartitions = (m: AnyManifest): string[] => m.partitions.map((p) => p.partition);

/** The deterministic time-based split of a version. */
export async function readVersionSplit(
  blobs: BlobStore,
  spec: DatasetSpec,
  dataset: string,
  versionId: string,
): Promise<TimeSplit<Record<string, unknown>>> {
  const manifest = await readManifest(blobs, dataset, versionId);
  return splitByTime(await readVersionRows(blobs, spec, manifest), spec);
}
