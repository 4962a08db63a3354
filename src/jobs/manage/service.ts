import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { jobStatuses, jobs, jobTenants } from "../../db/schema";
import { ApiError, badRequest, conflict } from "../../domain/errors";
import { diff, recordEvent } from "../../domain/events";
import { changeable, jobForChange, jobForChangeQuery, jobForChangeRow } from "../../domain/job-access";
import {
  acceptsOverrun,
  assignableSql,
  BUDGET_FIELDS,
  budgetCheck,
  budgetOf,
  checkReferences,
  columnValues,
  currentValues,
  referenceLookups,
  sentFields,
} from "../../domain/job-fields";
import { ARCHIVED_STATUS, assertTransition, isLifecycleStatus, transitionColumns } from "../../domain/lifecycle";
import { slaDeadlineFrom, slaDeadlineSql } from "../../domain/sla";
import { removeJobFiles } from "../../media/cleanup";
import type { CreateJob, JobFields } from "./schemas";

/**
 * Creating, updating and deleting a job: the rules (references, archived statuses, dates, the SLA
 * deadline, the change diff) and one D1 batch each with its event. Every channel calls these; the
 * HTTP route (write.ts) validates, translates If-Match, calls one and builds the envelope.
 */

/** Who may change a job directly: the managing side (contractors propose amendments instead). */
export const JOB_WRITE: Admission = {
  permission: "api.jobs.manage.manage",
  policy: {
    rule: "job.write",
    message: "Contractors cannot create, update or delete jobs; propose changes with POST /api/jobs/amend-request",
  },
};

/** A job's ETag: its version, which a trigger bumps on every change to the row (migration 0005). */
export const jobEtag = (version: number) => `"v${version}"`;

/** 412, naming the job's current ETag when the write read it (a job deleted meanwhile has none). */
const stale = (version: number | undefined) =>
  new ApiError(
    "PRECONDITION_FAILED",
    `If-Match: the job has changed${version === undefined ? "" : ` (its ETag is now ${jobEtag(version)})`}; read it again and retry`,
  );

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

/** The job's version as the last statement of a write batch reads it (undefined once deleted). */
const versionQuery = (s: Scope, jobId: number) => s.db.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, jobId));
const versionOf = (rows: unknown) => (rows as { version: number }[])[0]?.version;

export type CreateJobInput = Omit<CreateJob, "action">;
/** The fields to change, the job, and the If-Match header's value when the channel has one. */
export type UpdateJobInput = JobFields & { uuid: string; ifMatch?: string; accept_budget_overrun?: boolean };
export type DeleteJobInput = { uuid: string; ifMatch?: string };

/**
 * One D1 batch after the token check (two round trips): the references are not read first. The
 * schema's foreign keys refuse an unknown id, the status goes in only when it is not archived and
 * the assignment is allowed (active agent, contractor and tenants, tenants of the address; else
 * NULL, which NOT NULL refuses), and the SLA deadline and completion time are computed from the
 * priority and status rows inside the insert. A refused batch writes nothing (one transaction);
 * only then are the references read, to name the field at fault.
 */
export const createJob = useCase(JOB_WRITE, async (s: Scope, { accept_budget_overrun, ...body }: CreateJobInput) => {
  const { db, caller } = s;
  const accepted = acceptsOverrun(caller, accept_budget_overrun);
  // The initial status is a transition from nothing (src/domain/lifecycle.ts); an unknown or
  // archived status is refused below, naming the field.
  const statusId = body.status_id ?? null;
  if (statusId !== null && isLifecycleStatus(statusId) && statusId !== ARCHIVED_STATUS) {
    assertTransition({ statusId: null, contractorId: body.contractor_id ?? null }, statusId, caller, { via: "create" });
  }
  const uuid = crypto.randomUUID();
  const now = s.services.clock.iso();
  const vat = body.vat_percentage ?? Number(s.services.env.DEFAULT_VAT_PERCENTAGE ?? "20");
  const overrun = budgetCheck(
    { contractor_budget: body.contractor_budget ?? null, vat_percentage: vat, job_total_budget: body.job_total_budget ?? null },
    accepted,
  );
  const values = await columnValues(await s.services.cipher(), uuid, body);
  const changes = { ...diff({}, sentFields({ ...body, vat_percentage: vat })), ...overrun };
  const tenantIds = [...new Set(body.tenants_ids ?? [])];

  let results: unknown[];
  try {
    results = await db.batch([
      db.insert(jobs).values({
        ...(values as typeof jobs.$inferInsert),
        uuid,
        // Placeholder until the id is known; replaced by JOB-<id> in the same batch.
        jobRef: `PENDING-${uuid}`,
        statusId: sql`(SELECT ${jobStatuses.id} FROM ${jobStatuses} WHERE ${jobStatuses.id} = ${statusId} AND ${jobStatuses.isArchived} = 0 AND ${assignableSql(body)})`,
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
    const { status } = await checkReferences(db, body, { addressId: body.address_id });
    if (status?.isArchived)
      throw badRequest("status_id: a job cannot be created in an archived status", [
        { field: "status_id", message: "is an archived status" },
      ]);
    throw err;
  }
  const created = (results.at(-1) as { id: number; jobRef: string }[])[0];
  if (!created) throw new ApiError("INTERNAL", "Job was not created");
  return { id: created.id, uuid, ref: created.jobRef };
});

/** Changes only the fields sent; answers the fields that changed and the job's new version. */
export const updateJob = useCase(JOB_WRITE, async (s: Scope, { uuid, ifMatch, accept_budget_overrun, ...fields }: UpdateJobInput) => {
  if (Object.values(fields).every((v) => v === undefined)) throw badRequest("Nothing to update: send at least one job field");
  const { db, caller } = s;
  const accepted = acceptsOverrun(caller, accept_budget_overrun);
  // One read: the job, its tenants and the references sent.
  const references = referenceLookups(db, fields);
  const [jobRows, tenantRows, ...found] = await s.read([
    jobForChangeQuery(db, { uuid }, await s.jobVisible()),
    db
      .select({ tenantId: jobTenants.tenantId })
      .from(jobTenants)
      .where(sql`${jobTenants.jobId} = (SELECT ${jobs.id} FROM ${jobs} WHERE ${jobs.uuid} = ${uuid})`),
    ...references.queries,
  ]);
  const { job, slaHours: currentSlaHours } = changeable(jobForChangeRow(jobRows));
  const guard = ifMatchCondition(ifMatch, job.version);
  const tenantsBefore = tenantRows.map((t) => t.tenantId).sort((a, b) => a - b);
  // Who is already on the job stays assignable; a newcomer must be active (and a tenant of the address).
  const { priority } = references.check(found, {
    addressId: fields.address_id ?? job.addressId,
    agentId: job.agentId,
    contractorId: job.contractorId,
    tenantIds: tenantsBefore,
  });
  const cipher = await s.services.cipher();
  const sent = sentFields(fields);
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

  const changedFields = Object.fromEntries(changed.map((k) => [k, (fields as Record<string, unknown>)[k]])) as JobFields;
  const overrun = BUDGET_FIELDS.some((k) => k in changes) ? budgetCheck(budgetOf(job, changedFields), accepted) : undefined;
  // A new status is a transition of the lifecycle (409 with the statuses open to this caller).
  const transition =
    changedFields.status_id != null ? assertTransition(job, changedFields.status_id, caller, { via: "update" }) : undefined;
  const values = await columnValues(cipher, uuid, changedFields);
  const now = s.services.clock.iso();
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
  // Assigning a contractor (to a job that had none or another) is its own event, for both sides.
  const assigned = changedFields.contractor_id != null ? { contractor_id: changes.contractor_id } : undefined;

  const tenantIds = changedFields.tenants_ids ? [...new Set(changedFields.tenants_ids)] : undefined;
  const results = await db.batch([
    // Guarded on the status read above: a job archived meanwhile is not changed (nor recorded).
    db
      .update(jobs)
      .set({ ...values, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId), guard)),
    recordEvent(
      db,
      { jobId: job.id, jobUuid: uuid, actor: caller, action: "job.updated", changes: { ...changes, ...overrun } },
      { ifChanged: true },
    ),
    // ifChanged here reads the event insert just before it: written exactly when job.updated was.
    ...(assigned
      ? [recordEvent(db, { jobId: job.id, jobUuid: uuid, actor: caller, action: "job.assigned", changes: assigned }, { ifChanged: true })]
      : []),
    ...(tenantIds
      ? [
          db.delete(jobTenants).where(eq(jobTenants.jobId, job.id)),
          ...tenantIds.map((tenantId) => db.insert(jobTenants).values({ jobId: job.id, tenantId })),
        ]
      : []),
    versionQuery(s, job.id),
  ]);
  const version = versionOf(results.at(-1));
  if ((results[0] as D1Result).meta.changes === 0) {
    throw ifMatch !== undefined ? stale(version) : conflict("The job changed while it was being updated; read it again and retry");
  }
  return { changed, version };
});

/** Removes the job's rows in one batch (foreign keys cascade), then its stored files. */
export const deleteJob = useCase(JOB_WRITE, async (s: Scope, { uuid, ifMatch }: DeleteJobInput) => {
  const { db, caller } = s;
  const { job } = await jobForChange(s, { uuid });
  const guard = ifMatchCondition(ifMatch, job.version);
  const [deleted, , after] = await db.batch([
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
    // Still there only when the guard held it: the version it has now.
    versionQuery(s, job.id),
  ]);
  if (deleted.meta.changes === 0 && ifMatch !== undefined) throw stale(versionOf(after));
  // Every file is under jobs/<uuid>/: removed once the rows are gone.
  await removeJobFiles(s.services, uuid);
  return { uuid };
});
