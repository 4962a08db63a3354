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
    // One row: how many changes the pins have had (the version isolates cache them under).
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)");
    this.sql.exec("INSERT OR IGNORE INTO meta (id, version) VALUES (1, 0)");
  }

  private bump(): number {
    return this.sql.exec<{ version: number }>("UPDATE meta SET version = version + 1 WHERE id = 1 RETURNING version").one().version;
  }

  /**
   * Flips the pin; answers the new state and the pins' new version. `pinnedAt` (ISO-8601 with
   * milliseconds) comes from the caller's clock, so a fixed clock fixes the order too.
   */
  toggleVersioned(jobUuid: string, pinnedAt: string): { pinned: boolean; version: number } {
    const existing = this.sql.exec("DELETE FROM pins WHERE job_uuid = ? RETURNING job_uuid", jobUuid).toArray();
    if (existing.length === 0) this.sql.exec("INSERT INTO pins (job_uuid, pinned_at) VALUES (?, ?)", jobUuid, pinnedAt);
    return { pinned: existing.length === 0, version: this.bump() };
  }

  /** The pinned job uuids, newest first, with their version. */
  snapshot(): { pins: string[]; version: number } {
    const version = this.sql.exec<{ version: number }>("SELECT version FROM meta WHERE id = 1").one().version;
    return { pins: this.list(), version };
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
