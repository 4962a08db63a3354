import { DurableObject } from "cloudflare:workers";
import { openStatusRawSql, toIsoSeconds } from "../domain/sla";
import { liveHub } from "../live/hub";
import { createServices, type Services } from "../platform/services";
import { relayWebhookEvents } from "../webhooks/relay";
import { runSlaCheck } from "./check";

/** The check runs this long after a deadline: a breach is strictly past it (`sla_deadline < now`, check.ts). */
const AFTER_DEADLINE_MS = 1000;
/** A run that stopped at its cap continues this soon. */
const CAPPED_RETRY_MS = 1000;

// The earliest deadline at or after ?1 among open jobs: per open status, one entry of
// jobs_status_sla_idx (status_id, sla_deadline), so about ten rows however many jobs there are.
const NEXT_DEADLINE = `SELECT min((SELECT j.sla_deadline FROM jobs j WHERE j.status_id = s.id AND j.sla_deadline >= ?1
    ORDER BY j.sla_deadline LIMIT 1)) AS next
  FROM job_statuses s WHERE ${openStatusRawSql("s")}`;

// The earliest deadline before ?1, unrecorded, among the jobs a change just touched (?2: JSON uuids):
// a change that moved a deadline into the time already checked.
const MOVED_BACK = `SELECT min(j.sla_deadline) AS next
  FROM jobs j JOIN job_statuses s ON s.id = j.status_id
  WHERE j.uuid IN (SELECT value FROM json_each(?2)) AND ${openStatusRawSql("s")}
    AND j.sla_deadline IS NOT NULL AND j.sla_deadline < ?1
    AND NOT EXISTS (SELECT 1 FROM sla_breaches b WHERE b.job_id = j.id AND b.sla_deadline = j.sla_deadline)`;

/**
 * SLA on time (issue 21): one Durable Object (`slaTimer(env)`) whose alarm is set to the next
 * deadline not yet checked, so a breach is recorded, evented and pushed live about a second after
 * it (the cron, every five minutes, stays the catch-all). The alarm runs the cron's own check
 * (`runSlaCheck`), then arms itself for the next deadline. `rearm` is called by the live feed when
 * an event may have moved a deadline (a job created, its priority or status changed, a recall):
 * it only ever brings the alarm earlier; an alarm that fires early finds nothing and re-arms.
 */
export class SlaTimer extends DurableObject<Env> {
  private readonly services: Services;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.services = createServices(env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), checked_ms INTEGER NOT NULL)");
  }

  /** Up to when breaches were looked for (the last run; at first, now: the past is the cron's). */
  private checked(): number {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ checked_ms: number }>("SELECT checked_ms FROM meta WHERE id = 1").toArray()[0];
    if (row) return row.checked_ms;
    const now = this.services.clock.now().getTime();
    sql.exec("INSERT INTO meta (id, checked_ms) VALUES (1, ?)", now);
    return now;
  }

  /** Brings the alarm to the next deadline (and now, for a touched job whose deadline moved into the past). */
  async rearm(touchedJobs: string[] = []): Promise<number | null> {
    const checked = toIsoSeconds(this.checked());
    const db = this.services.env.DB;
    const [next, back] = await db.batch<{ next: string | null }>([
      db.prepare(NEXT_DEADLINE).bind(checked),
      db.prepare(MOVED_BACK).bind(checked, JSON.stringify(touchedJobs)),
    ]);
    const now = this.services.clock.now().getTime();
    if (back?.results[0]?.next) return this.armAt(now);
    const deadline = next?.results[0]?.next;
    return deadline ? this.armAt(Date.parse(deadline) + AFTER_DEADLINE_MS) : null;
  }

  /** Sets the alarm to `at` unless it is already set earlier. */
  private async armAt(at: number): Promise<number> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
    return Math.min(at, current ?? at);
  }

  override async alarm(): Promise<void> {
    const now = this.services.clock.now();
    const result = await runSlaCheck(this.services, now);
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (id, checked_ms) VALUES (1, ?)", now.getTime());
    if (result.recorded > 0) {
      // The breaches' events to live clients and webhook subscribers at once, as after any write.
      await liveHub(this.env).feed();
      await relayWebhookEvents(this.services).catch((err) =>
        console.error("webhook relay after the SLA alarm failed (the cron retries):", err instanceof Error ? err.message : err),
      );
    }
    if (result.capped) await this.armAt(now.getTime() + CAPPED_RETRY_MS);
    await this.rearm();
  }
}

/** The one SLA timer (its name also in src/live/hub.ts, which re-arms it without importing this module). */
export function slaTimer(env: Env) {
  return env.SLA_TIMER.getByName(SLA_TIMER_NAME);
}
export const SLA_TIMER_NAME = "sla";
