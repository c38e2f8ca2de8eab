/**
 * A dataset version's window holds every processed partition in it, whatever order days are processed in, and
 * the `latest` tag never moves back: the real versioning activities against the registry on both backends
 * (real PostgreSQL and PGlite over the wire protocol), an in-memory blob store.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVersioningActivities } from '../../src/activities/versioning';
import { HASH_FIELD, readManifest, readVersionRows } from '../../src/datasets/manifest';
import { recordHash } from '../../src/dedupe/dedupe';
import { generateTickets } from '../../src/samples/tickets/generate';
import { windowProblems } from '../../src/datasets/ops';
import { createRegistry, type NewDatasetVersion, type Registry } from '../../src/registry';
import type { DatasetSpec } from '../../src/shared/spec';
import type { DatasetVersionRef } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, specsWith } from '../activities/activity-fixtures';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const day = (n: number): string => `2026-02-${String(n).padStart(2, '0')}`;

describe.each(TEST_BACKENDS)('dataset version windows on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;
  let spec: DatasetSpec;
  const specs = specsWith((s) => s); // the committed tickets spec (7-day window) for every dataset name
  /** Record hashes staged per dataset and day. */
  const staged = new Map<string, string[]>();

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    spec = (await (await specs).load('tickets')).spec;
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** Write a day's deduped records (as the dedupe stage leaves them) and label every one. */
  async function stage(blobs: MemoryBlobStore, dataset: string, n: number): Promise<string> {
    // Seeds differ per dataset: a version id covers spec, date and rows, not the dataset name.
    const seed = [...dataset].reduce((a, c) => a * 31 + c.charCodeAt(0), n) % 100_000;
    const records = generateTickets({ date: day(n), count: 25, seed, badLineFraction: 0, duplicateFraction: 0 }).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    const hashed = records.map((record) => ({ hash: recordHash(record, spec), record }));
    const key = `work/${dataset}/${day(n)}/deduped.jsonl`;
    await blobs.put(key, hashed.map((h) => `${JSON.stringify(h)}\n`).join(''));
    await registry.labels.recordLabels(
      dataset,
      hashed.map((h) => ({ recordHash: h.hash, label: String(h.record.queue), source: 'programmatic' as const, labeledBy: 'test' })),
    );
    staged.set(
      `${dataset}/${day(n)}`,
      hashed.map((h) => h.hash),
    );
    return key;
  }

  /** Run the version stage for day n, as the pipeline does (the activity, in a mock activity context). */
  async function build(blobs: MemoryBlobStore, reg: Registry, dataset: string, n: number, workflowId = `wf-${dataset}-${n}`) {
    const { createDatasetVersion } = createVersioningActivities(cpuDeps(blobs, { registry: reg, specs: await specs }));
    const input = { dataset, partition: day(n), specHash: 'x', dedupedKey: `work/${dataset}/${day(n)}/deduped.jsonl`, workflowId };
    return (await new MockActivityEnvironment().run(createDatasetVersion, input)) as DatasetVersionRef;
  }

  /** Record hashes a version holds, sorted. */
  async function hashesOf(blobs: MemoryBlobStore, dataset: string, versionId: string): Promise<string[]> {
    const rows = await readVersionRows(blobs, spec, await readManifest(blobs, dataset, versionId));
    return rows.map((r) => String(r[HASH_FIELD])).sort();
  }
  const expectedHashes = (dataset: string, days: number[]): string[] => days.flatMap((n) => staged.get(`${dataset}/${day(n)}`)!).sort();
  const latest = async (dataset: string): Promise<string | undefined> => (await registry.datasets.getTag(dataset, 'latest'))?.id;

  it('days processed in the order 1, 3, 4, 2, 5: the version of day 5 holds partitions 1-5, reusing their chunks', async () => {
    const blobs = new MemoryBlobStore();
    const ds = 'win-order';
    const refs = new Map<number, DatasetVersionRef>();
    for (const n of [1, 3, 4, 2, 5]) {
      await stage(blobs, ds, n);
      refs.set(n, await build(blobs, registry, ds, n));
    }
    expect(refs.get(4)!.partitions).toEqual([day(1), day(3), day(4)]);
    expect(refs.get(2)!.partitions).toEqual([day(1), day(2)]);
    const v5 = refs.get(5)!;
    expect(v5.partitions).toEqual([1, 2, 3, 4, 5].map(day));
    expect(await hashesOf(blobs, ds, v5.versionId)).toEqual(expectedHashes(ds, [1, 2, 3, 4, 5]));
    expect(await registry.datasets.versionPartitions(v5.versionId)).toEqual([1, 2, 3, 4, 5].map(day));
    // Every earlier partition's chunks are reused from the version it came from; only day 5 is written.
    const m5 = await readManifest(blobs, ds, v5.versionId);
    if (m5.format !== 'trainset-manifest-v3') throw new Error('expected a chunked manifest');
    expect(v5.reusedChunks).toBe(m5.chunks.filter((c) => c.partition !== day(5)).length);
    expect(v5.bytesWritten).toBe(m5.chunks.filter((c) => c.partition === day(5)).reduce((a, c) => a + c.bytes, 0));

    // verify names what the versions built before day 2 lack; day 5's version lacks nothing.
    const v4 = (await registry.datasets.getVersion(refs.get(4)!.versionId))!;
    expect(await windowProblems(registry, v4, spec.version.windowDays)).toEqual([
      { key: `${ds}/${day(2)}`, problem: 'partition_missing', heldBy: v5.versionId },
    ]);
    const v5row = (await registry.datasets.getVersion(v5.versionId))!;
    expect(await windowProblems(registry, v5row, spec.version.windowDays)).toEqual([]);
  });

  it('two concurrent builds of adjacent days: each holds what was committed before it was built; later versions hold both', async () => {
    const blobs = new MemoryBlobStore();
    const ds = 'win-concurrent';
    for (const n of [1, 2, 3]) {
      await stage(blobs, ds, n);
      await build(blobs, registry, ds, n);
    }
    await stage(blobs, ds, 4);
    await stage(blobs, ds, 5);
    // Each build's commit waits at insertVersion until the test releases it: both read their windows first,
    // then day 5 commits, then day 4.
    const arrived = new Map<string, () => void>();
    const arrivals = new Map<string, Promise<void>>();
    const releases = new Map<string, () => void>();
    const released = new Map<string, Promise<void>>();
    for (const n of [4, 5]) {
      arrivals.set(day(n), new Promise((r) => arrived.set(day(n), r)));
      released.set(day(n), new Promise((r) => releases.set(day(n), r)));
    }
    const gated: Registry = {
      ...registry,
      datasets: {
        ...registry.datasets,
        insertVersion: async (v: NewDatasetVersion) => {
          arrived.get(v.logicalDate)?.();
          await released.get(v.logicalDate);
          return registry.datasets.insertVersion(v);
        },
      },
    };
    const build4 = build(blobs, gated, ds, 4);
    const build5 = build(blobs, gated, ds, 5);
    await Promise.all([arrivals.get(day(4)), arrivals.get(day(5))]);
    releases.get(day(5))!();
    const v5 = await build5;
    releases.get(day(4))!();
    const v4 = await build4;

    expect(v4.partitions).toEqual([1, 2, 3, 4].map(day));
    expect(v5.partitions).toEqual([1, 2, 3, 5].map(day)); // day 4 was not committed when day 5 was built
    // Day 4 committed last but is the older day: latest stays on day 5.
    expect(await latest(ds)).toBe(v5.versionId);
    const v5row = (await registry.datasets.getVersion(v5.versionId))!;
    expect(await windowProblems(registry, v5row, spec.version.windowDays)).toEqual([
      { key: `${ds}/${day(4)}`, problem: 'partition_missing', heldBy: v4.versionId },
    ]);

    // The next day takes day 4 from day 4's version and day 5 from day 5's.
    await stage(blobs, ds, 6);
    const v6 = await build(blobs, registry, ds, 6);
    expect(v6.partitions).toEqual([1, 2, 3, 4, 5, 6].map(day));
    expect(await hashesOf(blobs, ds, v6.versionId)).toEqual(expectedHashes(ds, [1, 2, 3, 4, 5, 6]));
    expect(await latest(ds)).toBe(v6.versionId);

    // Rebuilding day 5 (its version stage run again) builds a new version that lacks nothing; latest stays on the
    // newer day 6.
    const v5b = await build(blobs, registry, ds, 5, 'wf-rebuild-5');
    expect(v5b.partitions).toEqual([1, 2, 3, 4, 5].map(day));
    expect(await windowProblems(registry, (await registry.datasets.getVersion(v5b.versionId))!, spec.version.windowDays)).toEqual([]);
    expect(await latest(ds)).toBe(v6.versionId);
  });

  it('latest moves only forward in logical date (the same day rebuilt moves it), and a day processed late leaves it', async () => {
    const blobs = new MemoryBlobStore();
    const ds = 'win-latest';
    for (const n of [1, 5]) await stage(blobs, ds, n);
    await build(blobs, registry, ds, 1);
    const v5 = await build(blobs, registry, ds, 5);
    expect(await latest(ds)).toBe(v5.versionId);
    await stage(blobs, ds, 2);
    const v2 = await build(blobs, registry, ds, 2);
    expect(await latest(ds)).toBe(v5.versionId);
    expect(v2.previousLatest).toBeUndefined(); // this run did not move the tag
    // The compensation of the late day's run leaves the tag alone (it never moved it).
    const { untagDatasetVersion } = createVersioningActivities(cpuDeps(blobs, { registry, specs: await specs }));
    await new MockActivityEnvironment().run(untagDatasetVersion, {
      dataset: ds,
      tag: 'latest',
      versionId: v2.versionId,
      restoreTo: v2.previousLatest,
      workflowId: `wf-${ds}-2`,
    });
    expect(await latest(ds)).toBe(v5.versionId);

    // Day 5 rebuilt after a relabel: a new version of the same day, and latest follows it.
    const first = staged.get(`${ds}/${day(5)}`)![0]!;
    await registry.labels.recordLabels(ds, [{ recordHash: first, label: 'account', source: 'human', labeledBy: 'test' }]);
    const v5b = await build(blobs, registry, ds, 5, 'wf-rebuild-5');
    expect(v5b.versionId).not.toBe(v5.versionId);
    expect(await latest(ds)).toBe(v5b.versionId);
    expect(v5b.previousLatest).toBe(v5.versionId);
  });

  it('a retry after the tag move committed returns the same previousLatest, and the compensation restores it', async () => {
    const blobs = new MemoryBlobStore();
    const ds = 'win-retry';
    for (const n of [1, 2]) await stage(blobs, ds, n);
    const v1 = await build(blobs, registry, ds, 1);
    const first = await build(blobs, registry, ds, 2, 'wf-retry-2');
    expect(first.previousLatest).toBe(v1.versionId);
    // The activity is retried after its commit and tag move (say its worker died before reporting).
    const retry = await build(blobs, registry, ds, 2, 'wf-retry-2');
    expect(retry.versionId).toBe(first.versionId);
    expect(retry.previousLatest).toBe(v1.versionId);

    const { untagDatasetVersion } = createVersioningActivities(cpuDeps(blobs, { registry, specs: await specs }));
    await new MockActivityEnvironment().run(untagDatasetVersion, {
      dataset: ds,
      tag: 'latest',
      versionId: retry.versionId,
      restoreTo: retry.previousLatest,
      workflowId: 'wf-retry-2',
    });
    expect(await latest(ds)).toBe(v1.versionId);
    expect((await registry.datasets.tagHistory(ds, 'latest')).map((h) => [h.from, h.to, h.actor])).toEqual([
      [undefined, v1.versionId, `workflow:wf-${ds}-1`],
      [v1.versionId, first.versionId, 'workflow:wf-retry-2'],
      [first.versionId, v1.versionId, 'workflow:wf-retry-2'],
    ]);
  });
});
