/** Dataset version manifests and reading a version's records back (used by quality, training, evaluation, canary). */
import { createHash } from 'node:crypto';
import type { BlobStore } from '../storage/blob-store';
import type { DatasetSpec } from '../shared/spec';
import { splitByTime, type TimeSplit } from '../data/split';

/** Field added to each stored row: the record's normalized content hash (labels and dedupe key by it). */
export const HASH_FIELD = '_trainset_hash';

/** One partition's content-addressed object in a version. */
export interface ManifestPartition {
  partition: string;
  object: string;
  rows: number;
  bytes: number;
}

/** An immutable dataset version manifest. Its id is a hash of the spec and the objects, nothing else. */
export interface Manifest {
  format: 'trainset-manifest-v1';
  versionId: string;
  dataset: string;
  specHash: string;
  logicalDate: string;
  partitions: ManifestPartition[];
  rows: number;
  labelDistribution: Record<string, number>;
}

/** Key of a content-addressed object. */
export const objectKey = (dataset: string, hash: string): string => `datasets/${dataset}/objects/${hash}`;
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

/** Every row of an object (JSONL). */
export async function readObjectRows(blobs: BlobStore, dataset: string, hash: string): Promise<Array<Record<string, unknown>>> {
  const text = (await blobs.get(objectKey(dataset, hash))).toString('utf8');
  const rows: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as Record<string, unknown>);
  return rows;
}

/** Every row of a version, in manifest order. */
export async function readVersionRows(blobs: BlobStore, manifest: Manifest): Promise<Array<Record<string, unknown>>> {
  const all: Array<Record<string, unknown>> = [];
  for (const p of manifest.partitions) all.push(...(await readObjectRows(blobs, manifest.dataset, p.object)));
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
  return splitByTime(await readVersionRows(blobs, manifest), spec);
}
