import { sql } from "drizzle-orm";
import { auditEvents } from "../db/schema";
import type { Db, Principal } from "../http/context";

/** Fields stored encrypted: the audit trail names them as changed, never with their values. */
export const ENCRYPTED_JOB_FIELDS = new Set(["access_details", "private_contact_name", "private_contact_email"]);

export type Changes = Record<string, { before: unknown; after: unknown } | { changed: true }>;

export interface AuditInput {
  /** Set when the caller may need to delete this exact event again (an upload's rollback). */
  uuid?: string;
  jobId: number | null;
  jobUuid: string | null;
  actor: Pick<Principal, "userId" | "name"> | { userId: null; name: string };
  action: string;
  changes?: Changes | Record<string, unknown>;
}

/** An audit event insert, to run in the same D1 batch as the change it records. */
export function auditEvent(db: Db, e: AuditInput) {
  return db.insert(auditEvents).values({
    uuid: e.uuid ?? crypto.randomUUID(),
    jobId: e.jobId,
    jobUuid: e.jobUuid,
    actorUserId: e.actor.userId,
    actorName: e.actor.name,
    action: e.action,
    changes: e.changes ? JSON.stringify(e.changes) : null,
  });
}

/**
 * An audit event that is written only if the statement just before it in the batch changed a
 * row (SQLite's changes()), for guarded updates (`... WHERE status = expected`) whose audit must
 * not claim a change that did not happen.
 */
export function auditEventIfChanged(db: Db, e: AuditInput) {
  // Columns in table order: id, uuid, job_id, job_uuid, actor_user_id, actor_name, action, changes, created_at.
  return db
    .insert(auditEvents)
    .select(
      sql`SELECT NULL, ${crypto.randomUUID()}, ${e.jobId}, ${e.jobUuid}, ${e.actor.userId}, ${e.actor.name}, ${e.action}, ${
        e.changes ? JSON.stringify(e.changes) : null
      }, strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE changes() > 0`,
    );
}

/** Before/after pairs for the fields that differ; encrypted fields only as {changed: true}. */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>): Changes {
  const out: Changes = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (JSON.stringify(old ?? null) === JSON.stringify(value ?? null)) continue;
    out[key] = ENCRYPTED_JOB_FIELDS.has(key) ? { changed: true } : { before: old ?? null, after: value ?? null };
  }
  return out;
}
