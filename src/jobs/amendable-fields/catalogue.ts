import { z } from "@hono/zod-openapi";
import { asc, eq, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { Role } from "../../auth/permissions";
import { jobs, jobTypes, paymentStatuses, priorities, timeRanges } from "../../db/schema";
import type { Db } from "../../http/context";
import { zDate, zId, zMoney, zNumber, zText } from "../../http/fields";

export type FieldType = "text" | "textarea" | "number" | "money" | "date" | "choice";
export type OptionSource = "priorities" | "job_types" | "time_ranges" | "payment_statuses";
type Job = typeof jobs.$inferSelect;
type JobSet = SQLiteUpdateSetSource<typeof jobs>;
type Value = string | number;

/** The public description of a field, as GET /api/jobs/amendable-fields shows it (without value and options). */
export interface FieldMeta {
  key: string;
  label: string;
  type: FieldType;
  required: boolean;
  description: string;
  /** Roles that may propose a change to this field. */
  roles: readonly Role[];
  /** Where a choice field's options come from. */
  options?: OptionSource;
}

interface FieldDef<V extends Value> extends FieldMeta {
  read: (job: Job) => V | null;
  /** Parses the requested value's text. */
  schema: z.ZodType<V>;
  /** The canonical text of a value, as stored in an amendment request. */
  text?: (value: V) => string;
  /** The job columns that set the value. */
  write: (value: V | null) => JobSet;
  /** A rule that involves other fields of the job; answers why the value does not fit, if it does not. */
  check?: (job: Job, value: V | null) => string | undefined;
}

export type Parsed = { ok: true; value: Value | null; text: string | null } | { ok: false; message: string };

/** One amendable job field: how to read, validate and apply it, with the types erased. */
export interface AmendableField extends FieldMeta {
  read: (job: Job) => Value | null;
  currentText: (job: Job) => string | null;
  /** Validates a requested value (text; "" clears an optional field) by the field's type. */
  parse: (input: string) => Parsed;
  check: (job: Job, value: Value | null) => string | undefined;
  write: (value: Value | null) => JobSet;
}

function field<V extends Value>(def: FieldDef<V>): AmendableField {
  const toText = (v: V | null) => (v === null ? null : def.text ? def.text(v) : String(v));
  return {
    key: def.key,
    label: def.label,
    type: def.type,
    required: def.required,
    description: def.description,
    roles: def.roles,
    options: def.options,
    read: def.read,
    currentText: (job) => toText(def.read(job)),
    parse: (input) => {
      if (input.trim() === "") return def.required ? { ok: false, message: "must not be empty" } : { ok: true, value: null, text: null };
      const res = def.schema.safeParse(input);
      if (!res.success) return { ok: false, message: res.error.issues[0]?.message ?? "is not valid" };
      return { ok: true, value: res.data, text: toText(res.data) };
    },
    // Values reach check/write only after parse, so they have the field's type.
    check: (job, value) => def.check?.(job, value as V | null),
    write: (value) => def.write(value as V | null),
  };
}

const STAFF: readonly Role[] = ["admin", "manager", "staff", "agent"];
const EVERYONE: readonly Role[] = [...STAFF, "contractor"];

const money = (v: number) => v.toFixed(2);

/**
 * Every field a change may be proposed for. Contractors propose the commercial and scheduling
 * fields they are responsible for; staff-side roles more. Encrypted private fields are never
 * amendable (an amendment stores its values in clear).
 */
export const AMENDABLE_FIELDS: readonly AmendableField[] = [
  field({
    key: "job_title",
    label: "Job Title",
    type: "text",
    required: true,
    description: "The title/name of the job",
    roles: STAFF,
    read: (j) => j.jobTitle,
    schema: zText(255),
    write: (v) => ({ jobTitle: v ?? "" }),
  }),
  field({
    key: "job_description",
    label: "Job Description",
    type: "textarea",
    // As the reference's example shows: an amendment may propose a description, or clear it ("").
    required: false,
    description: "Detailed description of the job",
    roles: STAFF,
    // A cleared description reads as no value, like any other optional field.
    read: (j) => j.jobDescription || null,
    schema: zText(10_000),
    // The column is NOT NULL: a cleared description is stored as "".
    write: (v) => ({ jobDescription: v ?? "" }),
  }),
  field({
    key: "priority_id",
    label: "Priority",
    type: "choice",
    required: true,
    description: "Priority level; changing it moves the SLA deadline",
    roles: STAFF,
    options: "priorities",
    read: (j) => j.priorityId,
    schema: zId(),
    // The deadline follows the new priority's SLA hours from the same clock start (as a job update does).
    write: (v) => ({
      priorityId: v ?? undefined,
      slaDeadline: sql`(SELECT CASE WHEN ${priorities.slaHours} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', ${jobs.slaStartedAt}, '+' || ${priorities.slaHours} || ' hours') END FROM ${priorities} WHERE ${priorities.id} = ${v})`,
    }),
  }),
  field({
    key: "job_type_id",
    label: "Job Type",
    type: "choice",
    required: true,
    description: "Job type category",
    roles: STAFF,
    options: "job_types",
    read: (j) => j.jobTypeId,
    schema: zId(),
    write: (v) => ({ jobTypeId: v ?? undefined }),
  }),
  field({
    key: "job_total_budget",
    label: "Job Total Budget",
    type: "money",
    required: false,
    description: "Total budget for the job",
    roles: STAFF,
    read: (j) => j.jobTotalBudget,
    schema: zMoney(),
    text: money,
    write: (v) => ({ jobTotalBudget: v }),
  }),
  field({
    key: "contractor_budget",
    label: "Contractor Budget",
    type: "money",
    required: false,
    description: "Budget agreed with the contractor, before VAT",
    roles: EVERYONE,
    read: (j) => j.contractorBudget,
    schema: zMoney(),
    text: money,
    write: (v) => ({ contractorBudget: v }),
  }),
  field({
    key: "vat_percentage",
    label: "VAT %",
    type: "number",
    required: true,
    description: "VAT rate applied to the contractor budget",
    roles: STAFF,
    read: (j) => j.vatPercentage,
    schema: zNumber().pipe(z.number().min(0, "must not be negative").max(100, "must be at most 100")),
    write: (v) => ({ vatPercentage: v ?? undefined }),
  }),
  field({
    key: "date_works_start_date",
    label: "Works Start Date",
    type: "date",
    required: false,
    description: "Scheduled start of the works (YYYY-MM-DD)",
    roles: EVERYONE,
    read: (j) => j.dateWorksStartDate,
    schema: zDate(),
    write: (v) => ({ dateWorksStartDate: v }),
    check: (j, v) => (v && j.dateWorksEndDate && v > j.dateWorksEndDate ? "must not be after date_works_end_date" : undefined),
  }),
  field({
    key: "date_works_end_date",
    label: "Works End Date",
    type: "date",
    required: false,
    description: "Scheduled end of the works (YYYY-MM-DD)",
    roles: EVERYONE,
    read: (j) => j.dateWorksEndDate,
    schema: zDate(),
    write: (v) => ({ dateWorksEndDate: v }),
    check: (j, v) => (v && j.dateWorksStartDate && v < j.dateWorksStartDate ? "must not be before date_works_start_date" : undefined),
  }),
  field({
    key: "time_range_id",
    label: "Time Slot",
    type: "choice",
    required: false,
    description: "Contractor attendance time slot",
    roles: EVERYONE,
    options: "time_ranges",
    read: (j) => j.timeRangeId,
    schema: zId(),
    write: (v) => ({ timeRangeId: v }),
  }),
  field({
    key: "payment_status_id",
    label: "Payment Status",
    type: "choice",
    required: false,
    description: "Where payment for the job stands",
    roles: STAFF,
    options: "payment_statuses",
    read: (j) => j.paymentStatusId,
    schema: zId(),
    write: (v) => ({ paymentStatusId: v }),
  }),
  field({
    key: "works_order_ref",
    label: "Works Order Ref",
    type: "text",
    required: false,
    description: "The client's works order reference",
    roles: STAFF,
    read: (j) => j.worksOrderRef,
    schema: zText(100),
    write: (v) => ({ worksOrderRef: v }),
  }),
  field({
    key: "invoice_no",
    label: "Invoice No",
    type: "text",
    required: false,
    description: "The contractor's invoice number",
    roles: STAFF,
    read: (j) => j.invoiceNo,
    schema: zText(100),
    write: (v) => ({ invoiceNo: v }),
  }),
];

export const amendableField = (key: string) => AMENDABLE_FIELDS.find((f) => f.key === key);
export const fieldsForRole = (role: Role) => AMENDABLE_FIELDS.filter((f) => f.roles.includes(role));

/** The reference's `user_type`: contractors see their own, smaller set; every other role the staff set. */
export const userType = (role: Role) => (role === "contractor" ? "contractor" : "staff");

/** A query for one option list: `{id, name}` rows in display order. */
export function optionQuery(db: Db, source: OptionSource) {
  switch (source) {
    case "priorities":
      return db.select({ id: priorities.id, name: priorities.name }).from(priorities).orderBy(asc(priorities.sortOrder));
    case "job_types":
      return db.select({ id: jobTypes.id, name: jobTypes.name }).from(jobTypes).orderBy(asc(jobTypes.id));
    case "time_ranges":
      return db.select({ id: timeRanges.id, name: timeRanges.name }).from(timeRanges).orderBy(asc(timeRanges.startTime));
    case "payment_statuses":
      return db
        .select({ id: paymentStatuses.id, name: paymentStatuses.name })
        .from(paymentStatuses)
        .orderBy(asc(paymentStatuses.sortOrder));
  }
}

/** Whether a choice value names an existing option. */
export async function optionExists(db: Db, source: OptionSource, id: number) {
  const table = { priorities, job_types: jobTypes, time_ranges: timeRanges, payment_statuses: paymentStatuses }[source];
  const row = await db.select({ id: table.id }).from(table).where(eq(table.id, id)).get();
  return row !== undefined;
}
