import { env } from "cloudflare:test";
import { type Actor, api, createJob, expectStatus, type Fixtures } from "./helpers";

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

/** A job moved to an archived status (jobs cannot be created archived). */
export async function archivedJob(staff: Actor, fx: Fixtures) {
  const job = await createJob(staff, fx);
  expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 9 }), 200);
  return job;
}

export const UNKNOWN_UUID = "550e8400-e29b-41d4-a716-446655449999";
