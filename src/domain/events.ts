import { sql } from "drizzle-orm";
import type { Db } from "../db/db";
import { auditEvents } from "../db/schema";
import type { Actor } from "./caller";
import { ENCRYPTED_JOB_FIELDS } from "./job-fields";

/**
 * The record of what happened: one audit event per change, written in the same D1 batch as the
 * change itself (D1 runs a batch as one transaction), so an event exists exactly when its change
 * does. This table is the outbox: the audit trail reads it, and so do consumers that must learn of
 * every change (webhooks, the dashboard's activity, `updated_since` polling), in `id` order.
 *
 * `action` is the event type (`job.created`, `job.updated`, `recall.raised`, …); `changes` holds
 * {field: {before, after}} with encrypted fields only as {changed: true}, never their values.
 */

export type Changes = Record<string, { before: unknown; after: unknown } | { changed: true }>;

export interface EventInput {
  /** Set when the caller may need to delete this exact event again (an upload's rollback). */
  uuid?: string;
  jobId: number | null;
  jobUuid: string | null;
  actor: Actor;
  action: string;
  changes?: Changes | Record<string, unknown>;
}

/**
 * The one way a change is recorded: an insert to run in the change's own batch. With
 * `{ ifChanged: true }` the event is written only if the statement just before it in the batch
 * changed a row (SQLite's changes()), for guarded updates (`... WHERE status = expected`) whose
 * event must not claim a change that did not happen.
 */
export function recordEvent(db: Db, e: EventInput, opts: { ifChanged?: boolean } = {}) {
  const uuid = e.uuid ?? crypto.randomUUID();
  const changes = e.changes ? JSON.stringify(e.changes) : null;
  if (!opts.ifChanged) {
    return db.insert(auditEvents).values({
      uuid,
      jobId: e.jobId,
      jobUuid: e.jobUuid,
      actorUserId: e.actor.userId,
      actorName: e.actor.name,
      action: e.action,
      changes,
    });
  }
  // Columns in table order: id, uuid, job_id, job_uuid, actor_user_id, actor_name, action, changes, created_at,
  // job_ref, sequence (the last two filled by the trigger audit_events_sequence_ai, migration 0020).
  return db
    .insert(auditEvents)
    .select(
      sql`SELECT NULL, ${uuid}, ${e.jobId}, ${e.jobUuid}, ${e.actor.userId}, ${e.actor.name}, ${e.action}, ${changes}, strftime('%Y-%m-%dT%H:%M:%SZ','now'), NULL, NULL WHERE changes() > 0`,
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
