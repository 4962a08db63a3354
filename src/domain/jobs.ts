import { and, eq, type SQL, sql } from "drizzle-orm";
import { jobStatuses, jobs, jobTenants } from "../db/schema";
import { removeJobFiles } from "../media/cleanup";
import type { Services } from "../platform/services";
import type { Principal } from "./caller";
import { ApiError, badRequest, conflict } from "./errors";
import { diff, recordEvent } from "./events";
import { changeable, type JobReader, jobForChange, jobForChangeQuery, jobForChangeRow } from "./job-access";
import { checkReferences, columnValues, currentValues, type JobFieldValues, referenceLookups, sentFields } from "./job-fields";
import { ARCHIVED_STATUS, assertTransition, isLifecycleStatus, transitionColumns } from "./lifecycle";
import { slaDeadlineFrom, slaDeadlineSql } from "./sla";

/**
 * Creating, updating and deleting a job: the rules (references, archived statuses, dates, the SLA
 * deadline, the change diff) and one D1 batch each with its event. The route (src/jobs/manage/
 * write.ts) validates, calls one of these and builds the envelope.
 */

/** Who is changing what, through which request: the services and the resolved caller. */
export interface JobWriter extends JobReader {
  readonly services: Services;
  /** Read only once resolved: after `principal()` or the first `read`. */
  readonly caller: Principal;
}

/** A job's ETag: its version, which a trigger bumps on every change to the row (migration 0005). */
export const jobEtag = (version: number) => `"v${version}"`;

const stale = (version: number) =>
  new ApiError("PRECONDITION_FAILED", `If-Match: the job has changed (its ETag is now ${jobEtag(version)}); read it again and retry`);

/**
 * With If-Match (update, delete): 412 unless it names the job's current ETag or `*`. Returns the
 * condition that holds the write to that version, so a change in between fails too. Without
 * If-Match: nothing (the reference's requests carry none).
 */
function ifMatchCondition(ifMatch: string | undefined, version: number): SQL | undefined {
  if (ifMatch === undefined) return undefined;
  const tags = ifMatch.split(",").map((t) => t.trim());
  if (!tags.includes("*") && !tags.includes(jobEtag(version))) throw stale(version);
  return eq(jobs.version, version);
}

/**
 * One D1 batch after the token check (two round trips): the references are not read first. The
 * schema's foreign keys refuse an unknown id, the status goes in only when it is not archived
 * (else NULL, which NOT NULL refuses), and the SLA deadline and completion time are computed from
 * the priority and status rows inside the insert. A refused batch writes nothing (one
 * transaction); only then are the references read, to name the field at fault.
 */
export async function createJob(w: JobWriter, body: JobFieldValues & { vat_percentage?: number }) {
  const { db } = w;
  const caller = await w.principal();
  // The initial status is a transition from nothing (src/domain/lifecycle.ts); an unknown or
  // archived status is refused below, naming the field.
  const statusId = body.status_id ?? null;
  if (statusId !== null && isLifecycleStatus(statusId) && statusId !== ARCHIVED_STATUS) {
    assertTransition({ statusId: null, contractorId: body.contractor_id ?? null }, statusId, caller, { via: "create" });
  }
  const uuid = crypto.randomUUID();
  const now = w.services.clock.iso();
  const vat = body.vat_percentage ?? Number(w.services.env.DEFAULT_VAT_PERCENTAGE ?? "20");
  const values = await columnValues(await w.services.cipher(), uuid, body);
  const changes = diff({}, sentFields({ ...body, vat_percentage: vat }));
  const tenantIds = [...new Set(body.tenants_ids ?? [])];

  let results: unknown[];
  try {
    results = await db.batch([
      db.insert(jobs).values({
        ...(values as typeof jobs.$inferInsert),
        uuid,
        // Placeholder until the id is known; replaced by JOB-<id> in the same batch.
        jobRef: `PENDING-${uuid}`,
        statusId: sql`(SELECT ${jobStatuses.id} FROM ${jobStatuses} WHERE ${jobStatuses.id} = ${statusId} AND ${jobStatuses.isArchived} = 0)`,
        vatPercentage: vat,
        createdBy: caller.userId,
        slaStartedAt: now,
        slaDeadline: slaDeadlineSql(now, body.priority_id ?? null),
        completedAt: sql`(SELECT CASE WHEN ${jobStatuses.isCompleted} THEN ${now} END FROM ${jobStatuses} WHERE ${jobStatuses.id} = ${statusId})`,
        createdAt: now,
        updatedAt: now,
      }),
      db
        .update(jobs)
        .set({ jobRef: sql`'JOB-' || printf('%03d', ${jobs.id})` })
        .where(eq(jobs.uuid, uuid)),
      ...tenantIds.map((tenantId) => db.insert(jobTenants).values({ jobId: sql`(SELECT id FROM jobs WHERE uuid = ${uuid})`, tenantId })),
      recordEvent(db, { jobId: null, jobUuid: uuid, actor: caller, action: "job.created", changes }),
      db.select({ id: jobs.id, jobRef: jobs.jobRef }).from(jobs).where(eq(jobs.uuid, uuid)),
    ]);
  } catch (err) {
    // Refused by a constraint: say which reference (400); anything else stays an error.
    const { status } = await checkReferences(db, body);
    if (status?.isArchived)
      throw badRequest("status_id: a job cannot be created in an archived status", [
        { field: "status_id", message: "is an archived status" },
      ]);
    throw err;
  }
  const created = (results.at(-1) as { id: number; jobRef: string }[])[0];
  if (!created) throw new ApiError("INTERNAL", "Job was not created");
  return { id: created.id, uuid, ref: created.jobRef };
}

/** Changes only the fields sent; answers the fields that changed and the job's new version. */
export async function updateJob(w: JobWriter, uuid: string, fields: JobFieldValues, ifMatch?: string) {
  if (Object.values(fields).every((v) => v === undefined)) {
    await w.principal(); // an unknown caller learns nothing about its input
    throw badRequest("Nothing to update: send at least one job field");
  }
  const { db } = w;
  // One read: the job (and the token check, before the caller is resolved), its tenants and the
  // references sent.
  const references = referenceLookups(db, fields);
  const [jobRows, tenantRows, ...found] = await w.read([
    jobForChangeQuery(db, { uuid }, await w.jobVisible()),
    db
      .select({ tenantId: jobTenants.tenantId })
      .from(jobTenants)
      .where(sql`${jobTenants.jobId} = (SELECT ${jobs.id} FROM ${jobs} WHERE ${jobs.uuid} = ${uuid})`),
    ...references.queries,
  ]);
  const caller = w.caller;
  const { job, slaHours: currentSlaHours } = changeable(jobForChangeRow(jobRows));
  const guard = ifMatchCondition(ifMatch, job.version);
  const { priority } = references.check(found);
  const cipher = await w.services.cipher();
  const sent = sentFields(fields);
  const tenantsBefore = tenantRows.map((t) => t.tenantId).sort((a, b) => a - b);
  const before = await currentValues(cipher, job, tenantsBefore, Object.keys(sent));
  const end = fields.date_works_end_date !== undefined ? fields.date_works_end_date : job.dateWorksEndDate;
  const start = fields.date_works_start_date !== undefined ? fields.date_works_start_date : job.dateWorksStartDate;
  if (start && end && start > end) {
    throw badRequest("date_works_end_date: must not be before date_works_start_date", [
      { field: "date_works_end_date", message: "must not be before date_works_start_date" },
    ]);
  }

  const changes = diff(before, sent);
  const changed = Object.keys(changes);
  if (changed.length === 0) return { changed, version: job.version };

  const changedFields = Object.fromEntries(changed.map((k) => [k, (fields as Record<string, unknown>)[k]])) as JobFieldValues;
  // A new status is a transition of the lifecycle (409 with the statuses open to this caller).
  const transition =
    changedFields.status_id != null ? assertTransition(job, changedFields.status_id, caller, { via: "update" }) : undefined;
  const values = await columnValues(cipher, uuid, changedFields);
  const now = w.services.clock.iso();
  const slaHours = changedFields.priority_id !== undefined ? priority?.slaHours : undefined;
  if (changedFields.priority_id !== undefined) values.slaDeadline = slaDeadlineFrom(job.slaStartedAt, slaHours);
  if (transition) {
    Object.assign(
      values,
      transitionColumns(transition, caller, now, (start) => slaDeadlineFrom(start, slaHours === undefined ? currentSlaHours : slaHours)),
    );
  }
  // A new contractor has not accepted the job yet.
  if (changedFields.contractor_id !== undefined) values.acceptedAt = null;

  const tenantIds = changedFields.tenants_ids ? [...new Set(changedFields.tenants_ids)] : undefined;
  const results = await db.batch([
    // Guarded on the status read above: a job archived meanwhile is not changed (nor recorded).
    db
      .update(jobs)
      .set({ ...values, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId), guard)),
    recordEvent(db, { jobId: job.id, jobUuid: uuid, actor: caller, action: "job.updated", changes }, { ifChanged: true }),
    ...(tenantIds
      ? [
          db.delete(jobTenants).where(eq(jobTenants.jobId, job.id)),
          ...tenantIds.map((tenantId) => db.insert(jobTenants).values({ jobId: job.id, tenantId })),
        ]
      : []),
    db.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, job.id)),
  ]);
  if ((results[0] as D1Result).meta.changes === 0) {
    throw ifMatch !== undefined ? stale(job.version + 1) : conflict("The job changed while it was being updated; read it again and retry");
  }
  return { changed, version: (results.at(-1) as { version: number }[])[0]?.version };
}

/** Removes the job's rows in one batch (foreign keys cascade), then its stored files. */
export async function deleteJob(w: JobWriter, uuid: string, ifMatch?: string) {
  const { db } = w;
  const { job } = await jobForChange(w, { uuid });
  const caller = w.caller;
  const guard = ifMatchCondition(ifMatch, job.version);
  const [deleted] = await db.batch([
    db.delete(jobs).where(and(eq(jobs.id, job.id), guard)),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: uuid,
        actor: caller,
        action: "job.deleted",
        changes: { job_ref: { before: job.jobRef, after: null }, job_title: { before: job.jobTitle, after: null } },
      },
      { ifChanged: true },
    ),
  ]);
  if (deleted.meta.changes === 0 && ifMatch !== undefined) throw stale(job.version + 1);
  // Every file is under jobs/<uuid>/: removed once the rows are gone.
  await removeJobFiles(w.services, uuid);
}
