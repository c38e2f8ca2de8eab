/** A one-partition dataset version of labelled sample tickets, stored as the versioning activity stores it. */
import * as path from 'node:path';
import { HASH_FIELD, manifestKey, objectKey, sha256, type Manifest } from '../../src/datasets/manifest';
import { canonicalJson } from '../../src/ingest/line-framing';
import { writeRecordsParquet } from '../../src/datasets/parquet';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import type { BlobStore } from '../../src/storage/blob-store';

/** Store `count` sample tickets as dataset version `versionId` of `tickets`; labelOf may replace a record's label. */
export async function storeTicketsVersion(
  blobs: BlobStore,
  versionId: string,
  count: number,
  labelOf = (_i: number, trueQueue?: string): unknown => trueQueue,
): Promise<void> {
  const rows = generateTicketLines({ date: '2024-03-01', count, seed: 21, badLineFraction: 0, duplicateFraction: 0 })
    .map((g, i) => ({ ...(JSON.parse(g.line) as Record<string, unknown>), queue: labelOf(i, g.trueQueue) }))
    .map((r) => ({ ...r, [HASH_FIELD]: sha256(canonicalJson(r)) }));
  const { spec } = await createDirSpecSource(path.resolve(__dirname, '../../specs')).load('tickets');
  const content = writeRecordsParquet(
    rows.map(({ [HASH_FIELD]: h, ...record }) => ({ record, hash: h })),
    spec,
  );
  const hash = sha256(content);
  await blobs.put(objectKey('tickets', hash), content);
  const manifest: Manifest = {
    format: 'trainset-manifest-v2',
    versionId,
    dataset: 'tickets',
    specHash: 'test',
    logicalDate: '2024-03-01',
    partitions: [{ partition: '2024-03-01', object: hash, rows: rows.length, bytes: content.length }],
    rows: rows.length,
    labelDistribution: {},
  };
  await blobs.put(manifestKey('tickets', versionId), JSON.stringify(manifest));
}
