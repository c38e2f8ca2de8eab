import type pg from 'pg';
import { z } from 'zod';
import type { Queryable } from './db';
import { iso, num, withTransaction } from './db';
import { insertAudit } from './audit';
import { RegistryInvariantError, RegistryNotFoundError } from './errors';
import type { EpochRecord, ExperimentRecord } from '../shared/types';

/** Lifecycle of a model version. */
export type ModelVersionStatus = 'registered' | 'candidate' | 'champion' | 'rejected' | 'retired';

/** One epoch of a training run as the trainer reported it (the training activity's EpochRecord). */
export type ExperimentEpoch = EpochRecord;

/** The experiment record of the training job that produced a version (the training activity's ExperimentRecord). */
export type ModelVersionExperiment = ExperimentRecord;

const count = z.number().int().nonnegative();
const seconds = z.number().nonnegative();
/** Checks an experiment record before it is stored (unknown extra fields are kept). */
export const ModelVersionExperimentSchema = z.looseObject({
  hyperparameters: z.record(z.string(), z.unknown()),
  trainer: z.looseObject({ backend: z.string().min(1), identity: z.string(), digest: z.string() }),
  epochs: z.array(
    z.looseObject({
      epoch: count,
      loss: z.number().optional(),
      metrics: z.record(z.string(), z.number()).optional(),
      seconds: seconds.optional(),
    }),
  ),
  gpus: count,
  gpuSeconds: seconds,
  wallSeconds: seconds,
  devices: z.array(z.string()).optional(),
  resumedFromEpoch: count.optional(),
  trainerMetrics: z.record(z.string(), z.unknown()).optional(),
});

/** What the training stage registers. */
export interface NewModelVersion {
  id: string;
  model: string;
  datasetVersion: string;
  artifactKey: string;
  metrics: Record<string, unknown>;
  trainer: Record<string, unknown>;
  /** Attempt-independent key of the training job: the idempotency key of registration. */
  jobKey: string;
  /** The training job's experiment record; absent for versions registered without one. */
  experiment?: ModelVersionExperiment;
}

/** A registered model version. */
export interface ModelVersion extends NewModelVersion {
  /** 1, 2, 3… per model, in registration order. */
  version: number;
  status: ModelVersionStatus;
  createdAt: string;
}

/** Input of moveAlias. */
export interface AliasMove {
  model: string;
  alias: string;
  /** Version id to point at, or null to clear the alias. */
  toVersion: string | null;
  actor: string;
  reason: string;
  workflowId?: string;
}

/** One past alias move. */
export interface AliasHistoryEntry {
  id: number;
  model: string;
  alias: string;
  fromVersion: string | null;
  toVersion: string | null;
  actor: string;
  reason: string;
  workflowId: string | null;
  at: string;
}

interface VersionRow {
  id: string;
  model: string;
  version: number;
  dataset_version: string;
  artifact_key: string;
  metrics: Record<string, unknown>;
  trainer: Record<string, unknown>;
  status: ModelVersionStatus;
  job_key: string;
  created_at: Date;
  experiment: ModelVersionExperiment | null;
}

const VERSION_COLUMNS = 'id, model, version, dataset_version, artifact_key, metrics, trainer, status, job_key, created_at, experiment';

function toVersion(r: VersionRow): ModelVersion {
  return {
    id: r.id,
    model: r.model,
    version: r.version,
    datasetVersion: r.dataset_version,
    artifactKey: r.artifact_key,
    metrics: r.metrics,
    trainer: r.trainer,
    status: r.status,
    jobKey: r.job_key,
    createdAt: iso(r.created_at),
    ...(r.experiment === null ? {} : { experiment: r.experiment }),
  };
}

/** The experiment as stored (JSON text), or null; throws RegistryInvariantError naming the bad field. */
function experimentJson(v: NewModelVersion): string | null {
  if (v.experiment === undefined) return null;
  const parsed = ModelVersionExperimentSchema.safeParse(v.experiment);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(record)';
    throw new RegistryInvariantError(
      `The experiment record of model version ${v.id} is malformed at ${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return JSON.stringify(parsed.data);
}

/** Audit subject of a model. */
export const modelSubject = (model: string): string => `model:${model}`;

/** Create the model row if needed and lock it: serializes alias moves, registrations and promotions of one model. */
export async function lockModel(tx: pg.PoolClient, model: string): Promise<void> {
  await tx.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [model]);
  await tx.query('SELECT 1 FROM models WHERE name = $1 FOR UPDATE', [model]);
}

/** One version by id, through q (the pool or a transaction's client). */
export async function versionById(q: Queryable, id: string): Promise<ModelVersion | undefined> {
  const { rows } = await q.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE id = $1`, [id]);
  return rows[0] && toVersion(rows[0]);
}

/** The version an alias points at, through q. */
export async function aliasTarget(q: Queryable, model: string, alias: string): Promise<ModelVersion | undefined> {
  const { rows } = await q.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM model_versions
     WHERE id = (SELECT version_id FROM model_aliases WHERE model = $1 AND alias = $2)`,
    [model, alias],
  );
  return rows[0] && toVersion(rows[0]);
}

/** Ids of a model's versions that have status. */
export async function versionsWithStatus(q: Queryable, model: string, status: ModelVersionStatus): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>('SELECT id FROM model_versions WHERE model = $1 AND status = $2 ORDER BY version', [
    model,
    status,
  ]);
  return rows.map((r) => r.id);
}

/** setStatus on a transaction's client: the status change and its audit row commit with the caller's other writes. */
export async function setStatusIn(
  tx: pg.PoolClient,
  id: string,
  status: ModelVersionStatus,
  actor: string,
  reason: string,
): Promise<boolean> {
  const { rows } = await tx.query<{
    model: string;
    status: ModelVersionStatus;
  }>('SELECT model, status FROM model_versions WHERE id = $1 FOR UPDATE', [id]);
  const row = rows[0];
  if (!row) throw new RegistryNotFoundError('model version', id);
  if (row.status === status) return false;
  await tx.query('UPDATE model_versions SET status = $2, updated_at = now() WHERE id = $1', [id, status]);
  await insertAudit(tx, {
    actor,
    action: 'model.version.status',
    subject: modelSubject(row.model),
    details: { version: id, from: row.status, to: status, reason },
  });
  return true;
}

/** moveAlias on a transaction's client: the alias, its history row and its audit row commit with the caller's other writes. */
export async function moveAliasIn(tx: pg.PoolClient, m: AliasMove): Promise<{ moved: boolean; from?: string }> {
  if (m.toVersion !== null) {
    const target = await versionById(tx, m.toVersion);
    if (!target) throw new RegistryNotFoundError('model version', m.toVersion);
    if (target.model !== m.model) {
      throw new RegistryInvariantError(`Version ${m.toVersion} belongs to model ${target.model}, not ${m.model}`);
    }
  }
  // Serializes alias moves per model so the history's "from" is exact.
  await lockModel(tx, m.model);
  const current = await tx.query<{ version_id: string }>('SELECT version_id FROM model_aliases WHERE model = $1 AND alias = $2', [
    m.model,
    m.alias,
  ]);
  const from = current.rows[0]?.version_id;
  const fromResult = from === undefined ? {} : { from };
  if ((from ?? null) === m.toVersion) return { moved: false, ...fromResult };
  if (m.toVersion === null) {
    await tx.query('DELETE FROM model_aliases WHERE model = $1 AND alias = $2', [m.model, m.alias]);
  } else {
    await tx.query(
      `INSERT INTO model_aliases (model, alias, version_id) VALUES ($1, $2, $3)
       ON CONFLICT (model, alias) DO UPDATE SET version_id = EXCLUDED.version_id, updated_at = now()`,
      [m.model, m.alias, m.toVersion],
    );
  }
  await tx.query(
    `INSERT INTO model_alias_history (model, alias, from_version, to_version, actor, reason, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [m.model, m.alias, from ?? null, m.toVersion, m.actor, m.reason, m.workflowId ?? null],
  );
  await insertAudit(tx, {
    actor: m.actor,
    action: 'model.alias.move',
    subject: modelSubject(m.model),
    details: {
      alias: m.alias,
      from: from ?? null,
      to: m.toVersion,
      reason: m.reason,
      workflowId: m.workflowId ?? null,
    },
  });
  return { moved: true, ...fromResult };
}

/** Every move of a model's aliases, oldest first, through q. */
export async function aliasHistoryOf(q: Queryable, model: string): Promise<AliasHistoryEntry[]> {
  const { rows } = await q.query<{
    id: string;
    model: string;
    alias: string;
    from_version: string | null;
    to_version: string | null;
    actor: string;
    reason: string;
    workflow_id: string | null;
    at: Date;
  }>('SELECT * FROM model_alias_history WHERE model = $1 ORDER BY id', [model]);
  return rows.map((r) => ({
    id: num(r.id),
    model: r.model,
    alias: r.alias,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    actor: r.actor,
    reason: r.reason,
    workflowId: r.workflow_id,
    at: iso(r.at),
  }));
}

/** Models, their numbered versions, lifecycle status and aliases (champion, …) with history. */
export function createModelRepo(db: Queryable) {
  return {
    /** Create the model if it does not exist. */
    async ensureModel(name: string): Promise<void> {
      await db.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
    },

    /** Register a trained version under the next number; returns the existing row when jobKey was registered before. */
    async registerVersion(v: NewModelVersion): Promise<ModelVersion> {
      const experiment = experimentJson(v);
      return withTransaction(db, async (tx) => {
        // The model row lock makes "next number" race-free across concurrent registrations.
        await lockModel(tx, v.model);
        const { rows } = await tx.query<VersionRow>(
          `INSERT INTO model_versions (id, model, version, dataset_version, artifact_key, metrics, trainer, job_key, experiment)
           SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8 FROM model_versions WHERE model = $2
           ON CONFLICT DO NOTHING
           RETURNING ${VERSION_COLUMNS}`,
          [v.id, v.model, v.datasetVersion, v.artifactKey, JSON.stringify(v.metrics), JSON.stringify(v.trainer), v.jobKey, experiment],
        );
        if (rows[0]) return toVersion(rows[0]);
        const existing = await tx.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE job_key = $1`, [v.jobKey]);
        if (!existing.rows[0]) {
          throw new RegistryInvariantError(`Model version id ${v.id} is already registered for another training job`);
        }
        return toVersion(existing.rows[0]);
      });
    },

    /** One version by id. */
    getVersion: (id: string): Promise<ModelVersion | undefined> => versionById(db, id),

    /** Versions of a model, newest first. */
    async listVersions(model: string): Promise<ModelVersion[]> {
      const { rows } = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 ORDER BY version DESC`, [
        model,
      ]);
      return rows.map(toVersion);
    },

    /** Change a version's status with an audit row; false (and no audit) when it already had that status. */
    setStatus: (id: string, status: ModelVersionStatus, actor: string, reason: string): Promise<boolean> =>
      withTransaction(db, (tx) => setStatusIn(tx, id, status, actor, reason)),

    /** The version an alias points at. */
    getAlias: (model: string, alias: string): Promise<ModelVersion | undefined> => aliasTarget(db, model, alias),

    /** Move (or clear) an alias with a history row and an audit row; moved=false when already there. */
    moveAlias: (m: AliasMove): Promise<{ moved: boolean; from?: string }> => withTransaction(db, (tx) => moveAliasIn(tx, m)),

    /** Every move of a model's aliases, oldest first. */
    aliasHistory: (model: string): Promise<AliasHistoryEntry[]> => aliasHistoryOf(db, model),
  };
}

/** The model repository. */
export type ModelRepo = ReturnType<typeof createModelRepo>;
