import type pg from 'pg';
import type { Queryable } from './db';
import { iso, num, withTransaction } from './db';
import { insertAudit } from './audit';
import { RegistryNotFoundError, RoutingConflictError } from './errors';
import { modelSubject } from './models';

/** Routing state of one served model: the champion, and at most one candidate taking candidateWeight % of traffic. */
export interface Deployment {
  model: string;
  championVersion: string;
  candidateVersion: string | null;
  /** Percent of requests (0–100) routed to the candidate. */
  candidateWeight: number;
  /** Bumped on every routing change; predictions carry it, so live metrics are read per generation. */
  generation: number;
  updatedAt: string;
}

/** Input of setRouting. */
export interface RoutingChange {
  model: string;
  candidateVersion: string;
  weight: number;
  /** When given, the current candidate must be exactly this (null: no candidate yet). */
  expectCandidate?: string | null;
  actor?: string;
}

interface DeploymentRow {
  model: string;
  champion_version: string;
  candidate_version: string | null;
  candidate_weight: number;
  generation: string;
  updated_at: Date;
}

const DEFAULT_ACTOR = 'trainset';

function toDeployment(r: DeploymentRow): Deployment {
  return {
    model: r.model,
    championVersion: r.champion_version,
    candidateVersion: r.candidate_version,
    candidateWeight: r.candidate_weight,
    generation: num(r.generation),
    updatedAt: iso(r.updated_at),
  };
}

async function current(q: Queryable, model: string): Promise<Deployment | undefined> {
  const { rows } = await q.query<DeploymentRow>('SELECT * FROM deployments WHERE model = $1', [model]);
  return rows[0] && toDeployment(rows[0]);
}

async function required(q: Queryable, model: string): Promise<Deployment> {
  const d = await current(q, model);
  if (!d) throw new RegistryNotFoundError('deployment of model', model);
  return d;
}

/**
 * Apply a conditional routing UPDATE (its WHERE is the compare-and-set) and audit it when it
 * matched; returns the new state, or undefined when the condition did not hold.
 */
async function applyIf(tx: pg.PoolClient, sql: string, params: unknown[], actor: string, action: string): Promise<Deployment | undefined> {
  const { rows } = await tx.query<DeploymentRow>(`${sql} RETURNING *`, params);
  const row = rows[0];
  if (!row) return undefined;
  const d = toDeployment(row);
  await insertAudit(tx, {
    actor,
    action,
    subject: modelSubject(d.model),
    details: {
      champion: d.championVersion,
      candidate: d.candidateVersion,
      weight: d.candidateWeight,
      generation: d.generation,
    },
  });
  return d;
}

/** Routing state per model; every change is a compare-and-set that bumps the generation. */
export function createDeploymentRepo(db: Queryable) {
  return {
    /** Current routing state, if the model is deployed. */
    getDeployment: (model: string): Promise<Deployment | undefined> => current(db, model),

    /** First deployment of a model: 100 % to championVersion. An existing deployment is left as it is and returned. */
    async initDeployment(model: string, championVersion: string, actor = DEFAULT_ACTOR): Promise<Deployment> {
      return withTransaction(db, async (tx) => {
        const created = await applyIf(
          tx,
          'INSERT INTO deployments (model, champion_version) VALUES ($1, $2) ON CONFLICT (model) DO NOTHING',
          [model, championVersion],
          actor,
          'deployment.init',
        );
        return created ?? required(tx, model);
      });
    },

    /**
     * Route weight % to candidateVersion. Applies only when there is no candidate or it is already
     * candidateVersion (and equals expectCandidate when given); returns the unchanged generation
     * when the state already matches. Throws RoutingConflictError otherwise.
     */
    async setRouting(c: RoutingChange): Promise<{ generation: number; changed: boolean }> {
      if (!Number.isInteger(c.weight) || c.weight < 0 || c.weight > 100) {
        throw new RangeError(`Candidate weight must be an integer from 0 to 100, got ${c.weight}`);
      }
      const checkExpected = c.expectCandidate !== undefined;
      return withTransaction(db, async (tx) => {
        const applied = await applyIf(
          tx,
          `UPDATE deployments SET candidate_version = $2, candidate_weight = $3, generation = generation + 1, updated_at = now()
           WHERE model = $1
             AND (candidate_version IS NULL OR candidate_version = $2)
             AND (NOT $4::boolean OR candidate_version IS NOT DISTINCT FROM $5::text)
             AND NOT (candidate_version IS NOT DISTINCT FROM $2 AND candidate_weight = $3)`,
          [c.model, c.candidateVersion, c.weight, checkExpected, c.expectCandidate ?? null],
          c.actor ?? DEFAULT_ACTOR,
          'deployment.routing',
        );
        if (applied) return { generation: applied.generation, changed: true };
        const d = await required(tx, c.model);
        if (d.candidateVersion === c.candidateVersion && d.candidateWeight === c.weight) {
          return { generation: d.generation, changed: false };
        }
        throw new RoutingConflictError(c.model, checkExpected ? (c.expectCandidate ?? null) : c.candidateVersion, d.candidateVersion);
      });
    },

    /** Send all traffic back to the champion, only if candidateVersion is still the candidate (saga inverse of setRouting). */
    async clearCandidate(
      model: string,
      candidateVersion: string,
      actor = DEFAULT_ACTOR,
    ): Promise<{ generation: number; cleared: boolean }> {
      return withTransaction(db, async (tx) => {
        const applied = await applyIf(
          tx,
          `UPDATE deployments SET candidate_version = NULL, candidate_weight = 0, generation = generation + 1, updated_at = now()
           WHERE model = $1 AND candidate_version = $2`,
          [model, candidateVersion],
          actor,
          'deployment.clear-candidate',
        );
        if (applied) return { generation: applied.generation, cleared: true };
        return {
          generation: (await required(tx, model)).generation,
          cleared: false,
        };
      });
    },

    /** Make candidateVersion the champion with 100 % of traffic; idempotent once done, RoutingConflictError if another candidate is in place. */
    async promote(model: string, candidateVersion: string, actor = DEFAULT_ACTOR): Promise<{ generation: number; promoted: boolean }> {
      return withTransaction(db, async (tx) => {
        const applied = await applyIf(
          tx,
          `UPDATE deployments SET champion_version = candidate_version, candidate_version = NULL, candidate_weight = 0,
             generation = generation + 1, updated_at = now()
           WHERE model = $1 AND candidate_version = $2`,
          [model, candidateVersion],
          actor,
          'deployment.promote',
        );
        if (applied) return { generation: applied.generation, promoted: true };
        const d = await required(tx, model);
        if (d.championVersion === candidateVersion && d.candidateVersion === null) {
          return { generation: d.generation, promoted: false };
        }
        throw new RoutingConflictError(model, candidateVersion, d.candidateVersion);
      });
    },

    /** Put version back as champion with 100 % of traffic, dropping any candidate (rollback of a promoted model). */
    async setChampion(model: string, version: string, actor = DEFAULT_ACTOR): Promise<{ generation: number; changed: boolean }> {
      return withTransaction(db, async (tx) => {
        const applied = await applyIf(
          tx,
          `UPDATE deployments SET champion_version = $2, candidate_version = NULL, candidate_weight = 0,
             generation = generation + 1, updated_at = now()
           WHERE model = $1 AND (champion_version <> $2 OR candidate_version IS NOT NULL)`,
          [model, version],
          actor,
          'deployment.set-champion',
        );
        if (applied) return { generation: applied.generation, changed: true };
        return {
          generation: (await required(tx, model)).generation,
          changed: false,
        };
      });
    },
  };
}

/** The deployment repository. */
export type DeploymentRepo = ReturnType<typeof createDeploymentRepo>;
