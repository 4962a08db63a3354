import { and, eq, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { jobs, jobTenants, tenants } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { decryptPrivateFields } from "../../domain/job-fields";
import { nextStatuses } from "../../domain/lifecycle";
import { forgetCachedPins } from "../../pins/pins-cache";
import { userPins } from "../../pins/user-pins";
import { listJobsQueries } from "./list-query";
import type { ListJobsQuery } from "./schemas";
import { jobSearch } from "./search";
import { selectJobDetail, selectJobs, toListItem } from "./view";

/** Reading jobs: the list (filters, search, pins, bounded count) and one job with its private fields. */

const JOB_LIST: Admission = { permission: "api.jobs.manage.list" };

/** Below this many jobs updated since `updated_since`, that filter's index drives a contractor's list. */
const UPDATED_FEW = 256;

export type ListJobsInput = Omit<ListJobsQuery, "action">;

/** A page of the jobs the caller sees, newest first; `count` bounded (list-query.ts COUNT_WINDOW). */
export const listJobs = useCase(JOB_LIST, async (s: Scope, q: ListJobsInput) => {
  s.startPins();
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
    await s.principal();
    pinned = [...(await s.pins())];
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
  const list = await listJobsQueries(s, filters, jobSearch(q.search), q, probe);
  const [first, ...more] = list.branches;
  if (!first) throw new Error("no visibility branch");
  // Several visibility branches and drives (list-query.ts); only one returns rows, the others read nothing.
  const [rowsA, [countA], existingPinned, ...rest] = await s.read([
    first.rows,
    first.count,
    // Which pinned uuids still exist at all (not merely match the filters): the rest were deleted.
    s.db
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
  if (pinned) forgetDeletedPins(s, pinned, existingPinned);
  const pins = await s.pins();
  const now = s.services.clock.now().getTime();
  return {
    data: rows.map((r) => toListItem(r, pins, now)),
    count: Math.min(counted, list.cap),
    count_capped: counted > list.cap,
  };
});

/** Drops the caller's pins of jobs that no longer exist, after the answer is sent (best effort: the next pinned list tries again). */
function forgetDeletedPins(s: Scope, pinned: string[], existing: { uuid: string }[]) {
  const found = new Set(existing.map((r) => r.uuid));
  const missing = pinned.filter((uuid) => !found.has(uuid));
  if (missing.length === 0) return;
  forgetCachedPins(s.caller.userUuid);
  s.services.waitUntil(userPins(s.services.env, s.caller.userUuid).forget(missing));
}

/** One job the caller sees, with its decrypted private fields (as `canSeePrivate` allows) and its version (the ETag). */
export const getJob = useCase(JOB_LIST, async (s: Scope, { uuid }: { uuid: string }) => {
  s.startPins();
  const visible = await s.jobVisible();
  const [rows, details, tenantRows] = await s.read([
    selectJobs(s.db).where(and(eq(jobs.uuid, uuid), visible)),
    selectJobDetail(s.db).where(and(eq(jobs.uuid, uuid), visible)),
    s.db
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
  const pins = await s.pins();
  const secrets = await decryptPrivateFields(await s.services.cipher(), { uuid: row.uuid, ...detail }, s.caller);
  const job = {
    ...toListItem(row, pins, s.services.clock.now().getTime()),
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
    accepted_at: detail.acceptedAt,
    // What a client may offer this caller: the lifecycle's moves open from here (src/domain/lifecycle.ts).
    next_statuses: nextStatuses(
      { statusId: row.statusId, contractorId: row.contractorId, jobTypeId: row.jobTypeId, acceptedAt: detail.acceptedAt },
      s.caller,
    ),
  };
  return { job, version: detail.version };
});
