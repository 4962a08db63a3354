import { z } from "@hono/zod-openapi";
import { type JobFieldKey, jobFieldSchemas, REQUIRED_ON_CREATE } from "../../domain/job-fields";
import { toIsoSeconds } from "../../domain/time";
import { zBool, zId, zPagination, zUuid } from "../../domain/values";
import { MIN_SEARCH_WORD, searchTerms } from "./search";

const jobFields = jobFieldSchemas;

const optionalFields = Object.fromEntries(Object.entries(jobFields).map(([k, v]) => [k, v.optional()])) as {
  [K in JobFieldKey]: z.ZodOptional<(typeof jobFields)[K]>;
};

type Required = (typeof REQUIRED_ON_CREATE)[number];

/** Not a job field: a manager's or admin's consent to a change that takes the contractor's total over the client budget. */
const acceptBudgetOverrun = zBool()
  .optional()
  .openapi({
    type: "string",
    enum: ["true", "false", "1", "0"],
    description:
      "1 or true: accept that this change takes the contractor's total with VAT over job_total_budget (recorded in the audit event " +
      "as budget_overrun_accepted); without it such a change answers 409 BUDGET_EXCEEDED. Managers and admins only (others 403)",
  });

const datesInOrder = (v: { date_works_start_date?: string | null; date_works_end_date?: string | null }) =>
  !v.date_works_start_date || !v.date_works_end_date || v.date_works_start_date <= v.date_works_end_date;
const datesMessage = { message: "must not be before date_works_start_date", path: ["date_works_end_date"] };

export const createJobBody = z
  .strictObject({
    action: z.literal("create"),
    ...optionalFields,
    ...Object.fromEntries(REQUIRED_ON_CREATE.map((k) => [k, jobFields[k]])),
    accept_budget_overrun: acceptBudgetOverrun,
  } as unknown as { action: z.ZodLiteral<"create">; accept_budget_overrun: typeof acceptBudgetOverrun } & Omit<
    typeof optionalFields,
    Required
  > &
    Pick<typeof jobFields, Required>)
  .refine(datesInOrder, datesMessage);

export const updateJobBody = z
  .strictObject({ action: z.literal("update"), uuid: zUuid(), ...optionalFields, accept_budget_overrun: acceptBudgetOverrun })
  .refine(datesInOrder, datesMessage);

export const deleteJobBody = z.strictObject({ action: z.literal("delete"), uuid: zUuid() });

export const manageBody = z.discriminatedUnion("action", [createJobBody, updateJobBody, deleteJobBody]);
export type CreateJob = z.infer<typeof createJobBody>;
export type UpdateJob = z.infer<typeof updateJobBody>;
export type JobFields = Omit<UpdateJob, "action" | "uuid" | "accept_budget_overrun">;

/** A yes/no list filter. An empty value (`has_photos=`, as a blank form field sends) applies no filter. */
const zFlag = (what: string) =>
  z
    .preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), zBool().optional())
    .openapi({
      type: "string",
      enum: ["true", "false", "1", "0"],
      description: `true or 1: only jobs ${what}; false or 0: only jobs without; empty or absent: no filter`,
    });

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
    .transform((v) => toIsoSeconds(Date.parse(v)))
    .openapi({
      description: "Only jobs whose updated_at is at or after this instant (for polling clients)",
      example: "2026-11-30T09:00:00Z",
    });

export const listJobsQuery = z.strictObject({
  action: z.literal("list"),
  search: z
    .string()
    .trim()
    .max(200, "must be at most 200 characters")
    // Words of one or two characters cannot use the trigram index: alone, they would read every
    // job of the estate (docs/scaling.md), so they only narrow a search that has a longer word.
    .refine((s) => {
      const terms = searchTerms(s);
      return terms.length === 0 || terms.some((t) => [...t].length >= MIN_SEARCH_WORD);
    }, `needs a word of at least ${MIN_SEARCH_WORD} characters (shorter words may go with one)`)
    .optional()
    .openapi({
      description:
        `Full-text search over the job reference, title and description, and the property and people: the address ` +
        `(lines, town, postcode, with or without its space) and the names of the assigned contractor and agent. ` +
        `Every word must appear in one of them (substring, case-insensitive), so \`boiler victoria\` finds boiler jobs at ` +
        `Victoria Terrace. At least one word of ${MIN_SEARCH_WORD} or more characters; shorter words then narrow the matches. ` +
        `Private and encrypted fields (access details, private contact, tenants' contacts) are never searched. ` +
        `Served by a trigram index: within the list's rows-read budget at 100 000 jobs.`,
      example: "Victoria",
    }),
  status_id: zId().optional(),
  priority_id: zId().optional(),
  job_type_id: zId().optional(),
  agent_id: zId().optional(),
  contractor_id: zId().optional(),
  created_by: zId().optional(),
  has_photos: zFlag("with photos attached"),
  has_documents: zFlag("with documents attached"),
  pinned: zFlag("the caller has pinned"),
  updated_since: zInstant().optional(),
  ...zPagination,
});

export const getJobQuery = z.strictObject({ action: z.literal("get"), uuid: zUuid() });

export const manageQuery = z.discriminatedUnion("action", [listJobsQuery, getJobQuery]);
export type ListJobsQuery = z.infer<typeof listJobsQuery>;
