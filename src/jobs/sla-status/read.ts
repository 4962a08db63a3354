import { z } from "@hono/zod-openapi";
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { agents, contractors, jobStatuses, jobs, priorities } from "../../db/schema";
import { aliased } from "../../db/select";
import { badRequest, type FieldError } from "../../domain/errors";
import type { Db } from "../../domain/services";
import { breachedAt, hoursOverdueSql, measuredJob, overdueAt } from "../../domain/sla";
import { nowIso } from "../../domain/time";
import { zId, zPagination } from "../../domain/values";
import { ok } from "../../http/envelope";
import { dataEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";

export const slaStatusQuery = z.strictObject({
  agent_id: zId().optional(),
  contractor_id: zId().optional(),
  priority_id: zId().optional(),
  limit: zPagination.limit,
});

const SlaStatus = z
  .object({
    jobs_within_sla: z.number().int(),
    jobs_overdue: z.number().int(),
    jobs_breached: z.number().int(),
    breach_details: z.array(
      z.object({
        job_uuid: z.string(),
        job_ref: z.string().openapi({ example: "JOB-001" }),
        sla_deadline: z.string().openapi({ example: "2024-06-01T17:00:00Z" }),
        hours_overdue: z.number().int().openapi({ description: "Whole hours past the deadline, rounded down" }),
      }),
    ),
  })
  .openapi("SlaStatus");

/**
 * The counts and the breached jobs, for the jobs `where` selects. Statuses drive the scan (CROSS JOIN
 * fixes the join order): each open status's jobs through jobs_status_idx, so the rows read are the
 * open jobs, never the closed history that the deadline index would walk in deadline order.
 */
export function slaStatusQueries(db: Db, now: string, where: SQL | undefined, limit: number) {
  const bucket = (cond: SQL) => sql<number>`coalesce(sum(CASE WHEN ${cond} THEN 1 ELSE 0 END), 0)`;
  const breached = breachedAt(now);
  const overdue = overdueAt(now);
  const measured = and(eq(jobs.statusId, jobStatuses.id), where);
  return [
    db
      .select(
        aliased({
          breached: bucket(breached),
          overdue: bucket(overdue),
          within: bucket(sql`NOT ${breached} AND NOT ${overdue}`),
        }),
      )
      .from(jobStatuses)
      .crossJoin(jobs)
      .where(measured),
    db
      .select(
        aliased({
          jobUuid: jobs.uuid,
          jobRef: jobs.jobRef,
          slaDeadline: sql<string>`${jobs.slaDeadline}`, // not null: measured jobs only
          hoursOverdue: hoursOverdueSql(now),
        }),
      )
      .from(jobStatuses)
      .crossJoin(jobs)
      .where(and(measured, breached))
      .orderBy(asc(jobs.slaDeadline), asc(jobs.id))
      .limit(limit),
  ] as const;
}

export const getSlaStatus = operation({
  method: "get",
  path: "/api/jobs/sla-status",
  operationId: "getSlaStatus",
  summary: "SLA compliance counts and the breached jobs",
  description:
    "Counts the open jobs (not completed, closed, cancelled or archived) that have an SLA deadline: *breached* when now is past the " +
    "deadline (a deadline equal to now is not yet breached), *overdue* when not breached but `date_works_end_date` is before today " +
    "(UTC), otherwise *within*. Jobs whose priority has no SLA hours are in none of the counts. `breach_details` lists the breached " +
    "jobs, most overdue first, up to `limit` (default 50, max 200); `hours_overdue` is whole hours, rounded down. Filters combine; " +
    "an unknown `agent_id`, `contractor_id` or `priority_id` is a 400. Contractors see only their own jobs.",
  tag: "SLA",
  permission: "api.jobs.manage.manage",
  query: slaStatusQuery,
  responses: { 200: jsonResponse("SLA counts and breach details", dataEnvelope(SlaStatus)) },
  handler: async (c, { query: q }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const now = nowIso();
    const where = and(
      measuredJob(),
      await ctx.jobVisible(),
      q.agent_id ? eq(jobs.agentId, q.agent_id) : undefined,
      q.contractor_id ? eq(jobs.contractorId, q.contractor_id) : undefined,
      q.priority_id ? eq(jobs.priorityId, q.priority_id) : undefined,
    );
    // One round trip: the token check, both aggregates and the filter ids' existence.
    const [counts, details, agentRows, contractorRows, priorityRows] = await ctx.read([
      ...slaStatusQueries(db, now, where, q.limit),
      db
        .select({ id: agents.id })
        .from(agents)
        .where(eq(agents.id, q.agent_id ?? -1)),
      db
        .select({ id: contractors.id })
        .from(contractors)
        .where(eq(contractors.id, q.contractor_id ?? -1)),
      db
        .select({ id: priorities.id })
        .from(priorities)
        .where(eq(priorities.id, q.priority_id ?? -1)),
    ]);

    // An unknown id is a mistake worth naming: a silent zero would read as "no breaches".
    const errors: FieldError[] = [];
    if (q.agent_id && agentRows.length === 0) errors.push({ field: "agent_id", message: `no agent with id ${q.agent_id}` });
    if (q.contractor_id && contractorRows.length === 0)
      errors.push({ field: "contractor_id", message: `no contractor with id ${q.contractor_id}` });
    if (q.priority_id && priorityRows.length === 0) errors.push({ field: "priority_id", message: `no priority with id ${q.priority_id}` });
    const first = errors[0];
    if (first) throw badRequest(`${first.field}: ${first.message}`, errors);

    const row = counts[0];
    return ok(c, {
      jobs_within_sla: Number(row?.within ?? 0),
      jobs_overdue: Number(row?.overdue ?? 0),
      jobs_breached: Number(row?.breached ?? 0),
      breach_details: details.map((d) => ({
        job_uuid: d.jobUuid,
        job_ref: d.jobRef,
        sla_deadline: d.slaDeadline,
        hours_overdue: Number(d.hoursOverdue),
      })),
    });
  },
});
