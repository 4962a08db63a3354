import { z } from "@hono/zod-openapi";
import { and, asc, count } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { addresses, fileTypes, jobStatuses, jobTypes, paymentStatuses, priorities, timeRanges } from "../../db/schema";
import type { OperationDocs } from "../../http/openapi-examples";
import { ex, reference } from "../../http/openapi-samples";
import { containsText, searchTerms } from "../manage/search";
import { fullAddress } from "../manage/view";

/**
 * The seven reference lookups (form dropdowns and the address search), one row each: what the
 * operation is called, which table and columns answer it, in which order, and what each answer
 * field is. `lookupUseCase` turns a row into its use case, src/jobs/reference/read.ts into its route.
 */

/** An answer field: the column it is read from and its schema. */
interface Field<Z extends z.ZodType = z.ZodType> {
  readonly column: SQLiteColumn;
  readonly schema: Z;
}
const field = <Z extends z.ZodType>(column: SQLiteColumn, schema: Z): Field<Z> => ({ column, schema });
type Fields = Record<string, Field>;
type RowOf<F extends Fields> = { [K in keyof F]: z.infer<F[K]["schema"]> };

export interface Lookup<F extends Fields, D extends z.ZodRawShape, P extends string> {
  readonly path: P;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  /** The success response's description (the summary when absent). */
  readonly answer?: string;
  readonly admission: Admission;
  /** The route's OpenAPI examples (src/http/openapi-examples.ts). */
  readonly docs?: OperationDocs;
  readonly table: SQLiteTable;
  readonly fields: F;
  /** Fields computed from the row, after the read ones. */
  readonly derived?: { readonly shape: D; readonly of: (row: RowOf<F>) => z.infer<z.ZodObject<D>> };
  readonly order: readonly SQLiteColumn[];
  /** Searchable (every word, case-insensitive) and paged: the lower-cased text the words are looked for in. */
  readonly search?: SQLiteColumn;
}

const lookup = <const F extends Fields, const P extends string, const D extends z.ZodRawShape = Record<never, never>>(l: Lookup<F, D, P>) =>
  l;

/** The answer schema of one item of a lookup. */
export function lookupItem<F extends Fields, D extends z.ZodRawShape>(l: Lookup<F, D, string>) {
  const read = Object.fromEntries(Object.entries(l.fields).map(([name, f]) => [name, f.schema])) as { [K in keyof F]: F[K]["schema"] };
  return z.object({ ...read, ...(l.derived?.shape ?? ({} as D)) });
}

const ADMISSION: Admission = { permission: "api.jobs.manage.manage" };
const zId = z.number().int();

export const REFERENCE_LOOKUPS = {
  statuses: lookup({
    path: "/api/jobs/statuses",
    operationId: "listStatuses",
    docs: {
      query: { action: "list" },
      responses: {
        200: {
          list: ex(
            "All job status options",
            reference({
              ID: 1,
              name: "Open",
              sort_order: 1,
              requires_approval: false,
              is_completed: false,
              is_closed: false,
              is_cancelled: false,
              is_archived: false,
            }),
          ),
        },
      },
      notFound: false,
    },
    summary: "All job status options, in workflow order",
    admission: ADMISSION,
    table: jobStatuses,
    fields: {
      ID: field(jobStatuses.id, zId),
      name: field(jobStatuses.name, z.string()),
      sort_order: field(jobStatuses.sortOrder, z.number().int()),
      requires_approval: field(jobStatuses.requiresApproval, z.boolean()),
      is_completed: field(jobStatuses.isCompleted, z.boolean()),
      is_closed: field(jobStatuses.isClosed, z.boolean()),
      is_cancelled: field(jobStatuses.isCancelled, z.boolean()),
      is_archived: field(jobStatuses.isArchived, z.boolean()),
    },
    order: [jobStatuses.sortOrder],
  }),
  types: lookup({
    path: "/api/jobs/types",
    operationId: "listJobTypes",
    docs: {
      query: { action: "list" },
      responses: { 200: { list: ex("All job type categories", reference({ ID: 3, name: "Gas & Heating" })) } },
      notFound: false,
    },
    summary: "All job type categories",
    admission: ADMISSION,
    table: jobTypes,
    fields: { ID: field(jobTypes.id, zId), name: field(jobTypes.name, z.string()) },
    order: [jobTypes.name],
  }),
  priorities: lookup({
    path: "/api/jobs/priorities",
    operationId: "listPriorities",
    docs: {
      query: { action: "list" },
      responses: { 200: { list: ex("All priority levels", reference({ ID: 2, name: "Medium", sort_order: 2, sla_hours: 72 })) } },
      notFound: false,
    },
    summary: "All priority levels, with their SLA hours",
    admission: ADMISSION,
    table: priorities,
    fields: {
      ID: field(priorities.id, zId),
      name: field(priorities.name, z.string()),
      sort_order: field(priorities.sortOrder, z.number().int()),
      sla_hours: field(
        priorities.slaHours,
        z.number().int().nullable().openapi({ description: "Hours from creation (or recall) to the SLA deadline; null = no SLA" }),
      ),
    },
    order: [priorities.sortOrder],
  }),
  paymentStatuses: lookup({
    path: "/api/jobs/payment-statuses",
    operationId: "listPaymentStatuses",
    docs: {
      query: { action: "list" },
      responses: { 200: { list: ex("Payment status options", reference({ ID: 1, name: "Unpaid" })) } },
      notFound: false,
    },
    summary: "Payment status options",
    admission: ADMISSION,
    table: paymentStatuses,
    fields: { ID: field(paymentStatuses.id, zId), name: field(paymentStatuses.name, z.string()) },
    order: [paymentStatuses.sortOrder],
  }),
  timeRanges: lookup({
    path: "/api/jobs/time-ranges",
    operationId: "listTimeRanges",
    docs: {
      query: { action: "list" },
      responses: {
        200: { list: ex("Available contractor time slots", reference({ ID: 1, name: "Morning", start_time: "08:00", end_time: "12:00" })) },
      },
      notFound: false,
    },
    summary: "Available contractor time slots",
    admission: ADMISSION,
    table: timeRanges,
    fields: {
      ID: field(timeRanges.id, zId),
      name: field(timeRanges.name, z.string()),
      start_time: field(timeRanges.startTime, z.string()),
      end_time: field(timeRanges.endTime, z.string()),
    },
    order: [timeRanges.startTime],
  }),
  addresses: lookup({
    path: "/api/jobs/addresses",
    operationId: "listAddresses",
    docs: {
      query: { action: "list", search: "Example Street" },
      responses: {
        200: {
          list: ex(
            "Searchable property addresses",
            reference({
              ID: 5,
              line1: "1 Example Street",
              line2: null,
              town: "Sample Town",
              postcode: "EX1 1AA",
              full_address: "1 Example Street, Sample Town, EX1 1AA",
            }),
          ),
        },
      },
      notFound: false,
    },
    summary: "Searchable property addresses",
    description: "`search` matches every word against the address lines, town and postcode (case-insensitive).",
    answer: "Addresses",
    admission: ADMISSION,
    table: addresses,
    fields: {
      ID: field(addresses.id, zId),
      line1: field(addresses.line1, z.string()),
      line2: field(addresses.line2, z.string().nullable()),
      town: field(addresses.town, z.string()),
      postcode: field(addresses.postcode, z.string()),
    },
    derived: {
      shape: { full_address: z.string() },
      of: (a) => ({
        full_address: fullAddress({ addressLine1: a.line1, addressLine2: a.line2, addressTown: a.town, addressPostcode: a.postcode }),
      }),
    },
    order: [addresses.postcode, addresses.line1],
    search: addresses.searchText,
  }),
  fileTypes: lookup({
    path: "/api/jobs/file-types",
    operationId: "listFileTypes",
    docs: {
      query: { action: "list" },
      responses: { 200: { list: ex("Document file type categories", reference({ ID: 2, name: "Gas Safety Certificate" })) } },
      notFound: false,
    },
    summary: "Document file type categories (file_type_id for document uploads)",
    admission: ADMISSION,
    table: fileTypes,
    fields: { ID: field(fileTypes.id, zId), name: field(fileTypes.name, z.string()) },
    order: [fileTypes.name],
  }),
};

/** What a lookup takes: nothing, or for a searchable one the words and the page. */
export interface LookupInput {
  search?: string;
  limit?: number;
  offset?: number;
}

/**
 * The use case of one lookup: the whole list (count = its length), or for a searchable lookup one
 * page of the matches and their count; one read.
 */
export function lookupUseCase<F extends Fields, D extends z.ZodRawShape>(l: Lookup<F, D, string>) {
  type Item = RowOf<F> & z.infer<z.ZodObject<D>>;
  return useCase(l.admission, async (scope: Scope, input: LookupInput): Promise<{ items: Item[]; count: number }> => {
    const db = scope.db;
    const columns = Object.fromEntries(Object.entries(l.fields).map(([name, f]) => [name, f.column]));
    // search_text is stored lower-cased; containsText takes any length and no pattern syntax.
    const column = l.search;
    const where = column ? and(...searchTerms((input.search ?? "").toLowerCase()).map((w) => containsText(column, w))) : undefined;
    const rows = db
      .select(columns)
      .from(l.table)
      .where(where)
      .orderBy(...l.order.map((c) => asc(c)))
      .$dynamic();
    let found: Record<string, unknown>[];
    let total: number;
    if (column) {
      const [page, [counted]] = await scope.read([
        rows.limit(input.limit ?? 50).offset(input.offset ?? 0),
        db.select({ n: count() }).from(l.table).where(where),
      ]);
      found = page;
      total = counted?.n ?? 0;
    } else {
      [found] = await scope.read([rows]);
      total = found.length;
    }
    // Typed by the table above: each field's column reads as its schema says.
    const items = (found as RowOf<F>[]).map((r) => ({ ...r, ...l.derived?.of(r) }) as Item);
    return { items, count: total };
  });
}

export const listStatuses = lookupUseCase(REFERENCE_LOOKUPS.statuses);
export const listJobTypes = lookupUseCase(REFERENCE_LOOKUPS.types);
export const listPriorities = lookupUseCase(REFERENCE_LOOKUPS.priorities);
export const listPaymentStatuses = lookupUseCase(REFERENCE_LOOKUPS.paymentStatuses);
export const listTimeRanges = lookupUseCase(REFERENCE_LOOKUPS.timeRanges);
export const listAddresses = lookupUseCase(REFERENCE_LOOKUPS.addresses);
export const listFileTypes = lookupUseCase(REFERENCE_LOOKUPS.fileTypes);
