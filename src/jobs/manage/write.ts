import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { auditEvent, auditEventIfChanged, diff } from "../../audit/audit";
import {
  addresses,
  agents,
  contractors,
  jobStatuses,
  jobs,
  jobTenants,
  jobTypes,
  paymentStatuses,
  priorities,
  tenants,
  timeRanges,
} from "../../db/schema";
import { nowIso, type RequestContext } from "../../http/context";
import { done } from "../../http/envelope";
import { ApiError, badRequest, conflict, type FieldError, forbidden, notFound } from "../../http/errors";
import { MessageOnly } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { deleteJobObjects } from "../../media/cleanup";
import { slaDeadlineFrom } from "../../sla/policy";
import { checkIfMatch, preconditionLost, setJobEtag } from "./etag";
import { JOB_ENCRYPTED_COLUMNS, jobFieldContext } from "./private-fields";
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
    if (c.var.ctx.caller.role === "contractor") {
      throw forbidden("Contractors cannot create, update or delete jobs; propose changes with POST /api/jobs/amend-request");
    }
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

/**
 * Checks that every referenced record exists, in one batch. Unknown references are invalid input
 * (400 with the field named); the job itself being unknown is a 404.
 */
async function checkReferences(ctx: RequestContext, f: JobFields) {
  const db = ctx.db;
  const [status, priority, type, address, agent, contractor, payment, timeRange, tenantRows] = await db.batch([
    db
      .select()
      .from(jobStatuses)
      .where(eq(jobStatuses.id, f.status_id ?? -1)),
    db
      .select()
      .from(priorities)
      .where(eq(priorities.id, f.priority_id ?? -1)),
    db
      .select({ id: jobTypes.id })
      .from(jobTypes)
      .where(eq(jobTypes.id, f.job_type_id ?? -1)),
    db
      .select({ id: addresses.id })
      .from(addresses)
      .where(eq(addresses.id, f.address_id ?? -1)),
    db
      .select({ id: agents.id })
      .from(agents)
      .where(eq(agents.id, f.agent_id ?? -1)),
    db
      .select({ id: contractors.id })
      .from(contractors)
      .where(eq(contractors.id, f.contractor_id ?? -1)),
    db
      .select({ id: paymentStatuses.id })
      .from(paymentStatuses)
      .where(eq(paymentStatuses.id, f.payment_status_id ?? -1)),
    db
      .select({ id: timeRanges.id })
      .from(timeRanges)
      .where(eq(timeRanges.id, f.time_range_id ?? -1)),
    db
      .select({ id: tenants.id })
      .from(tenants)
      .where(sql`${tenants.id} IN (SELECT value FROM json_each(${JSON.stringify(f.tenants_ids ?? [])}))`),
  ]);
  const errors: FieldError[] = [];
  const missing = (field: string, given: number | null | undefined, rows: unknown[], what: string) => {
    if (given != null && rows.length === 0) errors.push({ field, message: `no ${what} with id ${given}` });
  };
  missing("status_id", f.status_id, status, "status");
  missing("priority_id", f.priority_id, priority, "priority");
  missing("job_type_id", f.job_type_id, type, "job type");
  missing("address_id", f.address_id, address, "address");
  missing("agent_id", f.agent_id, agent, "agent");
  missing("contractor_id", f.contractor_id, contractor, "contractor");
  missing("payment_status_id", f.payment_status_id, payment, "payment status");
  missing("time_range_id", f.time_range_id, timeRange, "time range");
  if (f.tenants_ids) {
    const found = new Set(tenantRows.map((t) => t.id));
    const unknown = [...new Set(f.tenants_ids)].filter((id) => !found.has(id));
    if (unknown.length > 0) errors.push({ field: "tenants_ids", message: `no tenant with id ${unknown.join(", ")}` });
  }
  if (errors.length > 0) throw badRequest(`${errors[0]?.field}: ${errors[0]?.message}`, errors);
  return { status: status[0], priority: priority[0] };
}

/** Column values for the fields given, with the private fields encrypted for this job's row. */
async function columnValues(ctx: RequestContext, jobUuid: string, f: JobFields) {
  const cipher = await ctx.cipher();
  const values: Partial<typeof jobs.$inferInsert> = {};
  const set = <K extends keyof typeof jobs.$inferInsert>(k: K, v: (typeof jobs.$inferInsert)[K] | undefined) => {
    if (v !== undefined) values[k] = v;
  };
  set("jobTitle", f.job_title);
  set("jobDescription", f.job_description);
  set("priorityId", f.priority_id);
  set("statusId", f.status_id);
  set("jobTypeId", f.job_type_id);
  set("addressId", f.address_id);
  set("agentId", f.agent_id);
  set("contractorId", f.contractor_id);
  set("paymentStatusId", f.payment_status_id);
  set("timeRangeId", f.time_range_id);
  set("jobTotalBudget", f.job_total_budget);
  set("contractorBudget", f.contractor_budget);
  set("vatPercentage", f.vat_percentage);
  set("dateWorksStartDate", f.date_works_start_date);
  set("dateWorksEndDate", f.date_works_end_date);
  set("worksOrderRef", f.works_order_ref);
  set("invoiceNo", f.invoice_no);
  const encrypted = await Promise.all(
    JOB_ENCRYPTED_COLUMNS.map(async (col) =>
      f[col] === undefined ? undefined : cipher.encryptOptional(jobFieldContext(jobUuid, col), f[col]),
    ),
  );
  set("accessDetails", encrypted[0]);
  set("privateContactName", encrypted[1]);
  set("privateContactEmail", encrypted[2]);
  return values;
}

/** The request's fields in API names, for the audit trail (tenants as a sorted list). */
function apiFields(f: JobFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    if (k === "action" || k === "uuid" || v === undefined) continue;
    out[k] = k === "tenants_ids" && Array.isArray(v) ? [...new Set(v as number[])].sort((a, b) => a - b) : v;
  }
  return out;
}

async function createJob(c: AppContext, body: CreateJob) {
  const ctx = c.var.ctx;
  const caller = ctx.caller;
  const { status, priority } = await checkReferences(ctx, body);
  if (status?.isArchived)
    throw badRequest("status_id: a job cannot be created in an archived status", [
      { field: "status_id", message: "is an archived status" },
    ]);

  const uuid = crypto.randomUUID();
  const now = nowIso();
  const vat = body.vat_percentage ?? Number(c.env.DEFAULT_VAT_PERCENTAGE ?? "20");
  const values = await columnValues(ctx, uuid, body);
  const fields = apiFields({ ...body, vat_percentage: vat });
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
    auditEvent(db, {
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

async function loadJobForWrite(ctx: RequestContext, uuid: string) {
  const visible = await ctx.jobVisible();
  const [rows, tenantRows] = await ctx.db.batch([
    ctx.db
      .select({ job: jobs, isArchived: jobStatuses.isArchived })
      .from(jobs)
      .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
      .where(and(eq(jobs.uuid, uuid), visible)),
    ctx.db
      .select({ tenantId: jobTenants.tenantId })
      .from(jobTenants)
      .innerJoin(jobs, eq(jobs.id, jobTenants.jobId))
      .where(eq(jobs.uuid, uuid)),
  ]);
  const row = rows[0];
  if (!row) throw notFound("Job");
  return { job: row.job, archived: row.isArchived, tenantIds: tenantRows.map((t) => t.tenantId).sort((a, b) => a - b) };
}

async function updateJob(c: AppContext, body: UpdateJob) {
  const ctx = c.var.ctx;
  const { action: _a, uuid, ...fields } = body;
  if (Object.values(fields).every((v) => v === undefined)) {
    throw badRequest("Nothing to update: send at least one job field");
  }
  const current = await loadJobForWrite(ctx, uuid);
  const ifMatch = checkIfMatch(c, current.job.version);
  if (current.archived) throw new ApiError("ARCHIVED", "Archived jobs cannot be updated");
  const { status, priority } = await checkReferences(ctx, fields);
  const job = current.job;

  // The current values in API names; private fields decrypted so an unchanged value is no change.
  const cipher = await ctx.cipher();
  const before: Record<string, unknown> = {
    job_title: job.jobTitle,
    job_description: job.jobDescription,
    priority_id: job.priorityId,
    status_id: job.statusId,
    job_type_id: job.jobTypeId,
    address_id: job.addressId,
    agent_id: job.agentId,
    contractor_id: job.contractorId,
    payment_status_id: job.paymentStatusId,
    time_range_id: job.timeRangeId,
    tenants_ids: current.tenantIds,
    job_total_budget: job.jobTotalBudget,
    contractor_budget: job.contractorBudget,
    vat_percentage: job.vatPercentage,
    date_works_start_date: job.dateWorksStartDate,
    date_works_end_date: job.dateWorksEndDate,
    works_order_ref: job.worksOrderRef,
    invoice_no: job.invoiceNo,
    access_details:
      fields.access_details === undefined
        ? undefined
        : await cipher.decryptOptional(jobFieldContext(uuid, "access_details"), job.accessDetails),
    private_contact_name:
      fields.private_contact_name === undefined
        ? undefined
        : await cipher.decryptOptional(jobFieldContext(uuid, "private_contact_name"), job.privateContactName),
    private_contact_email:
      fields.private_contact_email === undefined
        ? undefined
        : await cipher.decryptOptional(jobFieldContext(uuid, "private_contact_email"), job.privateContactEmail),
  };
  const end = fields.date_works_end_date !== undefined ? fields.date_works_end_date : job.dateWorksEndDate;
  const start = fields.date_works_start_date !== undefined ? fields.date_works_start_date : job.dateWorksStartDate;
  if (start && end && start > end) {
    throw badRequest("date_works_end_date: must not be before date_works_start_date", [
      { field: "date_works_end_date", message: "must not be before date_works_start_date" },
    ]);
  }

  const changes = diff(before, apiFields(fields));
  const changed = Object.keys(changes);
  if (changed.length === 0) {
    setJobEtag(c, job.version);
    return done(c, "No changes: the job already has these values", { job_uuid: uuid, changed_fields: [] });
  }

  const changedFields = Object.fromEntries(changed.map((k) => [k, (fields as Record<string, unknown>)[k]])) as JobFields;
  const values = await columnValues(ctx, uuid, changedFields);
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
    auditEventIfChanged(db, { jobId: job.id, jobUuid: uuid, actor: ctx.caller, action: "job.updated", changes }),
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
  const current = await loadJobForWrite(ctx, uuid);
  const ifMatch = checkIfMatch(c, current.job.version);
  if (current.archived) throw new ApiError("ARCHIVED", "Archived jobs cannot be deleted");
  const job = current.job;
  const db = ctx.db;
  // Rows go in one batch (foreign keys cascade to notes, attachments, photos, documents, …);
  // stored files are all under jobs/<uuid>/ and are removed after the rows are gone.
  const [deleted] = await db.batch([
    db.delete(jobs).where(and(eq(jobs.id, job.id), ifMatch)),
    auditEventIfChanged(db, {
      jobId: job.id,
      jobUuid: uuid,
      actor: ctx.caller,
      action: "job.deleted",
      changes: { job_ref: { before: job.jobRef, after: null }, job_title: { before: job.jobTitle, after: null } },
    }),
  ]);
  const lost = deleted.meta.changes === 0 ? preconditionLost(c, job.version) : undefined;
  if (lost) throw lost;
  await deleteJobObjects(c.env, uuid, ctx.executionCtx);
  return done(c, "Job deleted successfully", { job_uuid: uuid });
}
