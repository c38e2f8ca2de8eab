import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, migrate, MIGRATIONS_TABLE, RegistryInvariantError, type Registry } from '../../src/registry';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from './registry-test-db';

const version = (id: string, logicalDate: string, hashes: string[]) => ({
  id,
  dataset: 'tickets',
  logicalDate,
  manifestKey: `datasets/tickets/manifests/${id}.json`,
  rows: 10 * hashes.length,
  specHash: 'spec-1',
  stats: { labels: { bug: 3, billing: 7 } },
  objects: hashes.map((hash, i) => ({ hash, size: 100 + i })),
});

describe.each(TEST_BACKENDS)('dataset registry on %s', (backend) => {
  let db: TestDatabase;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    registry = createRegistry(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('registry migrations', () => {
    it('running the migrations again on a current schema changes nothing', async () => {
      const before = await db.pool.query(`SELECT name, run_on FROM ${MIGRATIONS_TABLE} ORDER BY name`);
      expect(before.rows.length).toBeGreaterThan(0);
      const messages: string[] = [];
      await migrate(db.url, (m) => messages.push(m));
      const after = await db.pool.query(`SELECT name, run_on FROM ${MIGRATIONS_TABLE} ORDER BY name`);
      expect(after.rows).toEqual(before.rows);
      expect(messages.join('\n')).toContain('No migrations to run');
    });
  });

  describe('dataset versions', () => {
    it('registers a version once: a retried insert reports created=false and adds no objects', async () => {
      await registry.datasets.ensureDataset('tickets', 'spec-1');
      const v = version('v-2024-01-01', '2024-01-01', ['h1', 'h2', 'h3']);
      expect(await registry.datasets.insertVersion(v)).toEqual({
        created: true,
      });
      expect(await registry.datasets.insertVersion(v)).toEqual({
        created: false,
      });

      const objects = await db.pool.query('SELECT count(*)::int AS n FROM dataset_chunks');
      const links = await db.pool.query('SELECT count(*)::int AS n FROM dataset_version_chunks');
      expect(objects.rows[0].n).toBe(3);
      expect(links.rows[0].n).toBe(3);

      const stored = await registry.datasets.getVersion(v.id);
      expect(stored).toMatchObject({
        id: v.id,
        dataset: 'tickets',
        logicalDate: '2024-01-01',
        rows: 30,
        specHash: 'spec-1',
        stats: v.stats,
      });
      expect(await registry.datasets.versionObjects(v.id)).toEqual(v.objects);
    });

    it('shares objects between versions and finds the version of a date and the previous one', async () => {
      await registry.datasets.insertVersion(version('v-2024-01-02', '2024-01-02', ['h2', 'h3', 'h4']));
      await registry.datasets.insertVersion(version('v-2024-01-03', '2024-01-03', ['h4', 'h5']));
      const objects = await db.pool.query('SELECT count(*)::int AS n FROM dataset_chunks');
      expect(objects.rows[0].n).toBe(5);

      expect((await registry.datasets.versionForDate('tickets', '2024-01-02'))?.id).toBe('v-2024-01-02');
      expect(await registry.datasets.versionForDate('tickets', '2024-02-01')).toBeUndefined();
      expect((await registry.datasets.previousVersion('tickets', '2024-01-03'))?.id).toBe('v-2024-01-02');
      expect((await registry.datasets.previousVersion('tickets', '2024-01-10'))?.id).toBe('v-2024-01-03');
      expect(await registry.datasets.previousVersion('tickets', '2024-01-01')).toBeUndefined();
    });

    it('moves a tag atomically with one audit row per real move, and removes it only while it still points there', async () => {
      expect(await registry.datasets.setTag('tickets', 'latest', 'v-2024-01-01', 'wf-1')).toEqual({ moved: true });
      expect(await registry.datasets.setTag('tickets', 'latest', 'v-2024-01-01', 'wf-1')).toEqual({
        moved: false,
        from: 'v-2024-01-01',
      });
      expect(await registry.datasets.setTag('tickets', 'latest', 'v-2024-01-02', 'wf-2')).toEqual({
        moved: true,
        from: 'v-2024-01-01',
      });
      expect((await registry.datasets.getTag('tickets', 'latest'))?.id).toBe('v-2024-01-02');

      const audit = await registry.audit.list('dataset:tickets');
      expect(audit.map((a) => [a.actor, a.action, a.details])).toEqual([
        ['wf-1', 'dataset.tag.set', { tag: 'latest', from: null, to: 'v-2024-01-01' }],
        ['wf-2', 'dataset.tag.set', { tag: 'latest', from: 'v-2024-01-01', to: 'v-2024-01-02' }],
      ]);

      // A compensation for the older move must not untag the newer version.
      expect(await registry.datasets.removeTag('tickets', 'latest', 'v-2024-01-01', 'wf-1')).toBe(false);
      expect((await registry.datasets.getTag('tickets', 'latest'))?.id).toBe('v-2024-01-02');
      expect(await registry.datasets.removeTag('tickets', 'latest', 'v-2024-01-02', 'wf-2')).toBe(true);
      expect(await registry.datasets.getTag('tickets', 'latest')).toBeUndefined();
      expect((await registry.audit.list('dataset:tickets')).at(-1)?.action).toBe('dataset.tag.remove');
    });

    it('refuses to tag a version of another dataset and leaves no audit row', async () => {
      const auditBefore = (await registry.audit.list()).length;
      await expect(registry.datasets.setTag('other', 'latest', 'v-2024-01-01', 'wf')).rejects.toBeInstanceOf(RegistryInvariantError);
      expect((await registry.audit.list()).length).toBe(auditBefore);
    });

    it('records lineage edges idempotently and walks them both ways', async () => {
      const edges = [
        {
          fromKind: 'partition',
          fromId: 'tickets/2024-01-01',
          toKind: 'dataset-version',
          toId: 'v-2024-01-01',
        },
        {
          fromKind: 'dataset-version',
          fromId: 'v-2024-01-01',
          toKind: 'model-version',
          toId: 'm-1',
        },
      ];
      expect(await registry.datasets.addLineage(edges)).toBe(2);
      expect(await registry.datasets.addLineage(edges)).toBe(0);
      expect(await registry.datasets.lineageFrom('dataset-version', 'v-2024-01-01')).toEqual([edges[1]]);
      expect(await registry.datasets.lineageTo('dataset-version', 'v-2024-01-01')).toEqual([edges[0]]);
    });
    it("adds the objects of a second build of the same version (same rows, another layout) after the first build's", async () => {
      await registry.datasets.insertVersion({ ...version('v-layout', '2023-12-01', ['l1', 'l2']), dataset: 'layouts' });
      expect(await registry.datasets.insertVersion({ ...version('v-layout', '2023-12-01', ['l2', 'l3']), dataset: 'layouts' })).toEqual({
        created: false,
      });
      expect((await registry.datasets.versionObjects('v-layout')).map((o) => o.hash)).toEqual(['l1', 'l2', 'l3']);
      expect(await registry.datasets.getVersion('v-layout')).toMatchObject({ rows: 20 }); // the first build's row stays
    });
  });

  describe('labels', () => {
    it('opens one task per record, counts labeled ones, and never lets a weaker source overwrite a label', async () => {
      expect(await registry.labels.createTasks('tickets', '2024-01-01', ['r1', 'r2', 'r3', 'r3'])).toBe(3);
      expect(await registry.labels.createTasks('tickets', '2024-01-01', ['r1', 'r2', 'r3', 'r4'])).toBe(1);
      expect(await registry.labels.taskCounts('tickets', '2024-01-01')).toEqual({ total: 4, labeled: 0 });

      expect(
        await registry.labels.recordLabels('tickets', [
          {
            recordHash: 'r1',
            label: 'bug',
            source: 'programmatic',
            labeledBy: 'keyword-rule',
          },
          {
            recordHash: 'r2',
            label: 'billing',
            source: 'human',
            labeledBy: 'alice',
          },
        ]),
      ).toBe(2);
      expect(await registry.labels.taskCounts('tickets', '2024-01-01')).toEqual({ total: 4, labeled: 2 });
      expect(await registry.labels.pendingTasks('tickets', '2024-01-01', 10)).toEqual(['r3', 'r4']);
      expect(await registry.labels.pendingTasks('tickets', '2024-01-01', 1)).toHaveLength(1);

      // A retried programmatic pass must not clobber the human label; a human may correct a programmatic one.
      expect(
        await registry.labels.recordLabels('tickets', [
          {
            recordHash: 'r2',
            label: 'bug',
            source: 'programmatic',
            labeledBy: 'keyword-rule',
          },
          {
            recordHash: 'r1',
            label: 'feature',
            source: 'human',
            labeledBy: 'bob',
          },
        ]),
      ).toBe(1);
      const labels = await registry.labels.labelsFor('tickets', ['r1', 'r2', 'r3']);
      expect(labels.get('r1')).toMatchObject({
        label: 'feature',
        source: 'human',
        labeledBy: 'bob',
      });
      expect(labels.get('r2')).toMatchObject({
        label: 'billing',
        source: 'human',
        labeledBy: 'alice',
      });
      expect(labels.has('r3')).toBe(false);

      const done = await db.pool.query(
        "SELECT record_hash FROM label_tasks WHERE dataset = 'tickets' AND status = 'done' ORDER BY record_hash",
      );
      expect(done.rows.map((r) => r.record_hash)).toEqual(['r1', 'r2']);
    });

    it('opens tasks for already-labeled records as done', async () => {
      expect(await registry.labels.createTasks('tickets', '2024-01-02', ['r2', 'r9'])).toBe(1);
      expect(await registry.labels.createTasks('tickets', '2024-01-02', ['r10'])).toBe(1);
      expect(await registry.labels.taskCounts('tickets', '2024-01-02')).toEqual({ total: 2, labeled: 0 });
      expect(await registry.labels.createTasks('tickets', '2024-01-02', [])).toBe(0);
    });
  });
});
