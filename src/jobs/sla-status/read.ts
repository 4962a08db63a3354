import { z } from "@hono/zod-openapi";
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { agents, contractors, jobs, priorities, slaOpenCounts, slaOpenPairCounts } from "../../db/schema";
import { aliased } from "../../db/select";
import { badRequest, type FieldError } from "../../domain/errors";
import { breachedAt, hoursOverdueSql } from "../../domain/sla";
import { nowIso } from "../../domain/time";
import { zId, zPagination } from "../../domain/values";
import type { RequestContext } from "../../http/context";
import { ok } from "../../http/envelope";
import { dataEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { limitIf, type VisibilityBranch, visibilityBranches } from "../manage/list-query";

export const slaStatusQuery = z.strictObject({
  agent_id: zId().optional(),
  contractor_id: zId().optional(),
  priority_id: zId().optional(),
  ...zPagination,
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
    breach_details_truncated: z.boolean().openapi({
      description: "true when `jobs_breached` counts more breaches than `breach_details` lists from `offset` on: page on with `offset`",
    }),
  })
  .openapi("SlaStatus");

type Drive = { applies: SQL | undefined; where: SQL | undefined };
type Filters = { agent_id?: number; contractor_id?: number; priority_id?: number };

/**
 * The SLA figures without re-aggregating the estate (docs/scaling.md):
 * - `measured`: how many jobs the SLA measures, from the trigger-kept `sla_open_counts` when no more
 *   than one filter applies, or `sla_open_pair_counts` for one contractor (the filter's, or a
 *   contractor caller's own) and an agent or priority; otherwise (agent and priority) counted on the
 *   agent's partial index of measured jobs.
 * - `notDue`: the measured jobs whose deadline is still ahead (the only ones that can be within or
 *   overdue), with how many of them are overdue. Their number is bounded by the jobs created within the
 *   longest SLA, not by the estate.
 * - breached = measured - not due; `details` walks the breached jobs in deadline order, one page.
 * Visibility comes as branches (see visibilityBranches): a contractor's queries run on the contractor
 * index, everyone else's skip that branch.
 */
export async function slaStatusQueries(ctx: RequestContext, now: string, f: Filters, page: { limit: number; offset: number }) {
  const db = ctx.db;
  const filters = and(
    // A literal 1, not a bound value: only then can SQLite use the `WHERE sla_open = 1` partial indexes.
    sql`${jobs.slaOpen} = 1`,
    f.agent_id ? eq(jobs.agentId, f.agent_id) : undefined,
    f.contractor_id ? eq(jobs.contractorId, f.contractor_id) : undefined,
    // With an agent or contractor too, `+` keeps the planner on their (smaller) index.
    f.priority_id ? sql`${f.agent_id || f.contractor_id ? sql`+` : sql``}${jobs.priorityId} = ${f.priority_id}` : undefined,
  );
  const branches = await visibilityBranches(ctx);
  const [first, second] = branches;
  if (!first) throw new Error("no visibility branch");

  // One trigger-kept counter when the filters and the caller's visibility name at most one contractor
  // and one more dimension (agent or priority); `undefined` when the jobs must be counted.
  const counted = (contractor: SQL | undefined): SQL | undefined => {
    const all = sql`(SELECT ${slaOpenCounts.n} FROM ${slaOpenCounts} WHERE`;
    if (f.agent_id && f.priority_id) return undefined;
    const [dim, id] = f.agent_id ? (["agent", f.agent_id] as const) : f.priority_id ? (["priority", f.priority_id] as const) : [];
    if (contractor === undefined) {
      return dim
        ? sql`${all} ${slaOpenCounts.dim} = ${dim} AND ${slaOpenCounts.dimId} = ${id})`
        : sql`${all} ${slaOpenCounts.dim} = 'all' AND ${slaOpenCounts.dimId} = 0)`;
    }
    return dim
      ? sql`(SELECT ${slaOpenPairCounts.n} FROM ${slaOpenPairCounts} WHERE ${slaOpenPairCounts.contractorId} = ${contractor} AND ${slaOpenPairCounts.dim} = ${dim} AND ${slaOpenPairCounts.dimId} = ${id})`
      : sql`${all} ${slaOpenCounts.dim} = 'contractor' AND ${slaOpenCounts.dimId} = ${contractor})`;
  };
  // With an agent filter, `+contractor_id` keeps the count on the agent's index (the fallback: agent and priority).
  const countWhere = (b: VisibilityBranch) =>
    sql`(SELECT count(*) FROM ${jobs} WHERE ${and(
      b.contractorId && f.agent_id ? sql`+${jobs.contractorId} = ${b.contractorId}` : b.visible,
      filters,
    )})`;
  const measuredFor = (b: VisibilityBranch): SQL => {
    const own = b.contractor ? b.contractorId : undefined;
    if (own && f.contractor_id) {
      // A contractor filtering by contractor: its own figures, or none.
      const n = counted(sql`${f.contractor_id}`);
      return sql`(CASE WHEN ${own} = ${f.contractor_id} THEN ${n ? sql`coalesce(${n}, 0)` : countWhere(b)} ELSE 0 END)`;
    }
    const n = counted(own ?? (f.contractor_id ? sql`${f.contractor_id}` : undefined));
    return n ? sql`coalesce(${n}, 0)` : countWhere(b);
  };
  // Caller not resolved yet: the CASE takes the branch that applies (SQLite evaluates only that one).
  const measured = second ? sql`CASE WHEN ${first.applies} THEN ${measuredFor(first)} ELSE ${measuredFor(second)} END` : measuredFor(first);

  // notDue and details walk one partial index of measured jobs: a contractor's, or (with an agent or
  // priority filter) that dimension's, whichever the counters say is smaller; each statement's LIMIT
  // holds the choice (limitIf), so the drive not taken reads nothing. A firm of 100 000 jobs walked
  // its own index for one agent's breaches.
  const other = f.agent_id
    ? ({ dim: "agent", id: f.agent_id, column: jobs.agentId } as const)
    : f.priority_id
      ? ({ dim: "priority", id: f.priority_id, column: jobs.priorityId } as const)
      : undefined;
  const drives = branches.flatMap((b): Drive[] => {
    const contractor = b.contractor ? b.contractorId : f.contractor_id ? sql`${f.contractor_id}` : undefined;
    const base = (plus: "contractor" | "other" | undefined): SQL | undefined =>
      and(
        b.contractor ? (plus === "contractor" ? sql`+${jobs.contractorId} = ${b.contractorId}` : b.visible) : b.visible,
        sql`${jobs.slaOpen} = 1`,
        f.agent_id ? sql`${plus === "other" && other?.dim === "agent" ? sql`+` : sql``}${jobs.agentId} = ${f.agent_id}` : undefined,
        f.contractor_id ? sql`${plus === "contractor" ? sql`+` : sql``}${jobs.contractorId} = ${f.contractor_id}` : undefined,
        // With an agent too, `+` keeps the planner on the agent's index.
        f.priority_id ? sql`${f.agent_id || plus === "other" ? sql`+` : sql``}${jobs.priorityId} = ${f.priority_id}` : undefined,
      );
    if (!contractor || !other) return [{ applies: b.applies, where: base(undefined) }];
    const n = (dim: string, id: SQL | number) =>
      sql`coalesce((SELECT ${slaOpenCounts.n} FROM ${slaOpenCounts} WHERE ${slaOpenCounts.dim} = ${dim} AND ${slaOpenCounts.dimId} = ${id}), 0)`;
    const otherSmaller = sql`(${n(other.dim, other.id)} <= ${n("contractor", contractor)})`;
    return [
      { applies: and(b.applies, otherSmaller), where: base("contractor") },
      { applies: and(b.applies, sql`NOT ${otherSmaller}`), where: base("other") },
    ];
  });

  const notDue = ({ applies, where }: Drive) =>
    db
      .select({
        n: sql<number>`count(*)`.as("n"),
        overdue: sql<number>`coalesce(sum(overdue), 0)`.as("overdue"),
      })
      .from(
        db
          .select({
            overdue: sql<number>`(${jobs.dateWorksEndDate} IS NOT NULL AND ${jobs.dateWorksEndDate} < ${now.slice(0, 10)})`.as("overdue"),
          })
          .from(jobs)
          .where(and(where, sql`${jobs.slaDeadline} >= ${now}`))
          .limit(limitIf(applies, 1_000_000_000))
          .as("not_due"),
      );
  const details = ({ applies, where }: Drive) =>
    db
      .select(
        aliased({
          jobUuid: jobs.uuid,
          jobRef: jobs.jobRef,
          slaDeadline: sql<string>`${jobs.slaDeadline}`, // not null: measured jobs only
          hoursOverdue: hoursOverdueSql(now),
        }),
      )
      .from(jobs)
      .where(and(where, breachedAt(now)))
      // The order of jobs_sla_open_idx (deadline, end date, id): a page reads only its own rows.
      .orderBy(asc(jobs.slaDeadline), asc(jobs.dateWorksEndDate), asc(jobs.id))
      .limit(limitIf(applies, page.limit))
      .offset(page.offset);
  return {
    measured: db.select({ n: sql<number>`${measured}`.as("measured") }).from(sql`(SELECT 1)`),
    branches: drives.map((d) => ({ notDue: notDue(d), details: details(d) })),
  };
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
    "jobs, most overdue first, up to `limit` (default 50, max 200) from `offset` (default 0); `breach_details_truncated` is true when " +
    "`jobs_breached` counts more than the list shows from `offset` on. `hours_overdue` is whole hours, rounded down. Filters combine; " +
    "an unknown `agent_id`, `contractor_id` or `priority_id` is a 400. Contractors see only their own jobs.",
  tag: "SLA",
  permission: "api.jobs.manage.manage",
  query: slaStatusQuery,
  responses: { 200: jsonResponse("SLA counts and breach details", dataEnvelope(SlaStatus)) },
  handler: async (c, { query: q }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const now = nowIso();
    // One round trip: the token check, the figures and the filter ids' existence.
    const sla = await slaStatusQueries(ctx, now, q, q);
    const [a, ...more] = sla.branches;
    if (!a) throw new Error("no visibility branch");
    const [[measured], [notDueA], detailsA, agentRows, contractorRows, priorityRows, ...rest] = await ctx.read([
      sla.measured,
      a.notDue,
      a.details,
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
      ...more.flatMap((b) => [b.notDue, b.details] as const),
    ]);
    // Only the branch and drive that apply read anything: the others answered zeros and no rows.
    const details = [...detailsA];
    let notDue = Number(notDueA?.n ?? 0);
    let overdue = Number(notDueA?.overdue ?? 0);
    for (let i = 0; i < rest.length; i += 2) {
      const nd = (rest[i] as (typeof notDueA)[])[0];
      notDue += Number(nd?.n ?? 0);
      overdue += Number(nd?.overdue ?? 0);
      details.push(...(rest[i + 1] as typeof detailsA));
    }

    // An unknown id is a mistake worth naming: a silent zero would read as "no breaches".
    const errors: FieldError[] = [];
    if (q.agent_id && agentRows.length === 0) errors.push({ field: "agent_id", message: `no agent with id ${q.agent_id}` });
    if (q.contractor_id && contractorRows.length === 0)
      errors.push({ field: "contractor_id", message: `no contractor with id ${q.contractor_id}` });
    if (q.priority_id && priorityRows.length === 0) errors.push({ field: "priority_id", message: `no priority with id ${q.priority_id}` });
    const first = errors[0];
    if (first) throw badRequest(`${first.field}: ${first.message}`, errors);

    const breached = Math.max(0, Number(measured?.n ?? 0) - notDue);
    return ok(c, {
      jobs_within_sla: notDue - overdue,
      jobs_overdue: overdue,
      jobs_breached: breached,
      breach_details: details.map((d) => ({
        job_uuid: d.jobUuid,
        job_ref: d.jobRef,
        sla_deadline: d.slaDeadline,
        hours_overdue: Number(d.hoursOverdue),
      })),
      breach_details_truncated: q.offset + details.length < breached,
    });
  },
});
