import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import {
  addresses,
  agents,
  contractors,
  jobStatuses,
  jobs,
  jobTypes,
  paymentStatuses,
  priorities,
  timeRanges,
  users,
} from "../../db/schema";
import { aliased } from "../../db/select";
import { openStatus } from "../../domain/sla";
import type { Db } from "../../platform/services";

/** The columns a job listing reads: the job, the names joined in, counts. */
export const jobColumns = aliased({
  id: jobs.id,
  uuid: jobs.uuid,
  jobRef: jobs.jobRef,
  jobTitle: jobs.jobTitle,
  jobDescription: jobs.jobDescription,
  statusId: jobs.statusId,
  statusName: jobStatuses.name,
  statusClosed: sql<number>`(NOT (${openStatus()}))`,
  isArchived: jobStatuses.isArchived,
  priorityId: jobs.priorityId,
  priorityName: priorities.name,
  jobTypeId: jobs.jobTypeId,
  jobTypeName: jobTypes.name,
  agentId: jobs.agentId,
  agentName: sql<string | null>`${agents.name}`, // left join
  contractorId: jobs.contractorId,
  contractorName: sql<string | null>`${contractors.name}`, // left join
  addressLine1: addresses.line1,
  addressLine2: addresses.line2,
  addressTown: addresses.town,
  addressPostcode: addresses.postcode,
  jobTotalBudget: jobs.jobTotalBudget,
  contractorBudget: jobs.contractorBudget,
  vatPercentage: jobs.vatPercentage,
  dateWorksStartDate: jobs.dateWorksStartDate,
  dateWorksEndDate: jobs.dateWorksEndDate,
  isRecall: jobs.isRecall,
  slaDeadline: jobs.slaDeadline,
  // Kept on the job row by triggers (migrations/0007): no lookup per listed job.
  photosCount: jobs.photosCount,
  documentsCount: jobs.documentsCount,
  createdAt: jobs.createdAt,
  updatedAt: jobs.updatedAt,
});

/** A select of jobs with everything a listing shows joined in. */
export function selectJobs(db: Db, columns: typeof jobColumns = jobColumns) {
  return db
    .select(columns)
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .innerJoin(priorities, eq(priorities.id, jobs.priorityId))
    .innerJoin(jobTypes, eq(jobTypes.id, jobs.jobTypeId))
    .innerJoin(addresses, eq(addresses.id, jobs.addressId))
    .leftJoin(agents, eq(agents.id, jobs.agentId))
    .leftJoin(contractors, eq(contractors.id, jobs.contractorId));
}

/** The columns only the single-job read shows (run beside `selectJobs` in the same batch). */
export function selectJobDetail(db: Db) {
  return db
    .select(detailColumns)
    .from(jobs)
    .leftJoin(paymentStatuses, eq(paymentStatuses.id, jobs.paymentStatusId))
    .leftJoin(timeRanges, eq(timeRanges.id, jobs.timeRangeId))
    .leftJoin(users, eq(users.id, jobs.createdBy));
}

export const detailColumns = aliased({
  paymentStatusId: jobs.paymentStatusId,
  paymentStatusName: sql<string | null>`${paymentStatuses.name}`, // left join
  timeRangeId: jobs.timeRangeId,
  timeRangeName: sql<string | null>`${timeRanges.name}`, // left join
  addressId: jobs.addressId,
  createdBy: jobs.createdBy,
  createdByName: sql<string | null>`${users.name}`, // left join
  worksOrderRef: jobs.worksOrderRef,
  invoiceNo: jobs.invoiceNo,
  accessDetails: jobs.accessDetails,
  privateContactName: jobs.privateContactName,
  privateContactEmail: jobs.privateContactEmail,
  completedAt: jobs.completedAt,
  version: jobs.version,
});

export type JobRow = Awaited<ReturnType<typeof selectJobs>>[number];

export const fullAddress = (r: { addressLine1: string; addressLine2: string | null; addressTown: string; addressPostcode: string }) =>
  [r.addressLine1, r.addressLine2, r.addressTown, r.addressPostcode].filter((p): p is string => !!p).join(", ");

/** Contractor budget plus VAT, to the penny (the reference: 180.00 at 20% → 216.00). */
export const totalAmount = (contractorBudget: number | null, vat: number) =>
  contractorBudget == null ? null : Math.round(contractorBudget * (100 + vat)) / 100;

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
}).openapi("JobDetail");
