import { and, eq, isNotNull, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { jobStatuses, jobs, priorities } from "../db/schema";
import { toIsoSeconds } from "./time";

/**
 * SLA policy: the one home of "open job" and of the deadline rule.
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

export { toIsoSeconds };

/** The deadline for a clock started at `startedAt`; null when the priority has no SLA hours. */
export function slaDeadlineFrom(startedAt: string, slaHours: number | null | undefined): string | null {
  if (slaHours == null) return null;
  return toIsoSeconds(Date.parse(startedAt) + slaHours * 3_600_000);
}

/** Whole hours from the deadline to now, rounded down; 0 when not past it. */
export function hoursOverdue(deadline: string, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - Date.parse(deadline)) / 3_600_000));
}

/** A status is open unless it is completed, closed, cancelled or archived. */
export function isOpenStatus(s: { isCompleted: boolean; isClosed: boolean; isCancelled: boolean; isArchived: boolean }): boolean {
  return !(s.isCompleted || s.isClosed || s.isCancelled || s.isArchived);
}

/** `isOpenStatus` in SQL over a `job_statuses` alias, for the hand-written statements of the cron. */
export const openStatusRawSql = (alias: string) =>
  `${alias}.is_completed = 0 AND ${alias}.is_closed = 0 AND ${alias}.is_cancelled = 0 AND ${alias}.is_archived = 0`;

/** `isOpenStatus` in SQL over the joined `job_statuses` table. */
export const openStatus = (): SQL =>
  and(
    eq(jobStatuses.isCompleted, false),
    eq(jobStatuses.isClosed, false),
    eq(jobStatuses.isCancelled, false),
    eq(jobStatuses.isArchived, false),
  ) as SQL;

/** Open jobs with a deadline: the ones the SLA measures (needs `job_statuses` joined). */
export const measuredJob = (): SQL => and(openStatus(), isNotNull(jobs.slaDeadline)) as SQL;

/**
 * `slaDeadlineFrom(job.sla_started_at, hours of priority)` in SQL, for a write that sets a new
 * priority inside a batch (an approved amendment) without reading the priority first.
 */
export const slaDeadlineForPrioritySql = (priorityId: number | null) => slaDeadlineSql(jobs.slaStartedAt, priorityId);

/** The same rule from a given start (a column, or an ISO time for a row being inserted). */
export const slaDeadlineSql = (startedAt: SQLWrapper | string, priorityId: number | null) =>
  sql`(SELECT CASE WHEN ${priorities.slaHours} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', ${startedAt}, '+' || ${priorities.slaHours} || ' hours') END FROM ${priorities} WHERE ${priorities.id} = ${priorityId})`;

/** Past the deadline, strictly. `now` is an ISO string from `toIsoSeconds`, compared as text. */
export const breachedAt = (now: string): SQL => sql`${jobs.slaDeadline} < ${now}`;

/** Not breached, and the scheduled end date (YYYY-MM-DD) is before today's UTC date. */
export const overdueAt = (now: string): SQL =>
  sql`(${jobs.slaDeadline} >= ${now} AND ${jobs.dateWorksEndDate} IS NOT NULL AND ${jobs.dateWorksEndDate} < ${now.slice(0, 10)})`;

/** `hoursOverdue` in SQL: integer division of whole seconds rounds down like Math.floor for positives. */
export const hoursOverdueSql = (now: string): SQL<number> => sql<number>`((unixepoch(${now}) - unixepoch(${jobs.slaDeadline})) / 3600)`;
