import { and, eq, isNotNull, type SQL, sql } from "drizzle-orm";
import { jobStatuses, jobs } from "../db/schema";

/**
 * SLA policy (DESIGN.md "State").
 *
 * - Each priority carries `sla_hours` (D1 `priorities.sla_hours`, listed by
 *   `GET /api/jobs/priorities?action=list`). Seeded defaults are below; null = no SLA.
 * - `sla_deadline = sla_started_at + sla_hours`, written when a job is created, when its priority
 *   changes and when it is recalled (the clock restarts at the recall). Changing a priority's
 *   `sla_hours` later does not move deadlines already set.
 * - Only open jobs are measured: completed, closed, cancelled and archived statuses are out of scope.
 * - An open job with a deadline is *breached* when now is strictly past the deadline (a deadline
 *   equal to now is not breached yet); *overdue* when not breached and its `date_works_end_date` is
 *   before today (UTC; ending today is not overdue); otherwise *within*.
 * - A job without a deadline (its priority has no SLA hours) is in none of the three buckets.
 * - A start in the future (bad data) gives a deadline in the future: within, never breached.
 * - `hours_overdue` = whole hours past the deadline, rounded down (59 minutes late = 0).
 */

/** The seeded SLA hours per priority (migrations/0002_reference_data.sql). */
export const SLA_DEFAULT_HOURS = { Emergency: 4, High: 24, Medium: 72, Low: 14 * 24 } as const;

/** ISO-8601 UTC without milliseconds: the format every timestamp column holds, so text order is time order. */
export const toIsoSeconds = (d: Date | number) => new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The deadline for a clock started at `startedAt`; null when the priority has no SLA hours. */
export function slaDeadlineFrom(startedAt: string, slaHours: number | null | undefined): string | null {
  if (slaHours == null) return null;
  return toIsoSeconds(Date.parse(startedAt) + slaHours * 3_600_000);
}

/** Whole hours from the deadline to now, rounded down; 0 when not past it. */
export function hoursOverdue(deadline: string, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - Date.parse(deadline)) / 3_600_000));
}

/** Open jobs with a deadline: the ones the SLA measures (needs `job_statuses` joined). */
export const measuredJob = (): SQL =>
  and(
    eq(jobStatuses.isCompleted, false),
    eq(jobStatuses.isClosed, false),
    eq(jobStatuses.isCancelled, false),
    eq(jobStatuses.isArchived, false),
    isNotNull(jobs.slaDeadline),
  ) as SQL;

/** Past the deadline, strictly. `now` is an ISO string from `toIsoSeconds`, compared as text. */
export const breachedAt = (now: string): SQL => sql`${jobs.slaDeadline} < ${now}`;

/** Not breached, and the scheduled end date (YYYY-MM-DD) is before today's UTC date. */
export const overdueAt = (now: string): SQL =>
  sql`(${jobs.slaDeadline} >= ${now} AND ${jobs.dateWorksEndDate} IS NOT NULL AND ${jobs.dateWorksEndDate} < ${now.slice(0, 10)})`;

/** `hoursOverdue` in SQL: integer division of whole seconds rounds down like Math.floor for positives. */
export const hoursOverdueSql = (now: string): SQL<number> => sql<number>`((unixepoch(${now}) - unixepoch(${jobs.slaDeadline})) / 3600)`;
