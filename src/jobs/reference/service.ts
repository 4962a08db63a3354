import { z } from "@hono/zod-openapi";
import { and, asc, count } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { addresses, fileTypes, jobStatuses, jobTypes, paymentStatuses, priorities, timeRanges } from "../../db/schema";
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
  /** The route's OpenAPI example: its title, one item of the answer and the query (`action=list` when absent). */
  readonly example: { readonly title: string; readonly item: Record<string, unknown>; readonly query?: Record<string, string> };
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

/** Every lookup is open to whoever may manage jobs (the reference's permission for the dropdowns). */
const ADMISSION: Admission = { permission: "api.jobs.manage.manage" };
const zId = z.number().int();
/** The `ID` and `name` every option list starts with. */
const named = (table: { id: SQLiteColumn; name: SQLiteColumn }) => ({ ID: field(table.id, zId), name: field(table.name, z.string()) });

export const REFERENCE_LOOKUPS = {
  statuses: lookup({
    path: "/api/jobs/statuses",
    operationId: "listStatuses",
    example: {
      title: "All job status options",
      item: {
        ID: 1,
        name: "Open",
        sort_order: 1,
        requires_approval: false,
        is_completed: false,
        is_closed: false,
        is_cancelled: false,
        is_archived: false,
      },
    },
    summary: "All job status options, in workflow order",
    table: jobStatuses,
    fields: {
      ...named(jobStatuses),
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
    example: { title: "All job type categories", item: { ID: 3, name: "Gas & Heating" } },
    summary: "All job type categories",
    table: jobTypes,
    fields: named(jobTypes),
    order: [jobTypes.name],
  }),
  priorities: lookup({
    path: "/api/jobs/priorities",
    operationId: "listPriorities",
    example: { title: "All priority levels", item: { ID: 2, name: "Medium", sort_order: 2, sla_hours: 72 } },
    summary: "All priority levels, with their SLA hours",
    table: priorities,
    fields: {
      ...named(priorities),
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
    example: { title: "Payment status options", item: { ID: 1, name: "Unpaid" } },
    summary: "Payment status options",
    table: paymentStatuses,
    fields: named(paymentStatuses),
    order: [paymentStatuses.sortOrder],
  }),
  timeRanges: lookup({
    path: "/api/jobs/time-ranges",
    operationId: "listTimeRanges",
    example: { title: "Available contractor time slots", item: { ID: 1, name: "Morning", start_time: "08:00", end_time: "12:00" } },
    summary: "Available contractor time slots",
    table: timeRanges,
    fields: {
      ...named(timeRanges),
      start_time: field(timeRanges.startTime, z.string()),
      end_time: field(timeRanges.endTime, z.string()),
    },
    order: [timeRanges.startTime],
  }),
  addresses: lookup({
    path: "/api/jobs/addresses",
    operationId: "listAddresses",
    example: {
      title: "Searchable property addresses",
      item: {
        ID: 5,
        line1: "1 Example Street",
        line2: null,
        town: "Sample Town",
        postcode: "EX1 1AA",
        full_address: "1 Example Street, Sample Town, EX1 1AA",
      },
      query: { action: "list", search: "Example Street" },
    },
    summary: "Searchable property addresses",
    description: "`search` matches every word against the address lines, town and postcode (case-insensitive).",
    answer: "Addresses",
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
    example: { title: "Document file type categories", item: { ID: 2, name: "Gas Safety Certificate" } },
    summary: "Document file type categories (file_type_id for document uploads)",
    table: fileTypes,
    fields: named(fileTypes),
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
  return useCase(ADMISSION, async (scope: Scope, input: LookupInput): Promise<{ items: Item[]; count: number }> => {
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
