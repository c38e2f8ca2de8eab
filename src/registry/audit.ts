import type { Queryable } from './db';
import { iso, num } from './db';

/** One thing someone (a person or a workflow) did to the registry. */
export interface AuditEntry {
  actor: string;
  action: string;
  subject: string;
  details?: Record<string, unknown>;
}

/** A stored audit row. */
export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  at: string;
}

interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

/** Append one audit row through db (the pool, or the client of a running transaction). */
export async function insertAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4)', [
    entry.actor,
    entry.action,
    entry.subject,
    JSON.stringify(entry.details ?? {}),
  ]);
}

/** The audit log: append-only record of tag, alias, status and routing changes. */
export function createAuditRepo(db: Queryable) {
  return {
    /** Append one entry. */
    record: (entry: AuditEntry): Promise<void> => insertAudit(db, entry),

    /** Entries, oldest first; only those about subject when given. */
    async list(subject?: string, limit = 1000): Promise<AuditRecord[]> {
      const { rows } = await db.query<AuditRow>(
        `SELECT id, at, actor, action, subject, details FROM audit_log
         WHERE $1::text IS NULL OR subject = $1 ORDER BY id LIMIT $2`,
        [subject ?? null, limit],
      );
      return rows.map((r) => ({ ...r, id: num(r.id), at: iso(r.at) }));
    },
  };
}

/** The audit repository. */
export type AuditRepo = ReturnType<typeof createAuditRepo>;
