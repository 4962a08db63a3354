import { z } from "@hono/zod-openapi";
import { and, asc, count, eq, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Scope } from "../../app/scope";
import type { UseCase } from "../../app/use-case";
import type { Role } from "../../auth/permissions";
import type { Principal } from "../../domain/caller";
import { zBool, zPagination } from "../../domain/values";
import { OK_MESSAGE } from "../../http/envelope";
import type { OperationDocs } from "../../http/openapi-examples";
import { jsonResponse, operation } from "../../http/operation";

/**
 * What the directories (GET /api/jobs/contractors, agents, staff, tenants) share: the query
 * schema of the reference's lookups (`action=list`, `search`, `limit`/`offset`), the name search
 * as an index range, the bounded count in the page's own read, "a contractor (or agent) sees only
 * its own record", and the route built from a directory's use case.
 */

/**
 * `count` is exact up to `offset + limit + COUNT_WINDOW` matches; past that it says that many and
 * `count_capped` is true (counting every match would read every contractor of a 5 000-strong list).
 */
export const DIRECTORY_COUNT_WINDOW = 100;

/** An optional yes/no filter: empty or absent applies none. */
export const zFilterFlag = (what: string) =>
  z
    .preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), zBool().optional())
    .openapi({ type: "string", enum: ["true", "false", "1", "0"], description: `true: only ${what}; false: only the others; absent: all` });

export const zSearch = () =>
  z
    .string()
    .trim()
    .max(100, "must be at most 100 characters")
    .optional()
    .openapi({ description: "The start of the name, case-insensitive (ASCII letters): `smi` finds Smith & Sons", example: "smi" });

/**
 * A directory's record: the columns every directory has, around its own (`before` the active flag,
 * `after` it, in the order the API answers them).
 */
export const directoryEntry = <B extends z.ZodRawShape, A extends z.ZodRawShape>(
  texts: { readonly id: string; readonly active: string },
  before: B,
  after: A,
) =>
  z.object({
    ID: z.number().int().openapi({ description: texts.id }),
    uuid: z.string(),
    name: z.string(),
    ...before,
    active: z.boolean().openapi({ description: texts.active }),
    ...after,
  });

export const directoryQuery = <T extends z.ZodRawShape>(extra: T) =>
  z.strictObject({ action: z.literal("list"), search: zSearch(), ...extra, ...zPagination });

/** One code point above any a name can continue with: `prefix ≤ name < prefix + MAX` is "starts with prefix". */
const AFTER_EVERY_CHAR = "\u{10FFFF}";

/**
 * `column` starts with `search`, ASCII case-insensitively: a range on the column's NOCASE index
 * (migrations/0011_directories.sql), so a search reads only the names it matches. Unlike LIKE,
 * no pattern syntax to escape and no pattern-length limit (D1 refuses LIKE patterns over 50 bytes).
 */
export function namePrefix(column: SQLiteColumn, search: string | undefined): SQL | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const prefix = (search ?? "").replace(/[\u0000-\u001f\u007f]/g, " ").trim();
  if (prefix === "") return undefined;
  return sql`${column} COLLATE NOCASE >= ${prefix} AND ${column} COLLATE NOCASE < ${prefix + AFTER_EVERY_CHAR}`;
}

/** Counting stops here: exact up to the cap, a lower bound (with `count_capped`) beyond. */
export const countCap = (page: { limit: number; offset: number }) => page.offset + page.limit + DIRECTORY_COUNT_WINDOW;

/** The count and `count_capped` as the envelope shows them. */
export const countFields = (counted: number, cap: number) => ({ count: Math.min(counted, cap), count_capped: counted > cap });

export const directoryEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({
    success: z.literal(true),
    data: z.array(item),
    count: z.number().int(),
    count_capped: z.boolean().openapi({
      description: `true when more than offset + limit + ${DIRECTORY_COUNT_WINDOW} match: count is then a lower bound`,
    }),
    message: z.string(),
  });

/**
 * A caller of `role` (contractor, agent) sees only its own record (`users.contractor_id` /
 * `users.agent_id` = the record's id, held in `column`); every other role sees all. The use case
 * runs after admission, so the caller is known and the condition is a plain comparison.
 */
export function ownRecord(caller: Principal, role: Role & ("contractor" | "agent"), column: SQLiteColumn): SQL | undefined {
  if (caller.role !== role) return undefined;
  return sql`${column} = ${(role === "contractor" ? caller.contractorId : caller.agentId) ?? 0}`;
}

/**
 * A party directory's condition (agents, contractors): `first` (e.g. a trade), the caller's own
 * record for that role, the `active` flag and the name's start, on the columns given (the table's
 * own or their denormalised copies in contractor_job_types).
 */
export function partyWhere(
  scope: Scope,
  role: "contractor" | "agent",
  column: { id: SQLiteColumn; active: SQLiteColumn; name: SQLiteColumn },
  query: DirectoryInput & { active?: boolean },
  first?: SQL,
): SQL | undefined {
  return and(
    first,
    ownRecord(scope.caller, role, column.id),
    query.active === undefined ? undefined : eq(column.active, query.active),
    namePrefix(column.name, query.search),
  );
}

/** The fields every person-or-firm directory answers first, in the API's order. */
export const entryHead = <E extends string | null>(r: { id: number; uuid: string; name: string; email: E }) => ({
  ID: r.id,
  uuid: r.uuid,
  name: r.name,
  email: r.email,
});

/** Name order, as the NOCASE name indexes hold it (ties by id). */
export const byName = (name: SQLiteColumn | SQL, id: SQLiteColumn) => [sql`${name} COLLATE NOCASE`, asc(id)] as const;

/** What every directory takes: the name's start and the page. */
export interface DirectoryInput {
  search?: string;
  limit: number;
  offset: number;
}

/** A page of a directory and its bounded count (see DIRECTORY_COUNT_WINDOW). */
export interface DirectoryPage<Item> {
  data: Item[];
  count: number;
  count_capped: boolean;
}

/**
 * One page of a directory in one read: `rows` (filtered and ordered, the page's LIMIT/OFFSET added
 * here) and the matches counted up to the cap on `matched` (its table and condition: the count
 * reads no more index entries than the cap).
 */
export async function directoryPage<Row>(
  scope: Scope,
  page: DirectoryInput,
  rows: { limit(n: number): { offset(n: number): BatchItem<"sqlite"> & PromiseLike<Row[]> } },
  matched: { from: SQLiteTable; where: SQL | undefined },
): Promise<{ rows: Row[]; count: number; count_capped: boolean }> {
  const db = scope.db;
  const cap = countCap(page);
  const [found, [counted]] = await scope.read([
    rows.limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(
      db
        .select({ one: sql`1` })
        .from(matched.from)
        .where(matched.where)
        .limit(cap + 1)
        .as("matched"),
    ),
  ]);
  return { rows: found as Row[], ...countFields(counted?.n ?? 0, cap) };
}

/** `GET <path>?action=list` of a directory: its query (the shared one plus `extra`), its use case, its envelope. */
export function directoryOperation<const P extends string, X extends z.ZodRawShape, I extends z.ZodType>(def: {
  path: P;
  operationId: string;
  summary: string;
  description: string;
  extra: X;
  answer: string;
  item: I;
  docs: OperationDocs;
  run: UseCase<z.output<ReturnType<typeof directoryQuery<X>>>, DirectoryPage<z.input<I>>>;
}) {
  return operation({
    method: "get",
    path: def.path,
    operationId: def.operationId,
    summary: def.summary,
    description: def.description,
    tag: "Reference Endpoints",
    docs: def.docs,
    permission: def.run.admission.permission,
    query: directoryQuery(def.extra),
    actions: ["list"],
    responses: { 200: jsonResponse(def.answer, directoryEnvelope(def.item)) },
    handler: async (c, { query }) => {
      const { data, count, count_capped } = await def.run(c.var.ctx, query);
      return c.json({ success: true as const, data, count, count_capped, message: OK_MESSAGE });
    },
  });
}

/** A tenant's contact, masked: enough to recognise it (`j•••@example.com`, `•••• 123`), never the value. */
export function maskEmail(email: string | null): string | null {
  if (!email) return null;
  const at = email.lastIndexOf("@");
  if (at < 1) return "•••";
  return `${email[0]}•••${email.slice(at)}`;
}

export function maskPhone(phone: string | null): string | null {
  if (!phone) return null;
  const digits = phone.replace(/\D/g, "");
  return digits.length <= 3 ? "•••" : `•••• ${digits.slice(-3)}`;
}
