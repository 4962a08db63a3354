import { and, eq, type SQL } from "drizzle-orm";
import { jobStatuses, jobs, priorities } from "../db/schema";
import { aliased } from "../db/select";
import type { RequestContext } from "../http/context";
import { ApiError, notFound } from "../http/errors";

/**
 * A job the caller may change, with its status flags and its priority's SLA hours, for the
 * workflow's state changes (recall, approval gate, remedials, amendments). Unknown or invisible
 * jobs are 404; archived jobs are 403 (they are frozen).
 */
export async function jobForWrite(ctx: RequestContext, uuid: string, label = "Job") {
  await ctx.principal();
  const row = await ctx.db
    .select({ job: jobs, status: jobStatuses, slaHours: priorities.slaHours })
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .innerJoin(priorities, eq(priorities.id, jobs.priorityId))
    .where(and(eq(jobs.uuid, uuid), await ctx.jobVisible()))
    .get();
  if (!row) throw notFound(label);
  if (row.status.isArchived) throw new ApiError("ARCHIVED", "Archived jobs cannot be changed");
  return row;
}

/**
 * The same job state as a flat query, to run inside a D1 batch next to the lookups a change needs
 * (one round trip); check its answer with `writable`. `visible` is `await ctx.jobVisible()` (not
 * awaited here: awaiting a query builder would run it).
 */
export function jobStateQuery(ctx: RequestContext, uuid: string, visible: SQL) {
  return ctx.db
    .select(
      aliased({
        id: jobs.id,
        uuid: jobs.uuid,
        jobRef: jobs.jobRef,
        jobTitle: jobs.jobTitle,
        statusId: jobs.statusId,
        isRecall: jobs.isRecall,
        completedAt: jobs.completedAt,
        isArchived: jobStatuses.isArchived,
      }),
    )
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .where(and(eq(jobs.uuid, uuid), visible));
}

/** The row of `jobStateQuery`, if the caller may change it: 404 when absent, 403 when archived. */
export function writable<T extends { isArchived: boolean }>(rows: T[], label = "Job"): T {
  const row = rows[0];
  if (!row) throw notFound(label);
  if (row.isArchived) throw new ApiError("ARCHIVED", "Archived jobs cannot be changed");
  return row;
}
