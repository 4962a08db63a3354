import { env } from "cloudflare:test";
import { type Actor, api, createJob, type Fixtures } from "./helpers";

/** A job's row straight from D1, to assert what a refused request left unchanged. */
export async function jobRow(uuid: string) {
  return env.DB.prepare("SELECT * FROM jobs WHERE uuid = ?").bind(uuid).first<Record<string, unknown>>();
}

export async function auditActions(uuid: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT action FROM audit_events WHERE job_uuid = ? ORDER BY id")
    .bind(uuid)
    .all<{ action: string }>();
  return results.map((r) => r.action);
}

export async function rows<T = Record<string, unknown>>(sql: string, ...args: unknown[]): Promise<T[]> {
  const { results } = await env.DB.prepare(sql)
    .bind(...args)
    .all<T>();
  return results;
}

/** A mutating call as `who`, with its CSRF token. */
export function send(who: Actor, method: string, path: string, body: Record<string, unknown>, as: "json" | "form" = "json") {
  return api(method, path, { token: who.token, csrf: who.csrf, body, as });
}

/**
 * Seeds a job's status straight in D1, for a test that needs a job in a given status and is not
 * about how it got there (the lifecycle, src/domain/lifecycle.ts, would take several steps). A
 * completed or closed job gets its completion time, as the lifecycle would have written it.
 */
export async function seedStatus(uuid: string, statusId: number) {
  await env.DB.prepare(
    "UPDATE jobs SET status_id = ?1, completed_at = CASE WHEN ?1 IN (6, 7) THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END WHERE uuid = ?2",
  )
    .bind(statusId, uuid)
    .run();
}

/** A job created Open, then seeded in `statusId` (jobs are created Open or Awaiting Approval). */
export async function jobInStatus(staff: Actor, fx: Fixtures, statusId: number, fields: Record<string, unknown> = {}) {
  const job = await createJob(staff, fx, fields);
  await seedStatus(job.job_uuid, statusId);
  return job;
}

/** A job in an archived status (jobs cannot be created archived; the lifecycle archives only closed or cancelled jobs). */
export async function archivedJob(staff: Actor, fx: Fixtures) {
  return jobInStatus(staff, fx, 9);
}

export const UNKNOWN_UUID = "550e8400-e29b-41d4-a716-446655449999";
