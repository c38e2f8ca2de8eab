import type { Queryable } from './db';
import { iso, num, withTransaction } from './db';
import { insertAudit } from './audit';
import { RegistryInvariantError } from './errors';

/** A content-addressed chunk of a dataset version. */
export interface DatasetObject {
  hash: string;
  size: number;
}

/** What the versioning stage registers for one immutable dataset version. */
export interface NewDatasetVersion {
  /** Content hash of objects + spec: the version's identity and idempotency key. */
  id: string;
  dataset: string;
  /** Partition date, YYYY-MM-DD. */
  logicalDate: string;
  manifestKey: string;
  rows: number;
  specHash: string;
  stats: Record<string, unknown>;
  objects: DatasetObject[];
  /**
   * The partitions (YYYY-MM-DD) the version holds, later versions build their windows from this record; its
   * logical date is always one of them (the default).
   */
  partitions?: string[];
}

/** A registered dataset version. */
export interface DatasetVersion extends Omit<NewDatasetVersion, 'objects' | 'partitions'> {
  createdAt: string;
}

/** A directed lineage edge, e.g. raw partition → dataset version → model version. */
export interface LineageEdge {
  fromKind: string;
  fromId: string;
  toKind: string;
  toId: string;
}

/** Outcome of moving a tag. */
export interface TagMove {
  moved: boolean;
  from?: string;
}

/** Where a window takes one partition's rows from: the newest live version holding it. */
export interface PartitionSource {
  partition: string;
  versionId: string;
  /** The source version's own logical date. */
  logicalDate: string;
  createdAt: string;
}

/** When a tag may move: always, only forward in logical date, or only away from one version (compare-and-set). */
type MoveRule = { kind: 'always' } | { kind: 'forward' } | { kind: 'from'; versionId: string };

interface VersionRow {
  id: string;
  dataset: string;
  logical_date: string;
  manifest_key: string;
  rows: string;
  spec_hash: string;
  stats: Record<string, unknown>;
  created_at: Date;
}

// logical_date is a DATE; read it back as text so no time zone can shift it.
const VERSION_COLUMNS = `id, dataset, to_char(logical_date, 'YYYY-MM-DD') AS logical_date, manifest_key, rows,
  spec_hash, stats, created_at`;

function toVersion(r: VersionRow): DatasetVersion {
  return {
    id: r.id,
    dataset: r.dataset,
    logicalDate: r.logical_date,
    manifestKey: r.manifest_key,
    rows: num(r.rows),
    specHash: r.spec_hash,
    stats: r.stats,
    createdAt: iso(r.created_at),
  };
}

/** Audit subject of a dataset. */
export const datasetSubject = (dataset: string): string => `dataset:${dataset}`;

/** Datasets, their immutable versions and objects, movable tags, and lineage. */
export function createDatasetRepo(db: Queryable) {
  async function oneVersion(sql: string, params: unknown[]): Promise<DatasetVersion | undefined> {
    const { rows } = await db.query<VersionRow>(sql, params);
    return rows[0] && toVersion(rows[0]);
  }

  return {
    /** Create the dataset, or record its current spec hash. */
    async ensureDataset(name: string, specHash: string): Promise<void> {
      await db.query(
        `INSERT INTO datasets (name, spec_hash) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET spec_hash = EXCLUDED.spec_hash, updated_at = now()
         WHERE datasets.spec_hash <> EXCLUDED.spec_hash`,
        [name, specHash],
      );
    },

    /** Register a version with its objects in one transaction; created=false when the id was already there. */
    async insertVersion(v: NewDatasetVersion): Promise<{ created: boolean }> {
      const objects = [...new Map(v.objects.map((o) => [o.hash, o])).values()];
      return withTransaction(db, async (tx) => {
        await tx.query('INSERT INTO datasets (name, spec_hash) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [v.dataset, v.specHash]);
        const inserted = await tx.query(
          `INSERT INTO dataset_versions (id, dataset, logical_date, manifest_key, rows, spec_hash, stats)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
          [v.id, v.dataset, v.logicalDate, v.manifestKey, v.rows, v.specHash, JSON.stringify(v.stats)],
        );
        // A version committed before (a re-run, or a concurrent build of the same rows) may list other objects:
        // the same rows can be stored with another layout (base, delta, compaction). Objects of this commit that
        // the version does not list yet are added after its own, so gc keeps whatever either build's manifest
        // names; a plain re-run adds nothing, and a version gc has collected gets no links back. Two such commits at
        // once may both add a hash: the second insert then does nothing (ordinals may skip; only their order matters).
        const created = inserted.rowCount !== 0;
        await tx.query(
          `INSERT INTO dataset_chunks (hash, size, dataset)
           SELECT h, s, $3 FROM unnest($1::text[], $2::bigint[]) AS t (h, s) ON CONFLICT (hash) DO NOTHING`,
          [objects.map((o) => o.hash), objects.map((o) => o.size), v.dataset],
        );
        await tx.query(
          `INSERT INTO dataset_version_chunks (version_id, hash, ordinal)
           SELECT $1, hash, ordinal - 1 + (SELECT COALESCE(MAX(ordinal) + 1, 0) FROM dataset_version_chunks WHERE version_id = $1)
           FROM unnest($2::text[]) WITH ORDINALITY AS t (hash, ordinal)
           WHERE NOT EXISTS (SELECT 1 FROM dataset_version_chunks vc WHERE vc.version_id = $1 AND vc.hash = t.hash)
             AND NOT EXISTS (SELECT 1 FROM dataset_versions dv WHERE dv.id = $1 AND dv.collected_at IS NOT NULL)
           ON CONFLICT DO NOTHING`,
          [v.id, objects.map((o) => o.hash)],
        );
        // Same id, same partitions (the id covers them): a re-run adds nothing.
        await tx.query(
          `INSERT INTO dataset_version_partitions (version_id, dataset, partition)
           SELECT $1, $2, p FROM unnest($3::date[]) AS t (p) ON CONFLICT DO NOTHING`,
          [v.id, v.dataset, [...new Set([v.logicalDate, ...(v.partitions ?? [])])]],
        );
        return { created };
      });
    },

    /** One version by id. */
    getVersion: (id: string): Promise<DatasetVersion | undefined> =>
      oneVersion(`SELECT ${VERSION_COLUMNS} FROM dataset_versions WHERE id = $1`, [id]),

    /** Object hashes of a version, in manifest order. */
    async versionObjects(id: string): Promise<DatasetObject[]> {
      const { rows } = await db.query<{ hash: string; size: string }>(
        `SELECT o.hash, o.size FROM dataset_version_chunks vo JOIN dataset_chunks o USING (hash)
         WHERE vo.version_id = $1 ORDER BY vo.ordinal`,
        [id],
      );
      return rows.map((r) => ({ hash: r.hash, size: num(r.size) }));
    },

    /** The newest version built for one logical date. */
    versionForDate: (dataset: string, logicalDate: string): Promise<DatasetVersion | undefined> =>
      oneVersion(
        `SELECT ${VERSION_COLUMNS} FROM dataset_versions WHERE dataset = $1 AND logical_date = $2 AND collected_at IS NULL
         ORDER BY created_at DESC, id LIMIT 1`,
        [dataset, logicalDate],
      ),

    /** The newest version of the latest logical date strictly before beforeDate (the drift baseline). */
    previousVersion: (dataset: string, beforeDate: string): Promise<DatasetVersion | undefined> =>
      oneVersion(
        `SELECT ${VERSION_COLUMNS} FROM dataset_versions WHERE dataset = $1 AND logical_date < $2 AND collected_at IS NULL
         ORDER BY logical_date DESC, created_at DESC, id LIMIT 1`,
        [dataset, beforeDate],
      ),

    /** Point a tag at a version, with an audit row; a no-op when it already points there. */
    setTag: (dataset: string, tag: string, versionId: string, actor: string): Promise<TagMove> =>
      moveTag(db, dataset, tag, versionId, actor, { kind: 'always' }),

    /**
     * Point a tag at a version only if its logical date is on or after the current one's (the same day rebuilt
     * moves it): `latest` never goes back to older data when a day is processed after a later one. Decided in the
     * move's transaction, so two builds finishing at once cannot both win; moved=false when refused.
     */
    advanceTag: (dataset: string, tag: string, versionId: string, actor: string): Promise<TagMove> =>
      moveTag(db, dataset, tag, versionId, actor, { kind: 'forward' }),

    /** Point a tag back at `to` only if it still points at `from` (the saga's inverse of a move). */
    restoreTag: (dataset: string, tag: string, from: string, to: string, actor: string): Promise<TagMove> =>
      moveTag(db, dataset, tag, to, actor, { kind: 'from', versionId: from }),

    /**
     * The latest move of a tag to versionId that `actor` made, from the tag history: what it pointed at before
     * (from undefined: the tag was new). Undefined when that actor never moved it there. A retried activity gets the
     * same answer as the attempt that moved the tag, where reading the tag itself would give its own version.
     */
    async tagMoveBy(dataset: string, tag: string, versionId: string, actor: string): Promise<{ from?: string } | undefined> {
      const { rows } = await db.query<{ from_version: string | null }>(
        `SELECT from_version FROM dataset_tag_history WHERE dataset = $1 AND tag = $2 AND to_version = $3 AND actor = $4
         ORDER BY id DESC LIMIT 1`,
        [dataset, tag, versionId, actor],
      );
      const row = rows[0];
      if (!row) return undefined;
      return row.from_version === null ? {} : { from: row.from_version };
    },

    /** Remove a tag only if it still points at versionId (the saga's inverse of setTag); true when removed. */
    async removeTag(dataset: string, tag: string, versionId: string, actor: string): Promise<boolean> {
      return withTransaction(db, async (tx) => {
        const removed = await tx.query('DELETE FROM dataset_tags WHERE dataset = $1 AND tag = $2 AND version_id = $3', [
          dataset,
          tag,
          versionId,
        ]);
        if (removed.rowCount === 0) return false;
        await tx.query('INSERT INTO dataset_tag_history (dataset, tag, from_version, to_version, actor) VALUES ($1, $2, $3, NULL, $4)', [
          dataset,
          tag,
          versionId,
          actor,
        ]);
        await insertAudit(tx, {
          actor,
          action: 'dataset.tag.remove',
          subject: datasetSubject(dataset),
          details: { tag, from: versionId },
        });
        return true;
      });
    },

    /** The version a tag points at. */
    getTag: (dataset: string, tag: string): Promise<DatasetVersion | undefined> =>
      oneVersion(
        `SELECT ${VERSION_COLUMNS} FROM dataset_versions
         WHERE id = (SELECT version_id FROM dataset_tags WHERE dataset = $1 AND tag = $2)`,
        [dataset, tag],
      ),

    /**
     * Mark chunks live before a commit writes or reuses them (inserting rows for new ones). Waits for a
     * garbage collection holding one of them, so the commit then finds the chunk gone and writes it again.
     */
    async touchChunks(dataset: string, objects: Array<{ hash: string; size: number }>): Promise<void> {
      if (objects.length === 0) return;
      await db.query(
        `INSERT INTO dataset_chunks (hash, size, dataset, touched_at)
         SELECT h, s, $3, now() FROM unnest($1::text[], $2::bigint[]) AS t (h, s)
         ON CONFLICT (hash) DO UPDATE SET touched_at = now()`,
        [objects.map((o) => o.hash), objects.map((o) => o.size), dataset],
      );
    },

    /** Versions of a dataset, newest logical date first (collected ones included, marked). */
    async listVersions(dataset: string, limit = 100): Promise<Array<DatasetVersion & { collectedAt?: string; tags: string[] }>> {
      const { rows } = await db.query<VersionRow & { collected_at: Date | null; tags: string[] | null }>(
        `SELECT ${VERSION_COLUMNS}, collected_at,
                (SELECT array_agg(tag ORDER BY tag) FROM dataset_tags t WHERE t.version_id = v.id) AS tags
         FROM dataset_versions v WHERE dataset = $1 ORDER BY logical_date DESC, created_at DESC, id LIMIT $2`,
        [dataset, limit],
      );
      return rows.map((r) => ({
        ...toVersion(r),
        ...(r.collected_at ? { collectedAt: iso(r.collected_at) } : {}),
        tags: r.tags ?? [],
      }));
    },

    /** History of a tag's moves, oldest first. */
    async tagHistory(dataset: string, tag: string): Promise<Array<{ from?: string; to?: string; actor: string; at: string }>> {
      const { rows } = await db.query<{ from_version: string | null; to_version: string | null; actor: string; at: Date }>(
        'SELECT from_version, to_version, actor, at FROM dataset_tag_history WHERE dataset = $1 AND tag = $2 ORDER BY id',
        [dataset, tag],
      );
      return rows.map((r) => ({
        ...(r.from_version ? { from: r.from_version } : {}),
        ...(r.to_version ? { to: r.to_version } : {}),
        actor: r.actor,
        at: iso(r.at),
      }));
    },

    /**
     * Versions garbage collection must keep: tagged ones, ones a model version was trained on, the newest
     * `keepLast`, and any created within `keepDays`.
     */
    async retainedVersions(dataset: string, keepLast: number, keepDays: number): Promise<Set<string>> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id FROM dataset_versions v WHERE dataset = $1 AND collected_at IS NULL AND (
           EXISTS (SELECT 1 FROM dataset_tags t WHERE t.version_id = v.id)
           OR EXISTS (SELECT 1 FROM model_versions m WHERE m.dataset_version = v.id)
           OR created_at > now() - make_interval(days => $3)
           OR id IN (SELECT id FROM dataset_versions WHERE dataset = $1 AND collected_at IS NULL
                     ORDER BY logical_date DESC, created_at DESC, id LIMIT $2))`,
        [dataset, keepLast, keepDays],
      );
      return new Set(rows.map((r) => r.id));
    },

    /** Live (not collected) versions of a dataset. */
    async liveVersions(dataset: string): Promise<DatasetVersion[]> {
      const { rows } = await db.query<VersionRow>(
        `SELECT ${VERSION_COLUMNS} FROM dataset_versions WHERE dataset = $1 AND collected_at IS NULL ORDER BY logical_date, created_at, id`,
        [dataset],
      );
      return rows.map(toVersion);
    },

    /** Mark a version collected (its chunk links go: only live versions keep chunks alive); audited. */
    async collectVersion(id: string, actor: string): Promise<boolean> {
      return withTransaction(db, async (tx) => {
        const res = await tx.query<{ dataset: string }>(
          'UPDATE dataset_versions SET collected_at = now() WHERE id = $1 AND collected_at IS NULL RETURNING dataset',
          [id],
        );
        const row = res.rows[0];
        if (!row) return false;
        await tx.query('DELETE FROM dataset_version_chunks WHERE version_id = $1', [id]);
        await insertAudit(tx, { actor, action: 'dataset.version.collect', subject: datasetSubject(row.dataset), details: { version: id } });
        return true;
      });
    },

    /** Chunks of a dataset no live version references and no commit touched since `before`. */
    async unreferencedChunks(dataset: string, before: Date): Promise<Array<{ hash: string; size: number }>> {
      const { rows } = await db.query<{ hash: string; size: string }>(
        `SELECT hash, size FROM dataset_chunks c WHERE dataset = $1 AND touched_at < $2
         AND NOT EXISTS (SELECT 1 FROM dataset_version_chunks vc WHERE vc.hash = c.hash) ORDER BY hash`,
        [dataset, before],
      );
      return rows.map((r) => ({ hash: r.hash, size: num(r.size) }));
    },

    /**
     * Delete one chunk if it is still unreferenced and untouched since `before`: its row is locked while
     * `deleteObject` removes the blob, so a commit touching it waits and then writes it again. True when deleted.
     */
    async sweepChunk(hash: string, before: Date, deleteObject: () => Promise<void>): Promise<boolean> {
      return withTransaction(db, async (tx) => {
        const locked = await tx.query(
          `SELECT 1 FROM dataset_chunks c WHERE hash = $1 AND touched_at < $2
           AND NOT EXISTS (SELECT 1 FROM dataset_version_chunks vc WHERE vc.hash = c.hash) FOR UPDATE`,
          [hash, before],
        );
        if (locked.rowCount === 0) return false;
        await deleteObject();
        await tx.query('DELETE FROM dataset_chunks WHERE hash = $1', [hash]);
        return true;
      });
    },

    /** Record lineage edges; returns how many were new. */
    async addLineage(edges: LineageEdge[]): Promise<number> {
      if (edges.length === 0) return 0;
      const res = await db.query(
        `INSERT INTO lineage_edges (from_kind, from_id, to_kind, to_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
        [edges.map((e) => e.fromKind), edges.map((e) => e.fromId), edges.map((e) => e.toKind), edges.map((e) => e.toId)],
      );
      return res.rowCount ?? 0;
    },

    /**
     * For each partition in [from, to] that a live version holds, the newest such version (by commit time): where
     * a window takes that partition's rows. Partitions no live version holds are absent.
     */
    async partitionSources(dataset: string, from: string, to: string): Promise<PartitionSource[]> {
      const { rows } = await db.query<{ partition: string; id: string; logical_date: string; created_at: Date }>(
        `SELECT DISTINCT ON (p.partition) to_char(p.partition, 'YYYY-MM-DD') AS partition, v.id,
                to_char(v.logical_date, 'YYYY-MM-DD') AS logical_date, v.created_at
         FROM dataset_version_partitions p JOIN dataset_versions v ON v.id = p.version_id
         WHERE p.dataset = $1 AND p.partition BETWEEN $2::date AND $3::date AND v.collected_at IS NULL
         ORDER BY p.partition, v.created_at DESC, v.id`,
        [dataset, from, to],
      );
      return rows.map((r) => ({ partition: r.partition, versionId: r.id, logicalDate: r.logical_date, createdAt: iso(r.created_at) }));
    },

    /** The partitions a version holds, oldest first. */
    async versionPartitions(id: string): Promise<string[]> {
      const { rows } = await db.query<{ partition: string }>(
        `SELECT to_char(partition, 'YYYY-MM-DD') AS partition FROM dataset_version_partitions WHERE version_id = $1 ORDER BY partition`,
        [id],
      );
      return rows.map((r) => r.partition);
    },

    /** Edges leaving one node (what was derived from it). */
    lineageFrom: (kind: string, id: string): Promise<LineageEdge[]> => lineage(db, 'from_kind = $1 AND from_id = $2', [kind, id]),

    /** Edges entering one node (what it was derived from). */
    lineageTo: (kind: string, id: string): Promise<LineageEdge[]> => lineage(db, 'to_kind = $1 AND to_id = $2', [kind, id]),
  };
}

/** Move a tag under `rule`, with a tag history row and an audit row; a no-op when it already points there. */
async function moveTag(db: Queryable, dataset: string, tag: string, versionId: string, actor: string, rule: MoveRule): Promise<TagMove> {
  return withTransaction(db, async (tx) => {
    const version = await tx.query<{ dataset: string; logical_date: string }>(
      `SELECT dataset, to_char(logical_date, 'YYYY-MM-DD') AS logical_date FROM dataset_versions WHERE id = $1`,
      [versionId],
    );
    const target = version.rows[0];
    if (target?.dataset !== dataset) {
      throw new RegistryInvariantError(`Cannot tag ${versionId} as ${dataset}:${tag}: not a version of ${dataset}`);
    }
    // Locking the dataset row serializes tag moves, so "from" (and the rule's check) is exact even when the tag is new.
    await tx.query('SELECT 1 FROM datasets WHERE name = $1 FOR UPDATE', [dataset]);
    const current = await tx.query<{ version_id: string; logical_date: string }>(
      `SELECT t.version_id, to_char(v.logical_date, 'YYYY-MM-DD') AS logical_date
       FROM dataset_tags t JOIN dataset_versions v ON v.id = t.version_id WHERE t.dataset = $1 AND t.tag = $2`,
      [dataset, tag],
    );
    const from = current.rows[0]?.version_id;
    if (from === versionId) return { moved: false, from };
    // YYYY-MM-DD strings compare as dates.
    if (rule.kind === 'forward' && current.rows[0] && current.rows[0].logical_date > target.logical_date) return { moved: false, from };
    if (rule.kind === 'from' && from !== rule.versionId) return from === undefined ? { moved: false } : { moved: false, from };
    await tx.query(
      `INSERT INTO dataset_tags (dataset, tag, version_id) VALUES ($1, $2, $3)
       ON CONFLICT (dataset, tag) DO UPDATE SET version_id = EXCLUDED.version_id, updated_at = now()`,
      [dataset, tag, versionId],
    );
    await tx.query('INSERT INTO dataset_tag_history (dataset, tag, from_version, to_version, actor) VALUES ($1, $2, $3, $4, $5)', [
      dataset,
      tag,
      from ?? null,
      versionId,
      actor,
    ]);
    await insertAudit(tx, {
      actor,
      action: 'dataset.tag.set',
      subject: datasetSubject(dataset),
      details: { tag, from: from ?? null, to: versionId },
    });
    return from === undefined ? { moved: true } : { moved: true, from };
  });
}

async function lineage(db: Queryable, where: string, params: string[]): Promise<LineageEdge[]> {
  const { rows } = await db.query<{
    from_kind: string;
    from_id: string;
    to_kind: string;
    to_id: string;
  }>(`SELECT from_kind, from_id, to_kind, to_id FROM lineage_edges WHERE ${where} ORDER BY id`, params);
  return rows.map((r) => ({
    fromKind: r.from_kind,
    fromId: r.from_id,
    toKind: r.to_kind,
    toId: r.to_id,
  }));
}

/** The dataset repository. */
export type DatasetRepo = ReturnType<typeof createDatasetRepo>;
