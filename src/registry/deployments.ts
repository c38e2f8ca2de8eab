import type pg from 'pg';
import type { Queryable } from './db';
import { iso, num, withTransaction } from './db';
import { insertAudit } from './audit';
import { ErrorType, TrainsetError } from '../shared/errors';
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
  /** When given, the deployment must be at this generation (the one the caller's previous step produced). */
  expectGeneration?: number;
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

/** A routing write's compare-and-set on the deployment's generation failed: someone else changed the routing since (RoutingConflict). */
export class DeploymentMovedError extends TrainsetError {
  constructor(
    readonly model: string,
    readonly expectedGeneration: number | null,
    readonly actualGeneration: number | null,
    why: string,
  ) {
    super(
      `Routing of model ${model} is at generation ${actualGeneration ?? '(no deployment)'}, expected ${expectedGeneration ?? '(no deployment)'}: ${why}; re-read the deployment before retrying`,
      { type: ErrorType.RoutingConflict },
    );
    this.name = 'DeploymentMovedError';
  }
}

/** The model's routing state through q (the pool or a transaction's client); forUpdate locks the row until commit. */
export async function deploymentOf(q: Queryable, model: string, forUpdate = false): Promise<Deployment | undefined> {
  const { rows } = await q.query<DeploymentRow>(`SELECT * FROM deployments WHERE model = $1${forUpdate ? ' FOR UPDATE' : ''}`, [model]);
  return rows[0] && toDeployment(rows[0]);
}

async function required(q: Queryable, model: string): Promise<Deployment> {
  const d = await deploymentOf(q, model);
  if (!d) throw new RegistryNotFoundError('deployment of model', model);
  return d;
}

function routingAudit(d: Deployment): Record<string, unknown> {
  return { champion: d.championVersion, candidate: d.candidateVersion, weight: d.candidateWeight, generation: d.generation };
}

/**
 * Apply a conditional routing write (its WHERE is the compare-and-set) and audit it when it
 * matched; returns the new state, or undefined when the condition did not hold.
 */
async function applyIf(tx: pg.PoolClient, sql: string, params: unknown[], actor: string, action: string): Promise<Deployment | undefined> {
  const { rows } = await tx.query<DeploymentRow>(`${sql} RETURNING *`, params);
  const row = rows[0];
  if (!row) return undefined;
  const d = toDeployment(row);
  await insertAudit(tx, { actor, action, subject: modelSubject(d.model), details: routingAudit(d) });
  return d;
}

/**
 * Create a model's first deployment (100 % to championVersion, at generation firstGeneration) with its audit row, on
 * a transaction's client; undefined when the model already has one.
 */
export function createDeploymentIn(
  tx: pg.PoolClient,
  model: string,
  championVersion: string,
  actor: string,
  firstGeneration = 1,
): Promise<Deployment | undefined> {
  return applyIf(
    tx,
    'INSERT INTO deployments (model, champion_version, generation) VALUES ($1, $2, $3) ON CONFLICT (model) DO NOTHING',
    [model, championVersion, firstGeneration],
    actor,
    'deployment.init',
  );
}

/**
 * Give version 100 % of traffic as champion, dropping any candidate, if the deployment is still at expectGeneration
 * (compare-and-set), with its audit row (action), on a transaction's client; undefined when the generation moved.
 */
export function setChampionIn(
  tx: pg.PoolClient,
  c: { model: string; version: string; expectGeneration: number; actor: string; action: string },
): Promise<Deployment | undefined> {
  return applyIf(
    tx,
    `UPDATE deployments SET champion_version = $2, candidate_version = NULL, candidate_weight = 0,
       generation = generation + 1, updated_at = now()
     WHERE model = $1 AND generation = $3`,
    [c.model, c.version, c.expectGeneration],
    c.actor,
    c.action,
  );
}

/** clearCandidate on a transaction's client: undefined when candidateVersion is not the candidate. */
export function clearCandidateIn(
  tx: pg.PoolClient,
  model: string,
  candidateVersion: string,
  actor: string,
): Promise<Deployment | undefined> {
  return applyIf(
    tx,
    `UPDATE deployments SET candidate_version = NULL, candidate_weight = 0, generation = generation + 1, updated_at = now()
     WHERE model = $1 AND candidate_version = $2`,
    [model, candidateVersion],
    actor,
    'deployment.clear-candidate',
  );
}

/**
 * Remove a model's deployment if it is still at expectGeneration (undoing a first model's promotion), with its audit
 * row, on a transaction's client; returns the removed state, undefined when the generation moved.
 */
export function removeDeploymentIn(
  tx: pg.PoolClient,
  model: string,
  expectGeneration: number,
  actor: string,
): Promise<Deployment | undefined> {
  return applyIf(tx, 'DELETE FROM deployments WHERE model = $1 AND generation = $2', [model, expectGeneration], actor, 'deployment.remove');
}

/** Routing state per model; every change is a compare-and-set that bumps the generation. */
export function createDeploymentRepo(db: Queryable) {
  return {
    /** Current routing state, if the model is deployed. */
    getDeployment: (model: string): Promise<Deployment | undefined> => deploymentOf(db, model),

    /** First deployment of a model: 100 % to championVersion. An existing deployment is left as it is and returned. */
    async initDeployment(model: string, championVersion: string, actor = DEFAULT_ACTOR): Promise<Deployment> {
      return withTransaction(db, async (tx) => (await createDeploymentIn(tx, model, championVersion, actor)) ?? required(tx, model));
    },

    /**
     * Route weight % to candidateVersion. Applies only when there is no candidate or it is already
     * candidateVersion (and equals expectCandidate when given, and the generation is expectGeneration when given);
     * returns the unchanged generation when the state already matches. Throws RoutingConflictError (another
     * candidate) or DeploymentMovedError (another generation) otherwise.
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
             AND ($6::bigint IS NULL OR generation = $6::bigint)
             AND NOT (candidate_version IS NOT DISTINCT FROM $2 AND candidate_weight = $3)`,
          [c.model, c.candidateVersion, c.weight, checkExpected, c.expectCandidate ?? null, c.expectGeneration ?? null],
          c.actor ?? DEFAULT_ACTOR,
          'deployment.routing',
        );
        if (applied) return { generation: applied.generation, changed: true };
        const d = await required(tx, c.model);
        // A retried write finds its own result in place (its generation then is one past expectGeneration).
        if (d.candidateVersion === c.candidateVersion && d.candidateWeight === c.weight) {
          return { generation: d.generation, changed: false };
        }
        if (c.expectGeneration !== undefined && d.generation !== c.expectGeneration) {
          throw new DeploymentMovedError(c.model, c.expectGeneration, d.generation, `not routing ${c.weight} % to ${c.candidateVersion}`);
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
        const applied = await clearCandidateIn(tx, model, candidateVersion, actor);
        if (applied) return { generation: applied.generation, cleared: true };
        return { generation: (await required(tx, model)).generation, cleared: false };
      });
    },
  };
}

/** The deployment repository. */
export type DeploymentRepo = ReturnType<typeof createDeploymentRepo>;
