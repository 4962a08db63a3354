import { z } from "@hono/zod-openapi";
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { Role } from "../auth/permissions";
import type { FieldCipher } from "../crypto/fields";
import type { Db } from "../db/db";
import {
  addresses,
  agents,
  contractors,
  jobStatuses,
  jobs,
  jobTypes,
  paymentStatuses,
  priorities,
  tenants,
  timeRanges,
} from "../db/schema";
import type { Principal } from "./caller";
import { ApiError, badRequest, type FieldError } from "./errors";
import { assertCan, canSeePrivate, EVERY_ROLE, MANAGING_SIDE, type PrivateField } from "./policy";
import { slaDeadlineForPrioritySql } from "./sla";
import { zDate, zId, zIdList, zMoney, zNullableText, zNumber, zText } from "./values";

/**
 * A job's fields, once: API name → column, validation, encryption, whether create requires it,
 * the record it references, and whether (and by whom) an amendment may propose it. Create,
 * update, the change diff, the amendment catalogue, key rotation (src/domain/encrypted-columns.ts)
 * and audit masking all read this table. Answers map columns back to the reference's names in
 * src/jobs/manage/view.ts (read side only); nothing else maps a job field to a column for writing.
 */

type JobRow = typeof jobs.$inferSelect;
type JobInsert = typeof jobs.$inferInsert;
type Column = keyof JobRow & keyof JobInsert;
type JobSet = SQLiteUpdateSetSource<typeof jobs>;

export type FieldType = "text" | "textarea" | "number" | "money" | "date" | "choice";
export type OptionSource = "priorities" | "job_types" | "time_ranges" | "payment_statuses";
type Value = string | number;

interface AmendSpec {
  label: string;
  type: FieldType;
  /** As GET /api/jobs/amendable-fields shows it (the reference's example decides). */
  required: boolean;
  description: string;
  /** Roles that may propose a change to this field. */
  roles: readonly Role[];
  options?: OptionSource;
  /** The canonical text of a value, as stored in an amendment request. */
  text?: (value: Value) => string;
  /** Columns set when the value is applied, when more than the field's own column. */
  write?: (value: Value | null) => JobSet;
  /** A rule that involves other fields of the job; answers why the value does not fit. */
  check?: (job: JobRow, value: Value | null) => string | undefined;
}

interface FieldDef<S extends z.ZodType = z.ZodType> {
  /** The jobs column; null for a field kept elsewhere (tenants_ids: the job_tenants table). */
  column: Column | null;
  schema: S;
  encrypted?: true;
  requiredOnCreate?: true;
  /** A referenced record that must exist: its table and what to call it in an error. */
  ref?: { table: RefTable; what: string };
  amend?: AmendSpec;
}

type RefTable =
  | typeof jobStatuses
  | typeof priorities
  | typeof jobTypes
  | typeof addresses
  | typeof agents
  | typeof contractors
  | typeof paymentStatuses
  | typeof timeRanges
  | typeof tenants;

const def = <D extends FieldDef>(d: D) => d;

/** "" or null clears an optional reference (e.g. unassign the contractor). */
const zOptionalRef = () => z.preprocess((v) => (v === "" ? null : v), zId().nullable());
const zClearable = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === "" ? null : v), t.nullable());
const zEmail = () =>
  zClearable(z.string({ error: "must be text" }).trim().max(254, "must be at most 254 characters").email("must be an email address"));
const zVat = () => zNumber().pipe(z.number().min(0, "must not be negative").max(100, "must be at most 100"));
const money = (v: Value) => Number(v).toFixed(2);

export const JOB_FIELDS = {
  job_title: def({
    column: "jobTitle",
    schema: zText(255),
    requiredOnCreate: true,
    amend: { label: "Job Title", type: "text", required: true, description: "The title/name of the job", roles: MANAGING_SIDE },
  }),
  job_description: def({
    column: "jobDescription",
    schema: zText(10_000),
    requiredOnCreate: true,
    // The reference shows it as not required: an amendment may propose one, never must.
    amend: {
      label: "Job Description",
      type: "textarea",
      required: false,
      description: "Detailed description of the job",
      roles: MANAGING_SIDE,
    },
  }),
  priority_id: def({
    column: "priorityId",
    schema: zId(),
    requiredOnCreate: true,
    ref: { table: priorities, what: "priority" },
    amend: {
      label: "Priority",
      type: "choice",
      required: true,
      description: "Priority level; changing it moves the SLA deadline",
      roles: MANAGING_SIDE,
      options: "priorities",
      // The deadline follows the new priority from the same clock start, as a job update does.
      write: (v) => ({
        priorityId: v === null ? undefined : Number(v),
        slaDeadline: slaDeadlineForPrioritySql(v === null ? null : Number(v)),
      }),
    },
  }),
  status_id: def({ column: "statusId", schema: zId(), requiredOnCreate: true, ref: { table: jobStatuses, what: "status" } }),
  job_type_id: def({
    column: "jobTypeId",
    schema: zId(),
    requiredOnCreate: true,
    ref: { table: jobTypes, what: "job type" },
    amend: {
      label: "Job Type",
      type: "choice",
      required: true,
      description: "Job type category",
      roles: MANAGING_SIDE,
      options: "job_types",
    },
  }),
  address_id: def({ column: "addressId", schema: zId(), requiredOnCreate: true, ref: { table: addresses, what: "address" } }),
  agent_id: def({ column: "agentId", schema: zOptionalRef(), ref: { table: agents, what: "agent" } }),
  contractor_id: def({ column: "contractorId", schema: zOptionalRef(), ref: { table: contractors, what: "contractor" } }),
  tenants_ids: def({ column: null, schema: zIdList(), ref: { table: tenants, what: "tenant" } }),
  job_total_budget: def({
    column: "jobTotalBudget",
    schema: zClearable(zMoney()),
    amend: {
      label: "Job Total Budget",
      type: "money",
      required: false,
      description: "Total budget for the job",
      roles: MANAGING_SIDE,
      text: money,
    },
  }),
  contractor_budget: def({
    column: "contractorBudget",
    schema: zClearable(zMoney()),
    amend: {
      label: "Contractor Budget",
      type: "money",
      required: false,
      description: "Budget agreed with the contractor, before VAT",
      roles: EVERY_ROLE,
      text: money,
    },
  }),
  vat_percentage: def({
    column: "vatPercentage",
    schema: zVat(),
    amend: {
      label: "VAT %",
      type: "number",
      required: true,
      description: "VAT rate applied to the contractor budget",
      roles: MANAGING_SIDE,
    },
  }),
  date_works_start_date: def({
    column: "dateWorksStartDate",
    schema: zClearable(zDate()),
    amend: {
      label: "Works Start Date",
      type: "date",
      required: false,
      description: "Scheduled start of the works (YYYY-MM-DD)",
      roles: EVERY_ROLE,
      check: (j, v) => (v && j.dateWorksEndDate && String(v) > j.dateWorksEndDate ? "must not be after date_works_end_date" : undefined),
    },
  }),
  date_works_end_date: def({
    column: "dateWorksEndDate",
    schema: zClearable(zDate()),
    amend: {
      label: "Works End Date",
      type: "date",
      required: false,
      description: "Scheduled end of the works (YYYY-MM-DD)",
      roles: EVERY_ROLE,
      check: (j, v) =>
        v && j.dateWorksStartDate && String(v) < j.dateWorksStartDate ? "must not be before date_works_start_date" : undefined,
    },
  }),
  time_range_id: def({
    column: "timeRangeId",
    schema: zOptionalRef(),
    ref: { table: timeRanges, what: "time range" },
    amend: {
      label: "Time Slot",
      type: "choice",
      required: false,
      description: "Contractor attendance time slot",
      roles: EVERY_ROLE,
      options: "time_ranges",
    },
  }),
  payment_status_id: def({
    column: "paymentStatusId",
    schema: zOptionalRef(),
    ref: { table: paymentStatuses, what: "payment status" },
    amend: {
      label: "Payment Status",
      type: "choice",
      required: false,
      description: "Where payment for the job stands",
      roles: MANAGING_SIDE,
      options: "payment_statuses",
    },
  }),
  // Encrypted at rest; never amendable (an amendment stores its values in clear).
  access_details: def({ column: "accessDetails", schema: zNullableText(2_000), encrypted: true }),
  works_order_ref: def({
    column: "worksOrderRef",
    schema: zNullableText(100),
    amend: {
      label: "Works Order Ref",
      type: "text",
      required: false,
      description: "The client's works order reference",
      roles: MANAGING_SIDE,
    },
  }),
  invoice_no: def({
    column: "invoiceNo",
    schema: zNullableText(100),
    amend: { label: "Invoice No", type: "text", required: false, description: "The contractor's invoice number", roles: MANAGING_SIDE },
  }),
  private_contact_name: def({ column: "privateContactName", schema: zNullableText(200), encrypted: true }),
  private_contact_email: def({ column: "privateContactEmail", schema: zEmail(), encrypted: true }),
};

export type JobFieldKey = keyof typeof JOB_FIELDS;
export const JOB_FIELD_KEYS = Object.keys(JOB_FIELDS) as JobFieldKey[];
type Entry = FieldDef & { key: JobFieldKey };
const ENTRIES: readonly Entry[] = JOB_FIELD_KEYS.map((key) => ({ key, ...(JOB_FIELDS[key] as FieldDef) }));

type RequiredOnCreate = { [K in JobFieldKey]: (typeof JOB_FIELDS)[K] extends { requiredOnCreate: true } ? K : never }[JobFieldKey];
/** The fields a create must carry. */
export const REQUIRED_ON_CREATE = ENTRIES.filter((f) => f.requiredOnCreate).map((f) => f.key) as RequiredOnCreate[];

/** Each field's validation schema, keyed by API name (the body schemas of POST /api/jobs/manage). */
export const jobFieldSchemas = Object.fromEntries(ENTRIES.map((f) => [f.key, f.schema])) as {
  [K in JobFieldKey]: (typeof JOB_FIELDS)[K]["schema"];
};

/** API names of the encrypted fields (also their column names): audit masks them, rotation re-seals them. */
export const ENCRYPTED_JOB_FIELDS: ReadonlySet<string> = new Set(ENTRIES.filter((f) => f.encrypted).map((f) => f.key));
/** The encrypted columns of `jobs`, by SQL name, for key rotation. */
export const JOB_ENCRYPTED_COLUMNS = ENTRIES.filter((f) => f.encrypted && f.column).map((f) => jobs[f.column as Column].name);

/** The encrypted fields are the private ones (policy.ts decides who reads them). */
export type EncryptedJobField = PrivateField;
/** The key derivation context of a job's encrypted field. */
export const jobFieldContext = (jobUuid: string, field: EncryptedJobField) => ({
  table: "jobs",
  column: jobs[JOB_FIELDS[field].column].name,
  rowUuid: jobUuid,
});

export type JobFieldValues = { [K in JobFieldKey]?: z.output<(typeof JOB_FIELDS)[K]["schema"]> };

/** Column values for the fields given (undefined = not sent), encrypted fields sealed for this job's row. */
export async function columnValues(cipher: FieldCipher, jobUuid: string, fields: JobFieldValues): Promise<Partial<JobInsert>> {
  const values: Record<string, unknown> = {};
  await Promise.all(
    ENTRIES.map(async (f) => {
      const v = fields[f.key];
      if (v === undefined || !f.column) return;
      values[f.column] = f.encrypted
        ? await cipher.encryptOptional(jobFieldContext(jobUuid, f.key as EncryptedJobField), v as string | null)
        : v;
    }),
  );
  return values as Partial<JobInsert>;
}

/**
 * The job's current values in API names, for the fields in `which` (the change diff). Encrypted
 * fields are decrypted, so an unchanged value is no change.
 */
export async function currentValues(
  cipher: FieldCipher,
  job: JobRow,
  tenantIds: number[],
  which: Iterable<string>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const wanted = new Set(which);
  await Promise.all(
    ENTRIES.filter((f) => wanted.has(f.key)).map(async (f) => {
      if (!f.column) out[f.key] = tenantIds;
      else if (f.encrypted)
        out[f.key] = await cipher.decryptOptional(jobFieldContext(job.uuid, f.key as EncryptedJobField), job[f.column] as string | null);
      else out[f.key] = job[f.column];
    }),
  );
  return out;
}

/** The sent fields in API names, for the audit trail (tenants as a sorted, distinct list). */
export function sentFields(f: JobFieldValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of JOB_FIELD_KEYS) {
    const v = f[key];
    if (v === undefined) continue;
    out[key] = key === "tenants_ids" && Array.isArray(v) ? [...new Set(v as number[])].sort((a, b) => a - b) : v;
  }
  return out;
}

/**
 * What an assignment (agent_id, contractor_id, tenants_ids) is checked against: the job's address,
 * and who is already on the job (they stay, even if made inactive since; only a new one must be active).
 */
export interface Assigning {
  addressId: number | null;
  agentId?: number | null;
  contractorId?: number | null;
  tenantIds?: readonly number[];
}

type PartyRow = { id: number; active: boolean | number; addressId?: number | null };

/** Why the directory rows found for an assignment field cannot be assigned (migration 0014), if they cannot. */
function assignmentProblem(key: JobFieldKey, found: readonly unknown[], a: Assigning): string | undefined {
  const rows = found as PartyRow[];
  const kept = new Set<number | null | undefined>(
    key === "agent_id" ? [a.agentId] : key === "contractor_id" ? [a.contractorId] : key === "tenants_ids" ? a.tenantIds : [],
  );
  const added = rows.filter((r) => !kept.has(r.id));
  const inactive = added.filter((r) => !r.active).map((r) => r.id);
  if (key === "agent_id" || key === "contractor_id") {
    return inactive.length > 0 ? `no active ${key === "agent_id" ? "agent" : "contractor"} ${inactive[0]}` : undefined;
  }
  if (key !== "tenants_ids") return undefined;
  if (inactive.length > 0) return `no active tenant ${inactive.join(", ")}`;
  // A tenant with no address on record is not checked (migration 0014).
  const elsewhere = added.filter((r) => r.addressId != null && r.addressId !== a.addressId).map((r) => r.id);
  return elsewhere.length > 0 ? `tenant ${elsewhere.join(", ")} does not live at address ${a.addressId}` : undefined;
}

/**
 * The same rule as SQL, for a write that reads nothing first (create): true when every agent,
 * contractor and tenant the fields name is active and every tenant lives at the job's address.
 */
export function assignableSql(f: JobFieldValues): SQL {
  const clauses: SQL[] = [sql`1 = 1`];
  if (f.agent_id != null) clauses.push(sql`EXISTS (SELECT 1 FROM ${agents} WHERE ${agents.id} = ${f.agent_id} AND ${agents.active} = 1)`);
  if (f.contractor_id != null) {
    clauses.push(sql`EXISTS (SELECT 1 FROM ${contractors} WHERE ${contractors.id} = ${f.contractor_id} AND ${contractors.active} = 1)`);
  }
  if (f.tenants_ids?.length) {
    clauses.push(
      sql`NOT EXISTS (SELECT 1 FROM ${tenants} WHERE ${tenants.id} IN (SELECT value FROM json_each(${JSON.stringify(f.tenants_ids)})) AND (${tenants.active} = 0 OR (${tenants.addressId} IS NOT NULL AND ${tenants.addressId} IS NOT ${f.address_id ?? null})))`,
    );
  }
  return and(...clauses) as SQL;
}

/**
 * Checks that every referenced record exists, in one batch. An unknown reference is invalid input
 * (400 naming the field), and so is an assignment `assigning` refuses (`assignmentProblem`). Answers
 * the status and priority rows (their flags and SLA hours matter).
 */
export async function checkReferences(db: Db, f: JobFieldValues, assigning?: Assigning) {
  const lookups = referenceLookups(db, f);
  if (lookups.queries.length === 0) return lookups.check([], assigning);
  return lookups.check(await db.batch(lookups.queries as unknown as Parameters<Db["batch"]>[0]), assigning);
}

/**
 * The lookups of `checkReferences`, to run inside a batch with other reads (one round trip), and
 * `check`, which reads their answers: a 400 naming every unknown id, else the status and priority.
 */
export function referenceLookups(db: Db, f: JobFieldValues) {
  const refs = ENTRIES.filter((e) => e.ref && f[e.key] !== undefined && f[e.key] !== null);
  const queries = refs.map((e) => {
    const table = (e.ref as { table: RefTable }).table;
    const given = f[e.key];
    return Array.isArray(given)
      ? db
          .select()
          .from(table)
          .where(sql`${table.id} IN (SELECT value FROM json_each(${JSON.stringify(given)}))`)
      : db
          .select()
          .from(table)
          .where(eq(table.id, given as number));
  });
  const check = (results: readonly unknown[], assigning?: Assigning) => {
    const errors: FieldError[] = [];
    let status: typeof jobStatuses.$inferSelect | undefined;
    let priority: typeof priorities.$inferSelect | undefined;
    refs.forEach((e, i) => {
      const rows = (results[i] ?? []) as { id: number }[];
      const given = f[e.key];
      const what = e.ref?.what ?? e.key;
      if (Array.isArray(given)) {
        const found = new Set(rows.map((r) => r.id));
        const unknown = [...new Set(given as number[])].filter((id) => !found.has(id));
        if (unknown.length > 0) errors.push({ field: e.key, message: `no ${what} with id ${unknown.join(", ")}` });
      } else if (rows.length === 0) errors.push({ field: e.key, message: `no ${what} with id ${given}` });
      const problem = errors.at(-1)?.field === e.key ? undefined : assigning && assignmentProblem(e.key, rows, assigning);
      if (problem) errors.push({ field: e.key, message: problem });
      if (e.key === "status_id") status = rows[0] as typeof status;
      if (e.key === "priority_id") priority = rows[0] as typeof priority;
    });
    if (errors.length > 0) throw badRequest(`${errors[0]?.field}: ${errors[0]?.message}`, errors);
    return { status, priority };
  };
  return { queries, check };
}

/** Contractor budget plus VAT, to the penny (the reference: 180.00 at 20% → 216.00): `total_amount`. */
export const totalAmount = (contractorBudget: number | null, vat: number) =>
  contractorBudget == null ? null : Math.round(contractorBudget * (100 + vat)) / 100;

/** The fields the budget rule reads, in API names. */
export const BUDGET_FIELDS = ["contractor_budget", "vat_percentage", "job_total_budget"] as const;
export type BudgetFigures = { contractor_budget: number | null; vat_percentage: number; job_total_budget: number | null };
export type BudgetOverrun = { contractor_total: number; client_budget: number };

/** A job's budget figures with a change laid over them (undefined = not changed). */
export const budgetOf = (job: Pick<JobRow, "contractorBudget" | "vatPercentage" | "jobTotalBudget">, change: JobFieldValues) => ({
  contractor_budget: change.contractor_budget !== undefined ? change.contractor_budget : job.contractorBudget,
  vat_percentage: change.vat_percentage ?? job.vatPercentage,
  job_total_budget: change.job_total_budget !== undefined ? change.job_total_budget : job.jobTotalBudget,
});

const pounds = (n: number) => `£${n.toFixed(2)}`;
const pennies = (n: number) => Math.round(n * 100);

/**
 * The budget rule: the contractor's total with VAT never silently exceeds the client-facing budget
 * (`job_total_budget`, VAT inclusive); a job without one has no cap. An overrun is refused (409
 * BUDGET_EXCEEDED, naming both figures) unless `accepted`, and then answers the entry the change's
 * audit event records.
 */
export function budgetCheck(b: BudgetFigures, accepted: boolean): { budget_overrun_accepted: BudgetOverrun } | undefined {
  const total = totalAmount(b.contractor_budget, b.vat_percentage);
  const client = b.job_total_budget;
  if (total === null || client === null || pennies(total) <= pennies(client)) return undefined;
  if (!accepted) {
    throw new ApiError(
      "BUDGET_EXCEEDED",
      `${pounds(total)} with VAT exceeds the client budget of ${pounds(client)}: lower contractor_budget or vat_percentage, raise job_total_budget, or (managers and admins) send accept_budget_overrun=1`,
    );
  }
  return { budget_overrun_accepted: { contractor_total: total, client_budget: client } };
}

/** Whether the caller accepts a budget overrun: only managers and admins may (403 for anyone else who asks). */
export function acceptsOverrun(caller: Pick<Principal, "role" | "contractorId">, asked: boolean | undefined): boolean {
  if (!asked) return false;
  assertCan(caller, "budget.accept_overrun", "Only managers and admins can accept a budget overrun (accept_budget_overrun)");
  return true;
}

export type Parsed = { ok: true; value: Value | null; text: string | null } | { ok: false; message: string };

/** One amendable job field: how to read, validate and apply it. */
export interface AmendableField extends Pick<AmendSpec, "label" | "type" | "required" | "description" | "roles" | "options"> {
  key: JobFieldKey;
  read: (job: JobRow) => Value | null;
  currentText: (job: JobRow) => string | null;
  /** Validates a requested value (text; "" clears a field whose column may be empty). */
  parse: (input: string) => Parsed;
  check: (job: JobRow, value: Value | null) => string | undefined;
  write: (value: Value | null) => JobSet;
}

function amendable(f: Entry & { amend: AmendSpec; column: Column }): AmendableField {
  const { amend: spec, column } = f;
  const { label, type, required, description, roles, options } = spec;
  const clearable = !jobs[column].notNull;
  const toText = (v: Value | null) => (v === null ? null : spec.text ? spec.text(v) : String(v));
  const read = (job: JobRow) => job[column] as Value | null;
  return {
    key: f.key,
    ...{ label, type, required, description, roles, options },
    read,
    currentText: (job) => toText(read(job)),
    parse: (input) => {
      if (input.trim() === "") return clearable ? { ok: true, value: null, text: null } : { ok: false, message: "must not be empty" };
      const res = f.schema.safeParse(input);
      if (!res.success) return { ok: false, message: res.error.issues[0]?.message ?? "is not valid" };
      const value = res.data as Value | null;
      return { ok: true, value, text: toText(value) };
    },
    check: (job, value) => spec.check?.(job, value),
    write: (value) => spec.write?.(value) ?? ({ [column]: value } as JobSet),
  };
}

/** Every field a change may be proposed for, in display order. */
export const AMENDABLE_FIELDS: readonly AmendableField[] = ENTRIES.filter(
  (f): f is Entry & { amend: AmendSpec; column: Column } => f.amend !== undefined && f.column !== null,
).map(amendable);

export const amendableField = (key: string) => AMENDABLE_FIELDS.find((f) => f.key === key);
export const amendableFieldsFor = (role: Role) => AMENDABLE_FIELDS.filter((f) => f.roles.includes(role));

/**
 * A job's private fields, decrypted for the caller, each only if policy.ts `canSeePrivate` lets the
 * caller read it (null otherwise, and never decrypted).
 */
export async function decryptPrivateFields(
  cipher: FieldCipher,
  row: { uuid: string; accessDetails: string | null; privateContactName: string | null; privateContactEmail: string | null },
  caller: Pick<Principal, "role" | "contractorId" | "permissions">,
) {
  const open = (field: EncryptedJobField, sealed: string | null) =>
    canSeePrivate(caller, field) ? cipher.decryptOptional(jobFieldContext(row.uuid, field), sealed) : null;
  const [access, name, email] = await Promise.all([
    open("access_details", row.accessDetails),
    open("private_contact_name", row.privateContactName),
    open("private_contact_email", row.privateContactEmail),
  ]);
  return { access_details: access, private_contact_name: name, private_contact_email: email };
}
