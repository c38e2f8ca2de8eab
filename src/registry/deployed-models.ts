/** What a gateway serving every deployed model reads and writes beyond the per-aggregate repositories. */
import type { Queryable } from './db';
import { num } from './db';

/** Routing of one deployed model, as the gateway polls it. */
export interface DeployedRouting {
  model: string;
  championVersion: string;
  candidateVersion: string | null;
  candidateWeight: number;
  generation: number;
}

/** The routing of every model that has a deployment, in one query (the gateway polls it several times a second). */
export async function listDeployedRouting(db: Queryable): Promise<DeployedRouting[]> {
  const { rows } = await db.query<{
    model: string;
    champion_version: string;
    candidate_version: string | null;
    candidate_weight: number;
    generation: string;
  }>('SELECT model, champion_version, candidate_version, candidate_weight, generation FROM deployments ORDER BY model');
  return rows.map((r) => ({
    model: r.model,
    championVersion: r.champion_version,
    candidateVersion: r.candidate_version,
    candidateWeight: r.candidate_weight,
    generation: num(r.generation),
  }));
}
