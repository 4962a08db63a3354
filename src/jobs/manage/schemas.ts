import { z } from "@hono/zod-openapi";
import { zBool, zDate, zId, zIdList, zMoney, zNullableText, zNumber, zPagination, zText, zUuid } from "../../http/fields";

/** "" or null clears an optional reference (e.g. unassign the contractor). */
const zOptionalRef = () => z.preprocess((v) => (v === "" ? null : v), zId().nullable());

const zEmail = () =>
  z.preprocess(
    (v) => (v === "" ? null : v),
    z.string({ error: "must be text" }).trim().max(254, "must be at most 254 characters").email("must be an email address").nullable(),
  );

/** The job's writable fields, named as the reference names them. */
const jobFields = {
  job_title: zText(255),
  job_description: zText(10_000),
  priority_id: zId(),
  status_id: zId(),
  job_type_id: zId(),
  address_id: zId(),
  agent_id: zOptionalRef(),
  contractor_id: zOptionalRef(),
  payment_status_id: zOptionalRef(),
  time_range_id: zOptionalRef(),
  tenants_ids: zIdList(),
  job_total_budget: z.preprocess((v) => (v === "" ? null : v), zMoney().nullable()),
  contractor_budget: z.preprocess((v) => (v === "" ? null : v), zMoney().nullable()),
  vat_percentage: zNumber().pipe(z.number().min(0, "must not be negative").max(100, "must be at most 100")),
  date_works_start_date: z.preprocess((v) => (v === "" ? null : v), zDate().nullable()),
  date_works_end_date: z.preprocess((v) => (v === "" ? null : v), zDate().nullable()),
  access_details: zNullableText(2_000),
  works_order_ref: zNullableText(100),
  invoice_no: zNullableText(100),
  private_contact_name: zNullableText(200),
  private_contact_email: zEmail(),
};

const REQUIRED_ON_CREATE = ["job_title", "job_description", "priority_id", "status_id", "job_type_id", "address_id"] as const;

type JobFieldKey = keyof typeof jobFields;
const optionalFields = Object.fromEntries(Object.entries(jobFields).map(([k, v]) => [k, v.optional()])) as {
  [K in JobFieldKey]: z.ZodOptional<(typeof jobFields)[K]>;
};

const datesInOrder = (v: { date_works_start_date?: string | null; date_works_end_date?: string | null }) =>
  !v.date_works_start_date || !v.date_works_end_date || v.date_works_start_date <= v.date_works_end_date;
const datesMessage = { message: "must not be before date_works_start_date", path: ["date_works_end_date"] };

export const createJobBody = z
  .strictObject({
    action: z.literal("create"),
    ...optionalFields,
    ...Object.fromEntries(REQUIRED_ON_CREATE.map((k) => [k, jobFields[k]])),
  } as { action: z.ZodLiteral<"create"> } & typeof optionalFields & Pick<typeof jobFields, (typeof REQUIRED_ON_CREATE)[number]>)
  .refine(datesInOrder, datesMessage);

export const updateJobBody = z
  .strictObject({ action: z.literal("update"), uuid: zUuid(), ...optionalFields })
  .refine(datesInOrder, datesMessage);

export const deleteJobBody = z.strictObject({ action: z.literal("delete"), uuid: zUuid() });

export const manageBody = z.discriminatedUnion("action", [createJobBody, updateJobBody, deleteJobBody]);
export type CreateJob = z.infer<typeof createJobBody>;
export type UpdateJob = z.infer<typeof updateJobBody>;
export type JobFields = Omit<UpdateJob, "action" | "uuid">;

export const JOB_FIELD_KEYS = Object.keys(jobFields) as JobFieldKey[];

const zFlag = () => zBool().optional();

const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * An ISO-8601 instant with its offset (`2026-11-30T09:00:00Z`, `…+01:00`), as the UTC seconds form
 * the jobs table stores. Fractions are dropped (floored): a poller sees a change again rather than miss it.
 */
const zInstant = () =>
  z
    .string({ error: "must be an ISO-8601 date-time with a time zone, e.g. 2026-11-30T09:00:00Z" })
    .trim()
    .refine(
      (v) => INSTANT_RE.test(v) && !Number.isNaN(Date.parse(v)),
      "must be an ISO-8601 date-time with a time zone, e.g. 2026-11-30T09:00:00Z",
    )
    .transform((v) => new Date(Date.parse(v)).toISOString().replace(/\.\d{3}Z$/, "Z"))
    .openapi({
      description: "Only jobs whose updated_at is at or after this instant (for polling clients)",
      example: "2026-11-30T09:00:00Z",
    });

export const listJobsQuery = z.strictObject({
  action: z.literal("list"),
  search: z.string().trim().max(200, "must be at most 200 characters").optional(),
  status_id: zId().optional(),
  priority_id: zId().optional(),
  job_type_id: zId().optional(),
  agent_id: zId().optional(),
  contractor_id: zId().optional(),
  created_by: zId().optional(),
  has_photos: zFlag(),
  has_documents: zFlag(),
  pinned: zFlag(),
  updated_since: zInstant().optional(),
  ...zPagination,
});

export const getJobQuery = z.strictObject({ action: z.literal("get"), uuid: zUuid() });

export const manageQuery = z.discriminatedUnion("action", [listJobsQuery, getJobQuery]);
export type ListJobsQuery = z.infer<typeof listJobsQuery>;
