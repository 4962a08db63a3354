import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Role } from "../../auth/permissions";
import { zBool, zPagination } from "../../domain/values";
import type { RequestContext } from "../../http/context";

/**
 * What the directories (GET /api/jobs/contractors, agents, staff, tenants) share: the query
 * schema of the reference's lookups (`action=list`, `search`, `limit`/`offset`), the name search
 * as an index range, the bounded count, and "a contractor (or agent) sees only its own record"
 * in a form that rides in the token check's batch (one D1 round trip).
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

/** A way of listing for this request: `limit` is 0 when the branch does not apply. */
export interface ScopeBranch {
  /** SQL LIMIT multiplier: the page's limit, or 0 when this branch does not apply to the caller. */
  limit: (n: number) => number;
  /** The condition confining the caller to its own record (`column` holds the record's id), if any. */
  own: (column: SQLiteColumn) => SQL | undefined;
}

/**
 * A caller of `role` (contractor, agent) sees only its own record (`users.contractor_id` /
 * `users.agent_id` = the record's id); every other role sees all. Before the token is resolved (a read
 * checks it inside its own batch), two branches, run as two statements of that batch: the one
 * that does not apply gets LIMIT 0 (evaluated once, before the scan), so only one reads rows.
 */
export async function ownRecordBranches(ctx: RequestContext, role: Role & ("contractor" | "agent")): Promise<ScopeBranch[]> {
  const link = role === "contractor" ? sql.raw("u.contractor_id") : sql.raw("u.agent_id");
  const caller = ctx.resolvedCaller;
  if (caller) {
    const id = role === "contractor" ? caller.contractorId : caller.agentId;
    return [{ limit: (n) => n, own: (column) => (caller.role === role ? sql`${column} = ${id ?? 0}` : undefined) }];
  }
  const hash = await ctx.tokenHash();
  const ofRole = sql`FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ${hash} AND u.role = ${role}`;
  const when = (applies: SQL) => (n: number) => sql`(CASE WHEN ${applies} THEN ${n} ELSE 0 END)` as unknown as number;
  return [
    { limit: when(sql`NOT EXISTS (SELECT 1 ${ofRole})`), own: () => undefined },
    { limit: when(sql`EXISTS (SELECT 1 ${ofRole})`), own: (column) => sql`${column} = (SELECT ${link} ${ofRole})` },
  ];
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
