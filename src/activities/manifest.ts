/** Dataset version manifests and reading a version's records back (used by quality, training, evaluation, canary). */
import { createHash } from 'node:crypto';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { EXTRA_COLUMN, HASH_COLUMN } from '../data/parquet';
import { parquetValueToJson } from '../data/readers';
import { splitByTime, type TimeSplit } from '../data/split';
import type { BlobStore } from '../storage/blob-store';
import type { DatasetSpec } from '../shared/spec';

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
export async function readManifest(blobs: BlobStore, dataset: string, versionId: string): Promise<Manifest> {
  return JSON.parse((await blobs.get(manifestKey(dataset, versionId))).toString('utf8')) as Manifest;
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
  const buf = await blobs.get(objectKey(dataset, hash));
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const nested = Object.entries(spec.schema.fields)
    .filter(([, f]) => f.type === 'list' || f.type === 'object')
    .map(([name]) => name);
  const rows = await parquetReadObjects({ file, compressors });
  return rows.map((raw) => {
    const row = parquetValueToJson(raw) as Record<string, unknown>;
    // Nested values and kept unknown fields are stored as JSON text (see src/data/parquet.ts).
    for (const name of nested) if (typeof row[name] === 'string') row[name] = JSON.parse(row[name] as string);
    const extra = row[EXTRA_COLUMN];
    delete row[EXTRA_COLUMN];
    return typeof extra === 'string' ? { ...(JSON.parse(extra) as Record<string, unknown>), ...row } : row;
  });
}

/** Every row of a version, in manifest order. */
export async function readVersionRows(blobs: BlobStore, spec: DatasetSpec, manifest: Manifest): Promise<Array<Record<string, unknown>>> {
  const all: Array<Record<string, unknown>> = [];
  for (const p of manifest.partitions) all.push(...(await readObjectRows(blobs, spec, manifest.dataset, p.object, manifest.format)));
  return all;
}

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
