/** registry.labelStats.labelLatency (M13): created → labeled per label source, on PostgreSQL and PGlite. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, type Registry } from '../../src/registry';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

describe.each(TEST_BACKENDS)('label latency on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;

  /** A task created at `created` seconds, labeled by `source` at `labeled` seconds (unlabeled when absent). */
  async function task(hash: string, partition: string, created: number, label?: { source: string; at: number }): Promise<void> {
    await db.pool.query(
      `INSERT INTO label_tasks (dataset, record_hash, partition, status, created_at) VALUES ('tickets', $1, $2, $3, $4)`,
      [hash, partition, label ? 'done' : 'pending', at(created)],
    );
    if (label) {
      await db.pool.query(
        `INSERT INTO labels (dataset, record_hash, label, source, labeled_by, labeled_at) VALUES ('tickets', $1, 'billing', $2, 'x', $3)`,
        [hash, label.source, at(label.at)],
      );
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
    // Partition p1: source labels at once, human labels after 100 s to 2 h, one pending, one labeled before its task.
    await task('s1', 'p1', 0, { source: 'source', at: 0.25 });
    await task('s2', 'p1', 0, { source: 'source', at: 0.5 });
    await task('h1', 'p1', 0, { source: 'human', at: 100 });
    await task('h2', 'p1', 0, { source: 'human', at: 3000 });
    await task('h3', 'p1', 0, { source: 'human', at: 7200 });
    await task('early', 'p1', 10, { source: 'programmatic', at: 5 });
    await task('open', 'p1', 0);
    // Another partition and another run's older tasks.
    await task('other', 'p2', 0, { source: 'human', at: 99_999 });
    await task('old', 'p1', -86_400, { source: 'human', at: 0 });
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('measures created → labeled per source in power-of-two bins, with quantiles, for one run’s tasks', async () => {
    const stats = await registry.labelStats.labelLatency({ dataset: 'tickets', partition: 'p1', createdSince: at(-1).toISOString() });
    const bySource = Object.fromEntries(stats.map((s) => [s.source, s]));
    expect(Object.keys(bySource).sort()).toEqual(['human', 'programmatic', 'source']);

    const human = bySource.human!;
    expect(human.count).toBe(3);
    expect(human.sumSeconds).toBeCloseTo(10_300, 3);
    expect(human.p50Seconds).toBeCloseTo(3000, 3);
    expect(human.p95Seconds).toBeCloseTo(3000 + 0.9 * 4200, 3);
    expect(human.bins).toEqual([
      { upTo: 128, count: 1, sumSeconds: 100 },
      { upTo: 4096, count: 1, sumSeconds: 3000 },
      { upTo: 8192, count: 1, sumSeconds: 7200 },
    ]);

    const source = bySource.source!;
    expect(source.count).toBe(2);
    expect(source.bins).toEqual([{ upTo: 1, count: 2, sumSeconds: 0.75 }]);
    // Labeled 5 s before its task existed: counts as labeled at once, not as a negative latency.
    expect(bySource.programmatic!.bins).toEqual([{ upTo: 1, count: 1, sumSeconds: 0 }]);
  });

  it('takes every task of the partition without createdSince, and nothing of a partition without labels', async () => {
    const all = await registry.labelStats.labelLatency({ dataset: 'tickets', partition: 'p1' });
    expect(all.find((s) => s.source === 'human')?.count).toBe(4);
    expect(await registry.labelStats.labelLatency({ dataset: 'tickets', partition: 'p9' })).toEqual([]);
  });
});
