import { z } from "@hono/zod-openapi";
import { and, count, desc, eq, inArray } from "drizzle-orm";
import { auditEvents, jobs } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { can } from "../../domain/policy";
import { zPagination, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";

const AuditItem = z
  .object({
    uuid: z.string(),
    action: z.string().openapi({ example: "job.recalled" }),
    actor_name: z.string(),
    actor_user_id: z.number().int().nullable(),
    changes: z
      .record(z.string(), z.unknown())
      .openapi({ description: '{field: {before, after}}; encrypted fields appear as {"changed": true} without values' }),
    created_at: z.string(),
  })
  .openapi("AuditEvent");

export const getAudit = operation({
  method: "get",
  path: "/api/jobs/audit",
  operationId: "listJobAuditEvents",
  summary: "A job's audit trail: who changed what, when, before and after",
  description:
    "Newest first, paginated (`limit`, `offset`; `count` is the total). Needs `api.jobs.manage.list` (whoever may list jobs may " +
    "read their history). Contractors read only their own jobs' trails. The trail outlives its job: managers and admins can " +
    "still read a deleted job's trail by its uuid; for other roles a deleted job is 404, like any unknown job.",
  tag: "Workflow",
  permission: "api.jobs.manage.list",
  query: z.strictObject({ job_uuid: zUuid(), ...zPagination }),
  responses: { 200: jsonResponse("A page of audit events", listEnvelope(AuditItem)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const byJob = eq(auditEvents.jobUuid, query.job_uuid);
    // Events are read in the same round trip as the visibility check; they are answered only if it passes.
    const [visibleJob, anyJob, rows, [total]] = await ctx.read([
      ctx.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.uuid, query.job_uuid), await ctx.jobVisible())),
      ctx.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.uuid, query.job_uuid)),
      ctx.db.select().from(auditEvents).where(byJob).orderBy(desc(auditEvents.id)).limit(query.limit).offset(query.offset),
      ctx.db.select({ n: count() }).from(auditEvents).where(byJob),
    ]);
    const n = total?.n ?? 0;
    const deletedButKnown = anyJob.length === 0 && n > 0 && can(ctx.caller, "audit.read_deleted");
    if (visibleJob.length === 0 && !deletedButKnown) throw notFound("Job");
    const data = rows.map((r) => ({
      uuid: r.uuid,
      action: r.action,
      actor_name: r.actorName,
      actor_user_id: r.actorUserId,
      changes: r.changes ? (JSON.parse(r.changes) as Record<string, unknown>) : {},
      created_at: r.createdAt,
    }));
    await hideForeignJobs(ctx, data);
    return ok(c, data, { count: n });
  },
});

type Change = { before?: unknown; after?: unknown; changed?: true };

/**
 * A remedial link names the other job by its reference. A caller who may not see that job (a
 * contractor, for another contractor's job) gets `{changed: true}` in its place, as for an
 * encrypted field: the trail never tells them which job it was. One more query, only for a
 * contractor whose page names other jobs.
 */
async function hideForeignJobs(ctx: AppContext["var"]["ctx"], data: { changes: Record<string, unknown> }[]) {
  if (ctx.caller.role !== "contractor") return;
  const named = (change: unknown) =>
    [(change as Change)?.before, (change as Change)?.after].filter((v): v is string => typeof v === "string");
  const links = data.flatMap((e) => Object.entries(e.changes).filter(([key]) => key.startsWith("remedial")));
  const refs = [...new Set(links.flatMap(([, change]) => named(change)))];
  if (refs.length === 0) return;
  const visible = new Set(
    (
      await ctx.db
        .select({ ref: jobs.jobRef })
        .from(jobs)
        .where(and(inArray(jobs.jobRef, refs), await ctx.jobVisible()))
    ).map((r) => r.ref),
  );
  for (const event of data)
    for (const [key, change] of Object.entries(event.changes))
      if (key.startsWith("remedial") && named(change).some((ref) => !visible.has(ref))) event.changes[key] = { changed: true };
}
