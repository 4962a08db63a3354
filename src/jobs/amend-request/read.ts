import { z } from "@hono/zod-openapi";
import { and, count, desc, eq, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { amendmentRequests, jobs, users } from "../../db/schema";
import { aliased } from "../../db/select";
import { notFound } from "../../domain/errors";
import { zPagination, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";

const AmendmentItem = z
  .object({
    uuid: z.string(),
    job_uuid: z.string(),
    job_ref: z.string(),
    field_name: z.string().openapi({ example: "contractor_budget" }),
    current_value: z.string().nullable().openapi({ example: "180.00" }),
    requested_value: z.string().openapi({ example: "220.00" }),
    reason: z.string(),
    status: z.enum(["pending", "approved", "rejected", "superseded"]),
    requested_by: z.string(),
    requested_at: z.string(),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    decision_notes: z.string().nullable(),
  })
  .openapi("AmendmentRequest");

const decider = alias(users, "decider");

export const getAmendRequests = operation({
  method: "get",
  path: "/api/jobs/amend-request",
  operationId: "listAmendmentRequests",
  summary: "Amendment requests: by job, by status, or one by uuid",
  description:
    "Newest first, paginated (`limit`, `offset`). `uuid` returns the one request (in the same list shape) or 404; " +
    "`job_uuid` of an unknown job (or one the caller may not see) is 404. Contractors see only their jobs' requests.",
  tag: "Workflow",
  permission: "api.jobs.amend_request.manage",
  query: z.strictObject({
    uuid: zUuid().optional(),
    job_uuid: zUuid().optional(),
    status: z
      .enum(["pending", "approved", "rejected", "superseded"], { error: "must be pending, approved, rejected or superseded" })
      .optional(),
    ...zPagination,
  }),
  responses: { 200: jsonResponse("A page of amendment requests", listEnvelope(AmendmentItem)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const visible = await ctx.jobVisible();
    const conditions: (SQL | undefined)[] = [
      visible,
      query.uuid ? eq(amendmentRequests.uuid, query.uuid) : undefined,
      query.job_uuid ? eq(jobs.uuid, query.job_uuid) : undefined,
      query.status ? eq(amendmentRequests.status, query.status) : undefined,
    ];
    const where = and(...conditions);
    const [rows, [total], jobRows] = await ctx.read([
      db
        .select(
          aliased({
            uuid: amendmentRequests.uuid,
            jobUuid: jobs.uuid,
            jobRef: jobs.jobRef,
            fieldName: amendmentRequests.fieldName,
            currentValue: amendmentRequests.currentValue,
            requestedValue: amendmentRequests.requestedValue,
            reason: amendmentRequests.reason,
            status: amendmentRequests.status,
            requestedBy: amendmentRequests.requestedByName,
            requestedAt: amendmentRequests.requestedAt,
            decidedBy: sql<string | null>`${decider.name}`, // left join
            decidedAt: amendmentRequests.decidedAt,
            decisionNotes: amendmentRequests.decisionNotes,
          }),
        )
        .from(amendmentRequests)
        .innerJoin(jobs, eq(jobs.id, amendmentRequests.jobId))
        .leftJoin(decider, eq(decider.id, amendmentRequests.decidedBy))
        .where(where)
        .orderBy(desc(amendmentRequests.id))
        .limit(query.limit)
        .offset(query.offset),
      db.select({ n: count() }).from(amendmentRequests).innerJoin(jobs, eq(jobs.id, amendmentRequests.jobId)).where(where),
      // Tells an unknown job apart from a job without requests.
      db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.uuid, query.job_uuid ?? ""), visible)),
    ]);
    if (query.job_uuid && jobRows.length === 0) throw notFound("Job");
    if (query.uuid && rows.length === 0) throw notFound("Amendment request");
    const data = rows.map((r) => ({
      uuid: r.uuid,
      job_uuid: r.jobUuid,
      job_ref: r.jobRef,
      field_name: r.fieldName,
      current_value: r.currentValue,
      requested_value: r.requestedValue,
      reason: r.reason,
      status: r.status,
      requested_by: r.requestedBy,
      requested_at: r.requestedAt,
      decided_by: r.decidedBy,
      decided_at: r.decidedAt,
      decision_notes: r.decisionNotes,
    }));
    return ok(c, data, { count: total?.n ?? 0 });
  },
});
