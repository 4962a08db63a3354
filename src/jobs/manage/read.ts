import { z } from "@hono/zod-openapi";
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { jobs, jobTenants, tenants } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { decryptPrivateFields } from "../../domain/job-fields";
import type { RequestContext } from "../../http/context";
import { OK_MESSAGE, ok } from "../../http/envelope";
import { dataEnvelope, listEnvelope } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { forgetCachedPins } from "../../pins/pins-cache";
import { userPins } from "../../pins/user-pins";
import { setJobEtag } from "./etag";
import { COUNT_WINDOW, listJobsQueries } from "./list-query";
import { type ListJobsQuery, manageQuery } from "./schemas";
import { jobSearch } from "./search";
import { JobDetail, JobListItem, selectJobDetail, selectJobs, toListItem } from "./view";

/** Below this many jobs updated since `updated_since`, that filter's index drives a contractor's list. */
const UPDATED_FEW = 256;

export const getManage = operation({
  method: "get",
  path: "/api/jobs/manage",
  operationId: "listOrGetJobs",
  summary: "List jobs (action=list) or read one job (action=get&uuid=…)",
  description:
    "`action=list` returns a page of jobs matching every filter given, newest first. `count` is the number matched, counted up to " +
    `\`offset + ${COUNT_WINDOW}\`: past that it stops (\`count_capped: true\`, \`count\` a lower bound), so a list never reads every matching job. ` +
    "`action=get` returns one job with its decrypted private fields, which need `api.jobs.manage.manage` as well (a token " +
    "narrowed to `api.jobs.manage.list` gets them as null, as the list never shows them); contractors get the access details " +
    "but not the private contact.",
  tag: "Jobs",
  permission: "api.jobs.manage.list",
  query: manageQuery,
  actions: ["list", "get"],
  responses: {
    200: jsonResponse(
      "A page of jobs, or one job",
      z.union([
        listEnvelope(JobListItem).extend({
          count_capped: z.boolean().openapi({
            description: `true when more jobs match than were counted: \`count\` is then \`offset + ${COUNT_WINDOW}\`, a lower bound`,
          }),
        }),
        dataEnvelope(JobDetail),
      ]),
    ),
  },
  handler: async (c, { query }) => (query.action === "list" ? listJobs(c, query) : getJob(c, query.uuid)),
});

async function listJobs(c: AppContext, q: ListJobsQuery) {
  const ctx = c.var.ctx;
  ctx.startPins();
  // `+column` keeps a term out of index selection: the contractor's branch must use its own index.
  const filters = (indexed: boolean): (SQL | undefined)[] => {
    const col = (c: SQLiteColumn) => (indexed ? sql`${c}` : sql`+${c}`);
    const is = (c: SQLiteColumn, v: number | undefined) => (v ? sql`${col(c)} = ${v}` : undefined);
    return [
      is(jobs.statusId, q.status_id),
      is(jobs.priorityId, q.priority_id),
      is(jobs.jobTypeId, q.job_type_id),
      is(jobs.agentId, q.agent_id),
      q.contractor_id ? eq(jobs.contractorId, q.contractor_id) : undefined,
      is(jobs.createdBy, q.created_by),
      q.has_photos === undefined ? undefined : q.has_photos ? sql`${jobs.photosCount} > 0` : sql`${jobs.photosCount} = 0`,
      q.has_documents === undefined ? undefined : q.has_documents ? sql`${jobs.documentsCount} > 0` : sql`${jobs.documentsCount} = 0`,
      q.updated_since ? sql`${col(jobs.updatedAt)} >= ${q.updated_since}` : undefined,
      ...extra,
    ];
  };
  const equals = (c: SQLiteColumn, v: number | undefined) => (v ? sql`${c} = ${v}` : undefined);
  const extra: SQL[] = [];
  let pinned: string[] | undefined;
  if (q.pinned !== undefined) {
    // The pinned filter needs the caller's pins before the query: one Durable Object call first.
    await ctx.principal();
    pinned = [...(await ctx.pins())];
    // json_each, not IN (?, ?, …): D1 caps bound parameters at 100 per statement.
    const inPinned = sql`${jobs.uuid} IN (SELECT value FROM json_each(${JSON.stringify(pinned)}))`;
    extra.push(q.pinned ? inPinned : sql`NOT ${inPinned}`);
  }
  // A filter an index on (column, id) serves, the most selective first: what a contractor's own jobs
  // are sized against to choose the cheaper drive (list-query.ts).
  const newest = [
    extra[0] && q.pinned ? extra[0] : undefined,
    equals(jobs.agentId, q.agent_id),
    equals(jobs.createdBy, q.created_by),
    q.contractor_id ? eq(jobs.contractorId, q.contractor_id) : undefined,
    equals(jobs.jobTypeId, q.job_type_id),
    equals(jobs.priorityId, q.priority_id),
    equals(jobs.statusId, q.status_id),
    q.has_photos ? sql`${jobs.photosCount} > 0` : undefined,
    q.has_documents ? sql`${jobs.documentsCount} > 0` : undefined,
  ].find(Boolean);
  // updated_since has an index on updated_at alone: it drives when few jobs changed since (its index
  // read for at most UPDATED_FEW entries), else the contractor's own newest-first walk does.
  const few = q.updated_since
    ? sql`((SELECT count(*) FROM (SELECT 1 FROM ${jobs} INDEXED BY jobs_updated_at_idx WHERE ${jobs.updatedAt} >= ${q.updated_since} LIMIT ${sql.raw(String(UPDATED_FEW))})) < ${sql.raw(String(UPDATED_FEW))})`
    : undefined;
  const probe = newest ? { newest } : few ? { few } : undefined;
  const list = await listJobsQueries(ctx, filters, jobSearch(q.search), q, probe);
  const [first, ...more] = list.branches;
  if (!first) throw new Error("no visibility branch");
  // Several visibility branches and drives (list-query.ts); only one returns rows, the others read nothing.
  const [rowsA, [countA], existingPinned, ...rest] = await ctx.read([
    first.rows,
    first.count,
    // Which pinned uuids still exist at all (not merely match the filters): the rest were deleted.
    ctx.db
      .select({ uuid: jobs.uuid })
      .from(jobs)
      .where(sql`${jobs.uuid} IN (SELECT value FROM json_each(${JSON.stringify(pinned ?? [])}))`),
    ...more.flatMap((b) => [b.rows, b.count] as const),
  ]);
  const rows = [...rowsA];
  let counted = countA?.n ?? 0;
  for (let i = 0; i < rest.length; i += 2) {
    rows.push(...(rest[i] as typeof rowsA));
    counted += (rest[i + 1] as { n: number }[])[0]?.n ?? 0;
  }
  if (pinned) forgetDeletedPins(ctx, pinned, existingPinned);
  const pins = await ctx.pins();
  return c.json({
    success: true,
    data: rows.map((r) => toListItem(r, pins)),
    count: Math.min(counted, list.cap),
    count_capped: counted > list.cap,
    message: OK_MESSAGE,
  });
}

/** Drops the caller's pins of jobs that no longer exist, after the answer is sent. */
function forgetDeletedPins(ctx: RequestContext, pinned: string[], existing: { uuid: string }[]) {
  const found = new Set(existing.map((r) => r.uuid));
  const missing = pinned.filter((uuid) => !found.has(uuid));
  if (missing.length === 0) return;
  forgetCachedPins(ctx.caller.userUuid);
  const forgotten = userPins(ctx.env, ctx.caller.userUuid).forget(missing);
  if (ctx.executionCtx) ctx.executionCtx.waitUntil(forgotten);
  else forgotten.catch(() => undefined); // best effort: the next pinned list tries again
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
