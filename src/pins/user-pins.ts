import { DurableObject } from "cloudflare:workers";

/**
 * One per user (addressed by the user's uuid): the jobs that user pinned to the dashboard.
 * SQLite storage, so pins survive restarts and evictions.
 */
export class UserPins extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS pins (job_uuid TEXT PRIMARY KEY, pinned_at TEXT NOT NULL)");
  }

  /** Flips the pin; answers the new state. */
  toggle(jobUuid: string): boolean {
    const existing = this.sql.exec("DELETE FROM pins WHERE job_uuid = ? RETURNING job_uuid", jobUuid).toArray();
    if (existing.length > 0) return false;
    this.sql.exec("INSERT INTO pins (job_uuid, pinned_at) VALUES (?, ?)", jobUuid, new Date().toISOString());
    return true;
  }

  /** All pinned job uuids, newest first. */
  list(): string[] {
    return this.sql
      .exec<{ job_uuid: string }>("SELECT job_uuid FROM pins ORDER BY pinned_at DESC")
      .toArray()
      .map((r) => r.job_uuid);
  }

  /** Drops pins of jobs that no longer exist. */
  forget(jobUuids: string[]): void {
    for (const uuid of jobUuids) this.sql.exec("DELETE FROM pins WHERE job_uuid = ?", uuid);
  }
}

export function userPins(env: Env, userUuid: string) {
  const ns = env.USER_PINS as unknown as DurableObjectNamespace<UserPins>;
  return ns.get(ns.idFromName(userUuid));
}
