import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, migrate, MIGRATIONS_DIR, MIGRATIONS_TABLE, RegistryInvariantError, type Registry } from '../../src/registry';
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
  partitions: [logicalDate],
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

  describe('dataset windows and the latest tag', () => {
    it('finds each partition of a window in the newest live version holding it', async () => {
      const w = (id: string, logicalDate: string, partitions: string[]) => ({
        ...version(id, logicalDate, [`${id}-h`]),
        dataset: 'windows',
        partitions,
      });
      // Day 3 processed before day 2: day 2's version is the newest holding day 1.
      await registry.datasets.insertVersion(w('w-1', '2024-05-01', ['2024-05-01']));
      await registry.datasets.insertVersion(w('w-3', '2024-05-03', ['2024-05-01', '2024-05-03']));
      await registry.datasets.insertVersion(w('w-2', '2024-05-02', ['2024-05-01', '2024-05-02']));
      await registry.datasets.insertVersion(w('w-3', '2024-05-03', ['2024-05-01', '2024-05-03'])); // a retried commit
      const sources = async () =>
        (await registry.datasets.partitionSources('windows', '2024-04-28', '2024-05-04')).map((s) => [
          s.partition,
          s.versionId,
          s.logicalDate,
        ]);
      expect(await sources()).toEqual([
        ['2024-05-01', 'w-2', '2024-05-02'],
        ['2024-05-02', 'w-2', '2024-05-02'],
        ['2024-05-03', 'w-3', '2024-05-03'],
      ]);
      expect(await registry.datasets.partitionSources('windows', '2024-05-02', '2024-05-02')).toHaveLength(1);
      expect(await registry.datasets.versionPartitions('w-3')).toEqual(['2024-05-01', '2024-05-03']);
      // A collected version's rows are gone: the window takes the partition from the next newest, or not at all.
      await registry.datasets.collectVersion('w-2', 'test');
      expect(await sources()).toEqual([
        ['2024-05-01', 'w-3', '2024-05-03'],
        ['2024-05-03', 'w-3', '2024-05-03'],
      ]);
    });

    it('advances a tag only forward in logical date, restores it only from the version it points at, and says who moved it', async () => {
      const t = (id: string, logicalDate: string) => ({ ...version(id, logicalDate, [`${id}-h`]), dataset: 'tags' });
      for (const v of [t('t-5', '2024-06-05'), t('t-2', '2024-06-02'), t('t-5b', '2024-06-05')]) await registry.datasets.insertVersion(v);
      expect(await registry.datasets.advanceTag('tags', 'latest', 't-5', 'workflow:a')).toEqual({ moved: true });
      expect(await registry.datasets.advanceTag('tags', 'latest', 't-2', 'workflow:b')).toEqual({ moved: false, from: 't-5' });
      expect(await registry.datasets.advanceTag('tags', 'latest', 't-5b', 'workflow:c')).toEqual({ moved: true, from: 't-5' });
      expect((await registry.datasets.getTag('tags', 'latest'))?.id).toBe('t-5b');

      expect(await registry.datasets.tagMoveBy('tags', 'latest', 't-5b', 'workflow:c')).toEqual({ from: 't-5' });
      expect(await registry.datasets.tagMoveBy('tags', 'latest', 't-5', 'workflow:a')).toEqual({});
      expect(await registry.datasets.tagMoveBy('tags', 'latest', 't-2', 'workflow:b')).toBeUndefined();
      expect(await registry.datasets.tagMoveBy('tags', 'latest', 't-5b', 'workflow:a')).toBeUndefined();

      expect(await registry.datasets.restoreTag('tags', 'latest', 't-2', 't-5', 'workflow:b')).toEqual({ moved: false, from: 't-5b' });
      expect(await registry.datasets.restoreTag('tags', 'latest', 't-5b', 't-5', 'workflow:c')).toEqual({ moved: true, from: 't-5b' });
      expect((await registry.datasets.getTag('tags', 'latest'))?.id).toBe('t-5');
      expect((await registry.datasets.tagHistory('tags', 'latest')).map((h) => [h.from, h.to, h.actor])).toEqual([
        [undefined, 't-5', 'workflow:a'],
        ['t-5', 't-5b', 'workflow:c'],
        ['t-5b', 't-5', 'workflow:c'],
      ]);
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

  // Last: it drops and re-creates the table the other tests fill.
  describe('dataset version partitions migration', () => {
    it('fills the partitions of versions registered before it from their raw-partition lineage edges', async () => {
      // The migration's own Up section, run on a database where it had not run yet (later migrations are not
      // undone: their down steps are not this test's subject).
      const file = path.join(MIGRATIONS_DIR, '1733200000000_dataset-version-partitions.sql');
      const up = (await readFile(file, 'utf8')).split('-- Down Migration')[0]!;
      await db.pool.query('DROP TABLE dataset_version_partitions');
      await registry.datasets.ensureDataset('mig', 'spec-1');
      await db.pool.query(
        `INSERT INTO dataset_versions (id, dataset, logical_date, manifest_key, rows, spec_hash)
         VALUES ('mig-3', 'mig', '2024-07-03', 'k', 1, 'spec-1'), ('mig-2', 'mig', '2024-07-02', 'k', 1, 'spec-1')`,
      );
      const edge = (fromKind: string, fromId: string, toId: string) => ({ fromKind, fromId, toKind: 'dataset_version', toId });
      await registry.datasets.addLineage([
        edge('raw_partition', 'mig/2024-07-01', 'mig-3'),
        edge('raw_partition', 'mig/2024-07-03', 'mig-3'),
        edge('raw_partition', 'mig/2024-07-02', 'mig-2'),
        edge('raw_partition', 'other/2024-07-02', 'mig-3'), // another dataset's partition: not this version's
        edge('raw_partition', 'mig/latest', 'mig-3'), // not a partition date
        edge('model_version', 'mv-1', 'mig-3'),
        edge('raw_partition', 'mig/2024-07-01', 'dv-unregistered'),
      ]);
      await db.pool.query(up);
      expect(await registry.datasets.versionPartitions('mig-3')).toEqual(['2024-07-01', '2024-07-03']);
      expect(await registry.datasets.versionPartitions('mig-2')).toEqual(['2024-07-02']);
      expect((await registry.datasets.partitionSources('mig', '2024-07-01', '2024-07-03')).map((s) => s.versionId)).toEqual([
        'mig-3',
        'mig-2',
        'mig-3',
      ]);
    });
  });
});
