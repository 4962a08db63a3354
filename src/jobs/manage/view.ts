import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import * as t from "../../db/schema";
import { aliased } from "../../db/select";
import { totalAmount } from "../../domain/job-fields";
import { openStatus } from "../../domain/sla";
import { NextStatus } from "../../http/openapi-shapes";
import type { Db } from "../../platform/services";

/** A name from a left-joined table: null when the job has no such reference. */
const joinedName = (column: SQLiteColumn) => sql<string | null>`${column}`;

/** The columns a job listing reads: the job, the names joined in, counts. */
export const jobColumns = aliased({
  id: t.jobs.id,
  uuid: t.jobs.uuid,
  jobRef: t.jobs.jobRef,
  jobTitle: t.jobs.jobTitle,
  jobDescription: t.jobs.jobDescription,
  statusId: t.jobs.statusId,
  statusName: t.jobStatuses.name,
  statusClosed: sql<number>`(NOT (${openStatus()}))`,
  isArchived: t.jobStatuses.isArchived,
  priorityId: t.jobs.priorityId,
  priorityName: t.priorities.name,
  jobTypeId: t.jobs.jobTypeId,
  jobTypeName: t.jobTypes.name,
  agentId: t.jobs.agentId,
  agentName: joinedName(t.agents.name),
  contractorId: t.jobs.contractorId,
  contractorName: joinedName(t.contractors.name),
  addressLine1: t.addresses.line1,
  addressLine2: t.addresses.line2,
  addressTown: t.addresses.town,
  addressPostcode: t.addresses.postcode,
  jobTotalBudget: t.jobs.jobTotalBudget,
  contractorBudget: t.jobs.contractorBudget,
  vatPercentage: t.jobs.vatPercentage,
  dateWorksStartDate: t.jobs.dateWorksStartDate,
  dateWorksEndDate: t.jobs.dateWorksEndDate,
  isRecall: t.jobs.isRecall,
  slaDeadline: t.jobs.slaDeadline,
  // Kept on the job row by triggers (migrations/0007): no lookup per listed job.
  photosCount: t.jobs.photosCount,
  documentsCount: t.jobs.documentsCount,
  createdAt: t.jobs.createdAt,
  updatedAt: t.jobs.updatedAt,
});

/** A select of jobs with everything a listing shows joined in. */
export function selectJobs(db: Db, columns: typeof jobColumns = jobColumns) {
  return db
    .select(columns)
    .from(t.jobs)
    .innerJoin(t.jobStatuses, eq(t.jobStatuses.id, t.jobs.statusId))
    .innerJoin(t.priorities, eq(t.priorities.id, t.jobs.priorityId))
    .innerJoin(t.jobTypes, eq(t.jobTypes.id, t.jobs.jobTypeId))
    .innerJoin(t.addresses, eq(t.addresses.id, t.jobs.addressId))
    .leftJoin(t.agents, eq(t.agents.id, t.jobs.agentId))
    .leftJoin(t.contractors, eq(t.contractors.id, t.jobs.contractorId));
}

/** The columns only the single-job read shows (run beside `selectJobs` in the same batch). */
export function selectJobDetail(db: Db) {
  return db
    .select(detailColumns)
    .from(t.jobs)
    .leftJoin(t.paymentStatuses, eq(t.paymentStatuses.id, t.jobs.paymentStatusId))
    .leftJoin(t.timeRanges, eq(t.timeRanges.id, t.jobs.timeRangeId))
    .leftJoin(t.users, eq(t.users.id, t.jobs.createdBy));
}

export const detailColumns = aliased({
  paymentStatusId: t.jobs.paymentStatusId,
  paymentStatusName: joinedName(t.paymentStatuses.name),
  timeRangeId: t.jobs.timeRangeId,
  timeRangeName: joinedName(t.timeRanges.name),
  addressId: t.jobs.addressId,
  createdBy: t.jobs.createdBy,
  createdByName: joinedName(t.users.name),
  worksOrderRef: t.jobs.worksOrderRef,
  invoiceNo: t.jobs.invoiceNo,
  accessDetails: t.jobs.accessDetails,
  privateContactName: t.jobs.privateContactName,
  privateContactEmail: t.jobs.privateContactEmail,
  completedAt: t.jobs.completedAt,
  acceptedAt: t.jobs.acceptedAt,
  version: t.jobs.version,
});

export type JobRow = Awaited<ReturnType<typeof selectJobs>>[number];

export const fullAddress = (r: { addressLine1: string; addressLine2: string | null; addressTown: string; addressPostcode: string }) =>
  [r.addressLine1, r.addressLine2, r.addressTown, r.addressPostcode].filter((p): p is string => !!p).join(", ");

export type SlaState = "within" | "overdue" | "breached" | "not_applicable";

/** The SLA rule (src/domain/sla.ts): breached once past the deadline; overdue when past the scheduled end date; else within. */
export function slaState(
  row: { statusClosed: number; slaDeadline: string | null; dateWorksEndDate: string | null },
  nowMs: number,
): SlaState {
  if (row.statusClosed || !row.slaDeadline) return "not_applicable";
  if (Date.parse(row.slaDeadline) < nowMs) return "breached";
  if (row.dateWorksEndDate && Date.parse(`${row.dateWorksEndDate}T23:59:59Z`) < nowMs) return "overdue";
  return "within";
}

/** The reference's job listing item; `nowMs` (the scope's clock) decides its SLA state. */
export function toListItem(r: JobRow, pinned: Set<string>, nowMs: number) {
  const contractorBudget = r.contractorBudget;
  const vat = r.vatPercentage;
  return {
    ID: r.id,
    uuid: r.uuid,
    job_ref: r.jobRef,
    job_title: r.jobTitle,
    job_description: r.jobDescription,
    status_id: r.statusId,
    status_name: r.statusName,
    priority_id: r.priorityId,
    priority_name: r.priorityName,
    job_type_id: r.jobTypeId,
    job_type_name: r.jobTypeName,
    agent_id: r.agentId,
    agent_name: r.agentName,
    contractor_id: r.contractorId,
    contractor_name: r.contractorName,
    full_address: fullAddress(r),
    job_total_budget: r.jobTotalBudget,
    contractor_budget: contractorBudget,
    vat_percentage: vat,
    total_amount: totalAmount(contractorBudget, vat),
    date_works_start_date: r.dateWorksStartDate,
    date_works_end_date: r.dateWorksEndDate,
    photos_count: Number(r.photosCount),
    documents_count: Number(r.documentsCount),
    is_pinned: pinned.has(r.uuid),
    is_recall: Number(r.isRecall),
    sla_deadline: r.slaDeadline,
    sla_state: slaState(r, nowMs),
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

export const JobListItem = z
  .object({
    ID: z.number().int(),
    uuid: z.string(),
    job_ref: z.string().openapi({ example: "JOB-001" }),
    job_title: z.string(),
    job_description: z.string(),
    status_id: z.number().int(),
    status_name: z.string(),
    priority_id: z.number().int(),
    priority_name: z.string(),
    job_type_id: z.number().int(),
    job_type_name: z.string(),
    agent_id: z.number().int().nullable(),
    agent_name: z.string().nullable(),
    contractor_id: z.number().int().nullable(),
    contractor_name: z.string().nullable(),
    full_address: z.string(),
    job_total_budget: z.number().nullable(),
    contractor_budget: z.number().nullable(),
    vat_percentage: z.number(),
    total_amount: z.number().nullable().openapi({ description: "contractor_budget plus VAT" }),
    date_works_start_date: z.string().nullable(),
    date_works_end_date: z.string().nullable(),
    photos_count: z.number().int(),
    documents_count: z.number().int(),
    is_pinned: z.boolean(),
    is_recall: z.number().int(),
    sla_deadline: z.string().nullable(),
    sla_state: z.enum(["within", "overdue", "breached", "not_applicable"]),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("JobListItem");

export const JobDetail = JobListItem.extend({
  payment_status_id: z.number().int().nullable(),
  payment_status_name: z.string().nullable(),
  time_range_id: z.number().int().nullable(),
  time_range_name: z.string().nullable(),
  address_id: z.number().int(),
  created_by: z.number().int().nullable(),
  created_by_name: z.string().nullable(),
  works_order_ref: z.string().nullable(),
  invoice_no: z.string().nullable(),
  access_details: z.string().nullable().openapi({ description: "Decrypted; null unless the token holds api.jobs.manage.manage" }),
  private_contact_name: z
    .string()
    .nullable()
    .openapi({ description: "Decrypted; null for contractors and for tokens without api.jobs.manage.manage" }),
  private_contact_email: z
    .string()
    .nullable()
    .openapi({ description: "Decrypted; null for contractors and for tokens without api.jobs.manage.manage" }),
  tenants: z.array(z.object({ id: z.number().int(), name: z.string() })),
  completed_at: z.string().nullable(),
  accepted_at: z
    .string()
    .nullable()
    .openapi({ description: "When the assigned contractor accepted the job (POST /api/jobs/work action=accept)" }),
  next_statuses: z.array(NextStatus).openapi({
    description: "Where this caller may take the job next (the job lifecycle), through which operation and requiring what",
  }),
}).openapi("JobDetail");
