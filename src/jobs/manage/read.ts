import { z } from "@hono/zod-openapi";
import { and, count, desc, eq, gte, type SQL, sql } from "drizzle-orm";
import { documents, jobs, jobTenants, photos, tenants } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { decryptPrivateFields } from "../../domain/job-fields";
import type { RequestContext } from "../../http/context";
import { ok } from "../../http/envelope";
import { dataEnvelope, listEnvelope } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { userPins } from "../../pins/user-pins";
import { setJobEtag } from "./etag";
import { type ListJobsQuery, manageQuery } from "./schemas";
import { jobSearchCondition } from "./search";
import { JobDetail, JobListItem, selectJobDetail, selectJobs, toListItem } from "./view";

export const getManage = operation({
  method: "get",
  path: "/api/jobs/manage",
  operationId: "listOrGetJobs",
  summary: "List jobs (action=list) or read one job (action=get&uuid=…)",
  description:
    "`action=list` returns a page of jobs matching every filter given; `count` is the total matched. " +
    "`action=get` returns one job with its decrypted private fields (contractors do not see the private contact).",
  tag: "Jobs",
  permission: "api.jobs.manage.list",
  query: manageQuery,
  actions: ["list", "get"],
  responses: {
    200: jsonResponse("A page of jobs, or one job", z.union([listEnvelope(JobListItem), dataEnvelope(JobDetail)])),
  },
  handler: async (c, { query }) => (query.action === "list" ? listJobs(c, query) : getJob(c, query.uuid)),
});

async function listJobs(c: AppContext, q: ListJobsQuery) {
  const ctx = c.var.ctx;
  ctx.startPins();
  const conditions: (SQL | undefined)[] = [
    await ctx.jobVisible(),
    q.status_id ? eq(jobs.statusId, q.status_id) : undefined,
    q.priority_id ? eq(jobs.priorityId, q.priority_id) : undefined,
    q.job_type_id ? eq(jobs.jobTypeId, q.job_type_id) : undefined,
    q.agent_id ? eq(jobs.agentId, q.agent_id) : undefined,
    q.contractor_id ? eq(jobs.contractorId, q.contractor_id) : undefined,
    q.created_by ? eq(jobs.createdBy, q.created_by) : undefined,
    q.has_photos === undefined ? undefined : existsIn(photos.jobId, q.has_photos),
    q.has_documents === undefined ? undefined : existsIn(documents.jobId, q.has_documents),
    q.search ? jobSearchCondition(q.search) : undefined,
    q.updated_since ? gte(jobs.updatedAt, q.updated_since) : undefined,
  ];
  let pinned: string[] | undefined;
  if (q.pinned !== undefined) {
    // The pinned filter needs the caller's pins before the query: one Durable Object call first.
    await ctx.principal();
    pinned = [...(await ctx.pins())];
    // json_each, not IN (?, ?, …): D1 caps bound parameters at 100 per statement.
    const inPinned = sql`${jobs.uuid} IN (SELECT value FROM json_each(${JSON.stringify(pinned)}))`;
    conditions.push(q.pinned ? inPinned : sql`NOT ${inPinned}`);
  }
  const where = and(...conditions);
  const [rows, [total], existingPinned] = await ctx.read([
    selectJobs(ctx.db).where(where).orderBy(desc(jobs.id)).limit(q.limit).offset(q.offset),
    ctx.db.select({ n: count() }).from(jobs).where(where),
    // Which pinned uuids still exist at all (not merely match the filters): the rest were deleted.
    ctx.db
      .select({ uuid: jobs.uuid })
      .from(jobs)
      .where(sql`${jobs.uuid} IN (SELECT value FROM json_each(${JSON.stringify(pinned ?? [])}))`),
  ]);
  if (pinned) forgetDeletedPins(ctx, pinned, existingPinned);
  const pins = await ctx.pins();
  return ok(
    c,
    rows.map((r) => toListItem(r, pins)),
    { count: total?.n ?? 0 },
  );
}

/** Drops the caller's pins of jobs that no longer exist, after the answer is sent. */
function forgetDeletedPins(ctx: RequestContext, pinned: string[], existing: { uuid: string }[]) {
  const found = new Set(existing.map((r) => r.uuid));
  const missing = pinned.filter((uuid) => !found.has(uuid));
  if (missing.length === 0) return;
  const forgotten = userPins(ctx.env, ctx.caller.userUuid).forget(missing);
  if (ctx.executionCtx) ctx.executionCtx.waitUntil(forgotten);
  else forgotten.catch(() => undefined); // best effort: the next pinned list tries again
}

/** has_photos=true → jobs with at least one; has_photos=false → jobs with none. */
function existsIn(jobIdColumn: typeof photos.jobId | typeof documents.jobId, wanted: boolean) {
  const table = jobIdColumn === photos.jobId ? photos : documents;
  const exists = sql`EXISTS (SELECT 1 FROM ${table} WHERE ${jobIdColumn} = ${jobs.id})`;
  return wanted ? exists : sql`NOT ${exists}`;
}

async function getJob(c: AppContext, uuid: string) {
  const ctx = c.var.ctx;
  ctx.startPins();
  const visible = await ctx.jobVisible();
  const [rows, details, tenantRows] = await ctx.read([
    selectJobs(ctx.db).where(and(eq(jobs.uuid, uuid), visible)),
    selectJobDetail(ctx.db).where(and(eq(jobs.uuid, uuid), visible)),
    ctx.db
      .select({ id: tenants.id, name: tenants.name })
      .from(jobTenants)
      .innerJoin(tenants, eq(tenants.id, jobTenants.tenantId))
      .innerJoin(jobs, eq(jobs.id, jobTenants.jobId))
      .where(and(eq(jobs.uuid, uuid), visible))
      .orderBy(tenants.id),
  ]);
  const row = rows[0];
  const detail = details[0];
  if (!row || !detail) throw notFound("Job");
  const pins = await ctx.pins();
  const secrets = await decryptPrivateFields(await ctx.cipher(), { uuid: row.uuid, ...detail }, ctx.caller);
  setJobEtag(c, detail.version);
  return ok(c, {
    ...toListItem(row, pins),
    payment_status_id: detail.paymentStatusId,
    payment_status_name: detail.paymentStatusName,
    time_range_id: detail.timeRangeId,
    time_range_name: detail.timeRangeName,
    address_id: detail.addressId,
    created_by: detail.createdBy,
    created_by_name: detail.createdByName,
    works_order_ref: detail.worksOrderRef,
    invoice_no: detail.invoiceNo,
    ...secrets,
    tenants: tenantRows,
    completed_at: detail.completedAt,
  });
}
