import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { agents, contractors, jobs, priorities, slaOpenCounts, slaOpenPairCounts } from "../../db/schema";
import { aliased } from "../../db/select";
import { badRequest, type FieldError } from "../../domain/errors";
import { breachedAt, hoursOverdueSql } from "../../domain/sla";
import { limitIf } from "../manage/list-query";

export interface SlaFilters {
  agent_id?: number;
  contractor_id?: number;
  priority_id?: number;
}
export type SlaStatusInput = SlaFilters & { limit: number; offset: number };

export interface SlaStatusData {
  jobs_within_sla: number;
  jobs_overdue: number;
  jobs_breached: number;
  breach_details: { job_uuid: string; job_ref: string; sla_deadline: string; hours_overdue: number }[];
  breach_details_truncated: boolean;
}

type Drive = { applies: SQL | undefined; where: SQL | undefined };

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
 * The caller is admitted before a use case runs, so its visibility is one condition: a contractor's
 * queries run on the contractor index. `branches` holds one notDue/details pair per drive (below).
 */
export async function slaStatusQueries(scope: Scope, now: string, f: SlaFilters, page: { limit: number; offset: number }) {
  const db = scope.db;
  const caller = scope.caller;
  const visible = await scope.jobVisible();
  const own = caller.role === "contractor" ? sql`${caller.contractorId ?? -1}` : undefined;
  const filters = and(
    // A literal 1, not a bound value: only then can SQLite use the `WHERE sla_open = 1` partial indexes.
    sql`${jobs.slaOpen} = 1`,
    f.agent_id ? eq(jobs.agentId, f.agent_id) : undefined,
    f.contractor_id ? eq(jobs.contractorId, f.contractor_id) : undefined,
    // With an agent or contractor too, `+` keeps the planner on their (smaller) index.
    f.priority_id ? sql`${f.agent_id || f.contractor_id ? sql`+` : sql``}${jobs.priorityId} = ${f.priority_id}` : undefined,
  );

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
  const countWhere = sql`(SELECT count(*) FROM ${jobs} WHERE ${and(own && f.agent_id ? sql`+${jobs.contractorId} = ${own}` : visible, filters)})`;
  const measuredOf = (): SQL => {
    if (own && f.contractor_id) {
      // A contractor filtering by contractor: its own figures, or none.
      const n = counted(sql`${f.contractor_id}`);
      return sql`(CASE WHEN ${own} = ${f.contractor_id} THEN ${n ? sql`coalesce(${n}, 0)` : countWhere} ELSE 0 END)`;
    }
    const n = counted(own ?? (f.contractor_id ? sql`${f.contractor_id}` : undefined));
    return n ? sql`coalesce(${n}, 0)` : countWhere;
  };

  // notDue and details walk one partial index of measured jobs: a contractor's, or (with an agent or
  // priority filter) that dimension's, whichever the counters say is smaller; each statement's LIMIT
  // holds the choice (limitIf), so the drive not taken reads nothing. A firm of 100 000 jobs walked
  // its own index for one agent's breaches.
  const other = f.agent_id
    ? ({ dim: "agent", id: f.agent_id, column: jobs.agentId } as const)
    : f.priority_id
      ? ({ dim: "priority", id: f.priority_id, column: jobs.priorityId } as const)
      : undefined;
  const contractor = own ?? (f.contractor_id ? sql`${f.contractor_id}` : undefined);
  const base = (plus: "contractor" | "other" | undefined): SQL | undefined =>
    and(
      own && plus === "contractor" ? sql`+${jobs.contractorId} = ${own}` : visible,
      sql`${jobs.slaOpen} = 1`,
      f.agent_id ? sql`${plus === "other" && other?.dim === "agent" ? sql`+` : sql``}${jobs.agentId} = ${f.agent_id}` : undefined,
      f.contractor_id ? sql`${plus === "contractor" ? sql`+` : sql``}${jobs.contractorId} = ${f.contractor_id}` : undefined,
      // With an agent too, `+` keeps the planner on the agent's index.
      f.priority_id ? sql`${f.agent_id || plus === "other" ? sql`+` : sql``}${jobs.priorityId} = ${f.priority_id}` : undefined,
    );
  const drives = ((): Drive[] => {
    if (!contractor || !other) return [{ applies: undefined, where: base(undefined) }];
    const n = (dim: string, id: SQL | number) =>
      sql`coalesce((SELECT ${slaOpenCounts.n} FROM ${slaOpenCounts} WHERE ${slaOpenCounts.dim} = ${dim} AND ${slaOpenCounts.dimId} = ${id}), 0)`;
    const otherSmaller = sql`(${n(other.dim, other.id)} <= ${n("contractor", contractor)})`;
    return [
      { applies: otherSmaller, where: base("contractor") },
      { applies: sql`NOT ${otherSmaller}`, where: base("other") },
    ];
  })();

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
    measured: db.select({ n: sql<number>`${measuredOf()}`.as("measured") }).from(sql`(SELECT 1)`),
    branches: drives.map((d) => ({ notDue: notDue(d), details: details(d) })),
  };
}

/**
 * The SLA figures and one page of breaches, in one read with the filter ids' existence: an unknown
 * id is a mistake worth naming (400), a silent zero would read as "no breaches".
 */
export const slaStatus = useCase({ permission: "api.jobs.manage.manage" }, async (scope, q: SlaStatusInput): Promise<SlaStatusData> => {
  const db = scope.db;
  const sla = await slaStatusQueries(scope, scope.services.clock.iso(), q, q);
  const [a, ...more] = sla.branches;
  if (!a) throw new Error("no SLA drive");
  const exists = <T extends typeof agents | typeof contractors | typeof priorities>(table: T, id: number | undefined) =>
    db
      .select({ id: table.id })
      .from(table)
      .where(eq(table.id, id ?? -1));
  const [[measured], [notDueA], detailsA, agentRows, contractorRows, priorityRows, ...rest] = await scope.read([
    sla.measured,
    a.notDue,
    a.details,
    exists(agents, q.agent_id),
    exists(contractors, q.contractor_id),
    exists(priorities, q.priority_id),
    ...more.flatMap((b) => [b.notDue, b.details] as const),
  ]);
  // Only the drive that applies reads anything: the other answered zeros and no rows.
  const details = [...detailsA];
  let notDue = Number(notDueA?.n ?? 0);
  let overdue = Number(notDueA?.overdue ?? 0);
  for (let i = 0; i < rest.length; i += 2) {
    const nd = (rest[i] as (typeof notDueA)[])[0];
    notDue += Number(nd?.n ?? 0);
    overdue += Number(nd?.overdue ?? 0);
    details.push(...(rest[i + 1] as typeof detailsA));
  }

  const errors: FieldError[] = [];
  if (q.agent_id && agentRows.length === 0) errors.push({ field: "agent_id", message: `no agent with id ${q.agent_id}` });
  if (q.contractor_id && contractorRows.length === 0)
    errors.push({ field: "contractor_id", message: `no contractor with id ${q.contractor_id}` });
  if (q.priority_id && priorityRows.length === 0) errors.push({ field: "priority_id", message: `no priority with id ${q.priority_id}` });
  const first = errors[0];
  if (first) throw badRequest(`${first.field}: ${first.message}`, errors);

  const breached = Math.max(0, Number(measured?.n ?? 0) - notDue);
  return {
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
  };
});
