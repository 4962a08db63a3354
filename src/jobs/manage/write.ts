import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { jobs, jobTenants } from "../../db/schema";
import { ApiError, badRequest, conflict } from "../../domain/errors";
import { diff, recordEvent } from "../../domain/events";
import { jobForChange } from "../../domain/job-access";
import { checkReferences, columnValues, currentValues, sentFields } from "../../domain/job-fields";
import { assertCan } from "../../domain/policy";
import { slaDeadlineFrom } from "../../domain/sla";
import { nowIso } from "../../domain/time";
import type { RequestContext } from "../../http/context";
import { done } from "../../http/envelope";
import { MessageOnly } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { removeJobFiles } from "../../media/cleanup";
import { checkIfMatch, preconditionLost, setJobEtag } from "./etag";
import { type CreateJob, type JobFields, manageBody, type UpdateJob } from "./schemas";

export const postManage = operation({
  method: "post",
  path: "/api/jobs/manage",
  operationId: "createUpdateDeleteJob",
  summary: "Create (action=create), update (action=update) or delete (action=delete) a job",
  description:
    "create answers 201 with `job_id`, `job_uuid`, `job_ref`. update changes only the fields sent; archived jobs answer 403. " +
    "delete removes the job with its notes, photos, documents and their stored files. Contractors propose changes through amendment requests instead.",
  tag: "Jobs",
  permission: "api.jobs.manage.manage",
  body: manageBody,
  actions: ["create", "update", "delete"],
  responses: {
    201: jsonResponse(
      "Job created",
      z.object({ success: z.literal(true), job_id: z.number().int(), job_uuid: z.string(), job_ref: z.string(), message: z.string() }),
    ),
    200: jsonResponse(
      "Job updated or deleted",
      MessageOnly.extend({ job_uuid: z.string().optional(), changed_fields: z.array(z.string()).optional() }),
    ),
  },
  handler: async (c, { body }) => {
    assertCan(
      c.var.ctx.caller,
      "job.write",
      "Contractors cannot create, update or delete jobs; propose changes with POST /api/jobs/amend-request",
    );
    switch (body.action) {
      case "create":
        return createJob(c, body);
      case "update":
        return updateJob(c, body);
      case "delete":
        return deleteJob(c, body.uuid);
    }
  },
});

async function createJob(c: AppContext, body: CreateJob) {
  const ctx = c.var.ctx;
  const caller = ctx.caller;
  const { status, priority } = await checkReferences(ctx.db, body);
  if (status?.isArchived)
    throw badRequest("status_id: a job cannot be created in an archived status", [
      { field: "status_id", message: "is an archived status" },
    ]);

  const uuid = crypto.randomUUID();
  const now = nowIso();
  const vat = body.vat_percentage ?? Number(c.env.DEFAULT_VAT_PERCENTAGE ?? "20");
  const values = await columnValues(await ctx.cipher(), uuid, body);
  const fields = sentFields({ ...body, vat_percentage: vat });
  const changes = diff({}, fields);
  const db = ctx.db;
  const tenantIds = [...new Set(body.tenants_ids ?? [])];

  const results = await db.batch([
    db.insert(jobs).values({
      ...(values as typeof jobs.$inferInsert),
      uuid,
      // Placeholder until the id is known; replaced by JOB-<id> in the same batch.
      jobRef: `PENDING-${uuid}`,
      vatPercentage: vat,
      createdBy: caller.userId,
      slaStartedAt: now,
      slaDeadline: slaDeadlineFrom(now, priority?.slaHours),
      completedAt: status?.isCompleted ? now : null,
      createdAt: now,
      updatedAt: now,
    }),
    db
      .update(jobs)
      .set({ jobRef: sql`'JOB-' || printf('%03d', ${jobs.id})` })
      .where(eq(jobs.uuid, uuid)),
    ...tenantIds.map((tenantId) => db.insert(jobTenants).values({ jobId: sql`(SELECT id FROM jobs WHERE uuid = ${uuid})`, tenantId })),
    recordEvent(db, {
      jobId: null,
      jobUuid: uuid,
      actor: caller,
      action: "job.created",
      changes,
    }),
    db.select({ id: jobs.id, jobRef: jobs.jobRef }).from(jobs).where(eq(jobs.uuid, uuid)),
  ]);
  const created = (results.at(-1) as { id: number; jobRef: string }[])[0];
  if (!created) throw new ApiError("INTERNAL", "Job was not created");
  return done(c, "Job created successfully", { job_id: created.id, job_uuid: uuid, job_ref: created.jobRef }, 201);
}

/** The job with its tenants, if the caller may change it (404 / 403 archived: job-access.ts). */
async function loadJobForChange(ctx: RequestContext, uuid: string) {
  const { job } = await jobForChange(ctx, { uuid });
  const tenantRows = await ctx.db.select({ tenantId: jobTenants.tenantId }).from(jobTenants).where(eq(jobTenants.jobId, job.id));
  return { job, tenantIds: tenantRows.map((t) => t.tenantId).sort((a, b) => a - b) };
}

async function updateJob(c: AppContext, body: UpdateJob) {
  const ctx = c.var.ctx;
  const { action: _a, uuid, ...fields } = body;
  if (Object.values(fields).every((v) => v === undefined)) {
    throw badRequest("Nothing to update: send at least one job field");
  }
  const current = await loadJobForChange(ctx, uuid);
  const ifMatch = checkIfMatch(c, current.job.version);
  const { status, priority } = await checkReferences(ctx.db, fields);
  const job = current.job;
  const sent = sentFields(fields);
  const before = await currentValues(await ctx.cipher(), job, current.tenantIds, Object.keys(sent));
  const end = fields.date_works_end_date !== undefined ? fields.date_works_end_date : job.dateWorksEndDate;
  const start = fields.date_works_start_date !== undefined ? fields.date_works_start_date : job.dateWorksStartDate;
  if (start && end && start > end) {
    throw badRequest("date_works_end_date: must not be before date_works_start_date", [
      { field: "date_works_end_date", message: "must not be before date_works_start_date" },
    ]);
  }

  const changes = diff(before, sent);
  const changed = Object.keys(changes);
  if (changed.length === 0) {
    setJobEtag(c, job.version);
    return done(c, "No changes: the job already has these values", { job_uuid: uuid, changed_fields: [] });
  }

  const changedFields = Object.fromEntries(changed.map((k) => [k, (fields as Record<string, unknown>)[k]])) as JobFields;
  const values = await columnValues(await ctx.cipher(), uuid, changedFields);
  const now = nowIso();
  if (changedFields.priority_id !== undefined) {
    values.slaDeadline = slaDeadlineFrom(job.slaStartedAt, priority?.slaHours);
  }
  if (changedFields.status_id !== undefined) values.completedAt = status?.isCompleted ? now : null;

  const db = ctx.db;
  const tenantIds = changedFields.tenants_ids ? [...new Set(changedFields.tenants_ids)] : undefined;
  const results = await db.batch([
    // Guarded on the status read above: a job archived meanwhile is not changed (nor audited).
    db
      .update(jobs)
      .set({ ...values, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId), ifMatch)),
    recordEvent(db, { jobId: job.id, jobUuid: uuid, actor: ctx.caller, action: "job.updated", changes }, { ifChanged: true }),
    ...(tenantIds
      ? [
          db.delete(jobTenants).where(eq(jobTenants.jobId, job.id)),
          ...tenantIds.map((tenantId) => db.insert(jobTenants).values({ jobId: job.id, tenantId })),
        ]
      : []),
    db.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, job.id)),
  ]);
  if ((results[0] as D1Result).meta.changes === 0) {
    throw preconditionLost(c, job.version) ?? conflict("The job changed while it was being updated; read it again and retry");
  }
  setJobEtag(c, (results.at(-1) as { version: number }[])[0]?.version);
  return done(c, "Job updated successfully", { job_uuid: uuid, changed_fields: changed });
}

async function deleteJob(c: AppContext, uuid: string) {
  const ctx = c.var.ctx;
  const { job } = await jobForChange(ctx, { uuid });
  const ifMatch = checkIfMatch(c, job.version);
  const db = ctx.db;
  // Rows go in one batch (foreign keys cascade to notes, attachments, photos, documents, …);
  // stored files are all under jobs/<uuid>/ and are removed after the rows are gone.
  const [deleted] = await db.batch([
    db.delete(jobs).where(and(eq(jobs.id, job.id), ifMatch)),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: uuid,
        actor: ctx.caller,
        action: "job.deleted",
        changes: { job_ref: { before: job.jobRef, after: null }, job_title: { before: job.jobTitle, after: null } },
      },
      { ifChanged: true },
    ),
  ]);
  const lost = deleted.meta.changes === 0 ? preconditionLost(c, job.version) : undefined;
  if (lost) throw lost;
  await removeJobFiles(ctx.services, uuid);
  return done(c, "Job deleted successfully", { job_uuid: uuid });
}
