/**
 * Dataset version operations (verify, garbage collection, lineage) on both deployments: the real PostgreSQL
 * with the real S3 server, and the embedded default (PGlite over the wire protocol with a local folder).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { HASH_COLUMN } from '../../src/datasets/parquet';
import { collectGarbage, lineageGraph, verifyVersion } from '../../src/datasets/ops';
import {
  chunkKey,
  manifestObjects,
  readVersionV3,
  rowOrder,
  versionIdV3,
  writeVersion,
  type ManifestV3,
  type Row,
} from '../../src/datasets/version-store';
import { createRegistry, type Registry } from '../../src/registry';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { createBlobStore, type BlobStore } from '../../src/storage';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const base = parseDatasetSpec(parseYaml(readFileSync(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')));
const spec: DatasetSpec = { ...base, version: { ...base.version, chunkBytes: 8 * 1024 } };

function rows(day: string, n: number, from = 0): Row[] {
  const out: Row[] = [];
  for (let i = from; i < from + n; i++) {
    out.push({
      id: `T-${i}`,
      created_at: new Date(Date.parse(`${day}T00:00:00Z`) + i * 1000).toISOString(),
      channel: 'email',
      subject: `s${i}`,
      body: `ticket body ${i} ${'x'.repeat(i % 50)}`,
      queue: ['billing', 'technical'][i % 2],
      [HASH_COLUMN]: `h${i}`,
    });
  }
  return out.sort(rowOrder(spec, HASH_COLUMN));
}

/** Write and register a version the way the versioning activity does. */
async function commit(blobs: BlobStore, registry: Registry, day: string, data: Row[], previous?: ManifestV3): Promise<ManifestV3> {
  const r = await writeVersion({
    blobs,
    spec,
    dataset: 'tickets',
    specHash: 'spec-1',
    logicalDate: day,
    previous,
    partitions: [{ partition: day, rows: () => data }],
    touch: (objects) => registry.datasets.touchChunks('tickets', objects),
  });
  const manifest: ManifestV3 = { ...r.manifest, versionId: versionIdV3(r.manifest) };
  const key = `datasets/tickets/manifests/${manifest.versionId}.json`;
  await blobs.putIfAbsent(key, JSON.stringify(manifest));
  await registry.datasets.insertVersion({
    id: manifest.versionId,
    dataset: 'tickets',
    logicalDate: day,
    manifestKey: key,
    rows: manifest.rows,
    specHash: 'spec-1',
    stats: {},
    objects: manifestObjects(manifest).map((o) => ({ hash: o.hash, size: o.bytes })),
    partitions: manifest.partitions.map((p) => p.partition),
  });
  return manifest;
}

const combos = TEST_BACKENDS.map((b) => [b === 'postgres' ? 'PostgreSQL + S3' : 'PGlite + local folder', b] as const);

describe.each(combos)('dataset operations on %s', (_name, backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let blobs: BlobStore;
  let dir: string | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    if (backend === 'postgres') {
      const env = process.env;
      blobs = createBlobStore({
        kind: 's3',
        endpoint: env.S3_ENDPOINT!,
        bucket: env.S3_BUCKET!,
        region: env.S3_REGION!,
        accessKeyId: env.AWS_ACCESS_KEY_ID!,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
        forcePathStyle: true,
        prefix: `test-runs/dataset-ops-${randomBytes(4).toString('hex')}`,
      });
    } else {
      dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-dataset-ops-'));
      blobs = createBlobStore({ kind: 'fs', dir });
    }
  });

  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verify re-hashes every object: clean, then a corrupted chunk and a missing one are named', async () => {
    const m = await commit(blobs, registry, '2026-03-01', rows('2026-03-01', 600));
    const key = `datasets/tickets/manifests/${m.versionId}.json`;
    const clean = await verifyVersion(blobs, key, m.versionId);
    expect(clean).toMatchObject({ objects: m.chunks.length, problems: [] });

    const [first, second] = m.chunks;
    const good = await blobs.get(chunkKey('tickets', first!.hash));
    await blobs.put(chunkKey('tickets', first!.hash), Buffer.concat([good, Buffer.from('x')]));
    await blobs.delete(chunkKey('tickets', second!.hash));
    const bad = await verifyVersion(blobs, key, m.versionId);
    expect(bad.problems.map((p) => p.problem).sort()).toEqual(['hash_mismatch', 'missing']);
    expect(bad.problems.find((p) => p.problem === 'hash_mismatch')?.key).toBe(chunkKey('tickets', first!.hash));
    // Repair the corrupted chunk by hand; committing the same rows again re-creates the missing one (create-only).
    await blobs.put(chunkKey('tickets', first!.hash), good);
    expect((await verifyVersion(blobs, key, m.versionId)).problems).toHaveLength(1);
    await commit(blobs, registry, '2026-03-01', rows('2026-03-01', 600));
    expect((await verifyVersion(blobs, key, m.versionId)).problems).toEqual([]);
    await registry.datasets.collectVersion(m.versionId, 'test');
  });

  it('gc keeps retained versions and deletes chunks only collected versions used; a dry run deletes nothing', async () => {
    const v1 = await commit(blobs, registry, '2026-04-01', rows('2026-04-01', 800));
    const v2rows = [...rows('2026-04-01', 800).slice(0, 300), ...rows('2026-04-01', 800).slice(500)];
    const v2 = await commit(blobs, registry, '2026-04-02', v2rows, v1);
    await registry.datasets.setTag('tickets', 'latest', v2.versionId, 'test');
    const onlyV1 = v1.chunks.filter((c) => !v2.chunks.some((d) => d.hash === c.hash));
    expect(onlyV1.length).toBeGreaterThan(0);
    const future = new Date(Date.now() + 60_000); // every touch so far is "before the grace period"

    const dry = await collectGarbage(blobs, registry, {
      dataset: 'tickets',
      keepLast: 1,
      keepDays: 0,
      graceMs: 0,
      dryRun: true,
      actor: 'test',
      now: future,
    });
    expect(dry.collectedVersions).toContain(v1.versionId);
    expect(dry.retainedVersions).toContain(v2.versionId);
    expect(dry.deletedChunks).toBeGreaterThanOrEqual(onlyV1.length);
    for (const c of onlyV1) expect(await blobs.head(chunkKey('tickets', c.hash))).toBeDefined();

    const done = await collectGarbage(blobs, registry, {
      dataset: 'tickets',
      keepLast: 1,
      keepDays: 0,
      graceMs: 0,
      dryRun: false,
      actor: 'test',
      now: future,
    });
    expect(done.collectedVersions).toContain(v1.versionId);
    for (const c of onlyV1) expect(await blobs.head(chunkKey('tickets', c.hash))).toBeUndefined();
    expect(await blobs.head(`datasets/tickets/manifests/${v1.versionId}.json`)).toBeUndefined();
    expect((await verifyVersion(blobs, `datasets/tickets/manifests/${v2.versionId}.json`, v2.versionId)).problems).toEqual([]);
    const back: string[] = [];
    for await (const r of readVersionV3(blobs, spec, v2)) back.push(String(r.id));
    expect(back).toEqual(v2rows.map((r) => String(r.id)));
    expect((await registry.datasets.listVersions('tickets')).find((v) => v.id === v1.versionId)?.collectedAt).toBeDefined();
  });

  it('a commit touching a chunk while gc sweeps it waits for the sweep, then writes the chunk again', async () => {
    const v = await commit(blobs, registry, '2026-05-01', rows('2026-05-01', 300, 5000));
    await registry.datasets.collectVersion(v.versionId, 'test');
    const chunk = v.chunks[0]!;
    const key = chunkKey('tickets', chunk.hash);
    const body = await blobs.get(key);
    const events: string[] = [];
    let touched: Promise<void> | undefined;
    const swept = await registry.datasets.sweepChunk(chunk.hash, new Date(Date.now() + 60_000), async () => {
      events.push('gc: lock held');
      // A commit reusing the chunk starts now: its touch must wait for the sweep's transaction.
      touched = registry.datasets
        .touchChunks('tickets', [{ hash: chunk.hash, size: chunk.bytes }])
        .then(() => void events.push('commit: touched'));
      await new Promise((r) => setTimeout(r, 300));
      await blobs.delete(key);
      events.push('gc: blob deleted');
    });
    await touched;
    expect(swept).toBe(true);
    expect(events).toEqual(['gc: lock held', 'gc: blob deleted', 'commit: touched']);
    // The commit then writes create-only, as writeVersion does, and finds the chunk gone: it stores it again.
    expect(await blobs.putIfAbsent(key, body)).toBe(true);
    // And a sweep now sees the fresh touch and keeps it.
    expect(await registry.datasets.sweepChunk(chunk.hash, new Date(Date.now() - 60_000), async () => blobs.delete(key))).toBe(false);
    expect(await blobs.head(key)).toBeDefined();
  });

  it('lineage walks both ways: raw partitions → version → model version → deployment', async () => {
    await registry.datasets.addLineage([
      { fromKind: 'raw_partition', fromId: 'tickets/2026-06-01', toKind: 'dataset_version', toId: 'dv-lin' },
      { fromKind: 'raw_partition', fromId: 'tickets/2026-06-02', toKind: 'dataset_version', toId: 'dv-lin' },
      { fromKind: 'dataset_version', fromId: 'dv-lin', toKind: 'model_version', toId: 'mv-lin' },
      { fromKind: 'model_version', fromId: 'mv-lin', toKind: 'deployment', toId: 'tickets-router' },
    ]);
    const fromModel = await lineageGraph(registry, { kind: 'model_version', id: 'mv-lin' });
    expect(fromModel.upstream.map((e) => e.fromId).sort()).toEqual(['dv-lin', 'tickets/2026-06-01', 'tickets/2026-06-02']);
    expect(fromModel.downstream).toEqual([{ fromKind: 'model_version', fromId: 'mv-lin', toKind: 'deployment', toId: 'tickets-router' }]);
    const fromVersion = await lineageGraph(registry, { kind: 'dataset_version', id: 'dv-lin' });
    expect(fromVersion.downstream.map((e) => e.toId)).toEqual(['mv-lin', 'tickets-router']);
  });
});
