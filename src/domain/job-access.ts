import { and, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/db";
import { jobStatuses, jobs, priorities } from "../db/schema";
import { aliased } from "../db/select";
import type { Principal } from "./caller";
import { ApiError, notFound } from "./errors";
import { confinedToContractor } from "./policy";

/**
 * Which jobs a caller sees, and which of those it may change: the one home of "unknown or not
 * visible → 404" and "archived → 403".
 */

/** "job.see" (policy.ts) as SQL over a job's contractor column, for a resolved caller. */
export function jobVisibleTo(caller: Pick<Principal, "role" | "contractorId">, contractorColumn: SQLiteColumn = jobs.contractorId): SQL {
  if (!confinedToContractor(caller)) return sql`1 = 1`;
  return eq(contractorColumn, caller.contractorId ?? -1);
}

/**
 * The same rule before the caller is resolved (inside a read batch that also checks the token):
 * the condition looks the token up itself, so it holds within the same round trip.
 */
export function jobVisibleToToken(tokenHash: string, contractorColumn: SQLiteColumn = jobs.contractorId): SQL {
  const contractorOfToken = sql`(SELECT u.contractor_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ${tokenHash} AND u.role = 'contractor')`;
  return sql`(NOT EXISTS (SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ${tokenHash} AND u.role = 'contractor') OR ${contractorColumn} = ${contractorOfToken})`;
}

export const ARCHIVED_MESSAGE = "Archived jobs cannot be changed";

/** Why a job takes no change, if it takes none: archived jobs are frozen. */
export function whyUnchangeable(job: { isArchived: boolean | number }): string | undefined {
  return job.isArchived ? ARCHIVED_MESSAGE : undefined;
}

/** The row of a job-for-change lookup: 404 when absent (or not visible), 403 when archived. */
export function changeable<T extends { isArchived: boolean | number }>(rows: T | T[] | undefined, label = "Job"): T {
  const row = Array.isArray(rows) ? rows[0] : rows;
  if (!row) throw notFound(label);
  const reason = whyUnchangeable(row);
  if (reason) throw new ApiError("ARCHIVED", reason);
  return row;
}

export type ReadBatch = Readonly<[BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]>;

/**
 * What a request offers the loaders: its database, the caller's visibility condition, and `read`,
 * which runs a batch with the token check in it while the caller is not yet resolved.
 */
export interface JobReader {
  readonly db: Db;
  principal(): Promise<Principal>;
  jobVisible(contractorColumn?: SQLiteColumn): Promise<SQL>;
  read<T extends ReadBatch>(queries: T): Promise<BatchResponse<T>>;
}

/** A job's row by uuid, if the caller may see it (404 otherwise); changing it is not implied. */
export async function visibleJob(reader: JobReader, uuid: string) {
  const visible = await reader.jobVisible();
  const [rows] = await reader.read([
    reader.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.uuid, uuid), visible)),
  ]);
  const job = rows[0];
  if (!job) throw notFound("Job");
  return job;
}

/**
 * A job the caller may change, with its status flags and its priority's SLA hours. `where` picks
 * the job (by uuid by default).
 */
export async function jobForChange(reader: JobReader, key: { uuid: string } | { id: number }, label = "Job") {
  const [rows] = await reader.read([jobForChangeQuery(reader.db, key, await reader.jobVisible())]);
  return changeable(jobForChangeRow(rows), label);
}

// Flat and aliased (job_<key>, status_<key>): a D1 batch maps values back by position, and the
// two tables share column names (src/db/select.ts).
const jobColumns = Object.entries(getTableColumns(jobs)).map(([k, col]) => [k, `job_${k}`, col] as const);
const statusColumns = Object.entries(getTableColumns(jobStatuses)).map(([k, col]) => [k, `status_${k}`, col] as const);
const changeSelection = aliased({
  ...Object.fromEntries([...jobColumns, ...statusColumns].map(([, alias, col]) => [alias, col])),
  slaHours: priorities.slaHours,
}) as Record<string, SQL.Aliased>;

/** `jobForChange`'s query, to run in a batch beside other lookups; read its answer with `jobForChangeRow`. */
export function jobForChangeQuery(db: Db, key: { uuid: string } | { id: number | SQL }, visible: SQL) {
  return db
    .select(changeSelection)
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .innerJoin(priorities, eq(priorities.id, jobs.priorityId))
    .where(and("uuid" in key ? eq(jobs.uuid, key.uuid) : eq(jobs.id, key.id), visible));
}

/** The job, its status and its priority's SLA hours from a `jobForChangeQuery` answer (404/403 via `changeable`). */
export function jobForChangeRow(rows: Record<string, unknown>[]) {
  const row = rows[0];
  if (!row) return undefined;
  const pick = (cols: typeof jobColumns | typeof statusColumns) => Object.fromEntries(cols.map(([k, alias]) => [k, row[alias]]));
  const job = pick(jobColumns) as typeof jobs.$inferSelect;
  const status = pick(statusColumns) as typeof jobStatuses.$inferSelect;
  return { job, status, slaHours: row.slaHours as number | null, isArchived: status.isArchived };
}

/** What names a job in an answer or a message: its ids, reference and title. */
export const JOB_IDENTITY = { id: jobs.id, uuid: jobs.uuid, jobRef: jobs.jobRef, jobTitle: jobs.jobTitle } as const;

/**
 * The job's state as a flat query, to run inside a D1 batch next to the lookups a change needs
 * (one round trip); check its answer with `changeable`. `visible` is `await reader.jobVisible()`
 * (not awaited here: awaiting a query builder would run it).
 */
export function jobStateQuery(db: Db, uuid: string, visible: SQL) {
  return db
    .select(
      aliased({
        ...JOB_IDENTITY,
        statusId: jobs.statusId,
        contractorId: jobs.contractorId,
        isRecall: jobs.isRecall,
        completedAt: jobs.completedAt,
        isArchived: jobStatuses.isArchived,
      }),
    )
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .where(and(eq(jobs.uuid, uuid), visible));
}

/** SQL: the job's status is not archived (for guards inside a write batch). */
export const jobNotArchivedSql = (jobId: number | SQL) =>
  sql`EXISTS (SELECT 1 FROM ${jobs} JOIN ${jobStatuses} ON ${jobStatuses.id} = ${jobs.statusId} WHERE ${jobs.id} = ${jobId} AND ${jobStatuses.isArchived} = 0)`;
