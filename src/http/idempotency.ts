import { and, eq, is, isNull, lt, or } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { SQLiteDeleteBase, SQLiteInsertBase, SQLiteUpdateBase } from "drizzle-orm/sqlite-core";
import { bytesToHex, utf8 } from "../crypto/bytes";
import { idempotencyKeys } from "../db/schema";
import { ApiError, badRequest } from "../domain/errors";
import { nowIso } from "../domain/time";
import type { Db } from "../platform/services";
import type { AppContext } from "./app-env";
import { readBody } from "./body";

/**
 * Safe retries with `Idempotency-Key` (IETF httpapi idempotency-key draft), on every mutating
 * operation. Per API token, a key remembers the first request (a hash of method, path, query and
 * body content) and its answer for 24 h:
 * - same key, same request: the first answer again (status and body), with `Idempotent-Replayed: true`;
 * - same key, another request: 422; while the first is still running: 409.
 * The body is hashed as parsed (fields, and each file's name, type and bytes) without the CSRF
 * token, so a retry that re-encodes the same multipart fields, or carries a fresh CSRF token, is
 * the same request. Only answers below 500 are kept; a failure (thrown or 5xx) frees the key so
 * the retry runs again (writes are single D1 batches: a failed one left nothing behind, and a
 * handler that fails after its batch undoes it, as uploads do). A key whose first request died
 * mid-flight is taken over after IN_FLIGHT_TIMEOUT_MS, unless its write had committed.
 *
 * The answer can only be stored once the handler has built it, after its write: a Worker that
 * dies in between would leave a key that looks in flight, and a retry after the lease would run
 * the handler again (a second job). So every write batch the handler runs (`db.batch` with an
 * insert, update or delete; D1 runs a batch as one transaction) carries one more statement that
 * sets the key's `committed_at`: the change and the mark commit together or not at all. A key
 * committed but without an answer is never taken over: within the lease the retry is told to
 * wait (the answer is being stored), after it the answer is lost for good and the retry gets 409
 * with `errors: [{ field: "Idempotency-Key", … }]` saying the request was applied, so the client
 * looks the result up instead of repeating it under a new key. Storing the answer is one more
 * statement after the handler, as before: no extra round trip. A write made outside `db.batch`
 * (a lone `insert().returning()`) would carry no mark and keep the old window: every use case
 * writes through `db.batch` (the admin webhook routes too since they became use cases).
 */

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const IN_FLIGHT_TIMEOUT_MS = 60_000;
const KEY_RE = /^[\x21-\x7e]{1,255}$/;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

async function sha256Hex(data: Uint8Array | ArrayBuffer): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/** A stable form of a parsed body: keys sorted, files by name, type, size and content hash. */
async function canonical(value: unknown): Promise<unknown> {
  if (value instanceof File) {
    return { file: value.name, type: value.type, size: value.size, sha256: await sha256Hex(await value.arrayBuffer()) };
  }
  if (Array.isArray(value)) return Promise.all(value.map(canonical));
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(await Promise.all(entries.map(async ([k, v]) => [k, await canonical(v)] as const)));
  }
  return value;
}

async function requestHash(c: AppContext): Promise<string> {
  const { csrf_token: _csrf, ...body } = await readBody(c);
  const url = new URL(c.req.url);
  const query = [...url.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256Hex(utf8(JSON.stringify([c.req.method, url.pathname, query, await canonical(body)])));
}

/** Runs `handler` once per (token, Idempotency-Key); without the header, just runs it. */
export async function idempotent(c: AppContext, tokenId: number, handler: () => Promise<Response>): Promise<Response> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return handler();
  if (!KEY_RE.test(key)) {
    throw badRequest("Idempotency-Key: must be 1 to 255 visible ASCII characters", [
      { field: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters" },
    ]);
  }
  const db = c.var.ctx.db;
  const hash = await requestHash(c);
  const now = Date.now();
  const claimedAt = nowIso();
  const mine = and(eq(idempotencyKeys.tokenId, tokenId), eq(idempotencyKeys.key, key));
  const [, inserted] = await db.batch([
    // Expired keys, and first requests that died in flight before their write, no longer hold the key.
    db
      .delete(idempotencyKeys)
      .where(
        and(
          mine,
          or(
            lt(idempotencyKeys.expiresAt, iso(now)),
            and(
              isNull(idempotencyKeys.status),
              isNull(idempotencyKeys.committedAt),
              lt(idempotencyKeys.createdAt, iso(now - IN_FLIGHT_TIMEOUT_MS)),
            ),
          ),
        ),
      ),
    db
      .insert(idempotencyKeys)
      .values({ tokenId, key, requestHash: hash, createdAt: claimedAt, expiresAt: iso(now + IDEMPOTENCY_TTL_MS) })
      .onConflictDoNothing(),
  ]);

  if (inserted.meta.changes === 0) {
    const first = await db.select().from(idempotencyKeys).where(mine).get();
    if (first && first.requestHash !== hash) {
      throw new ApiError("UNPROCESSABLE", "Idempotency-Key was already used for a different request; use a new key");
    }
    if (first && first.status === null && first.committedAt !== null && first.createdAt < iso(now - IN_FLIGHT_TIMEOUT_MS)) {
      throw new ApiError(
        "CONFLICT",
        "The request with this Idempotency-Key was applied, but its answer was lost: it is not run again; look up its result instead (a new key would repeat it)",
        [{ field: "Idempotency-Key", message: "was applied; its answer was not kept" }],
      );
    }
    if (!first || first.status === null) {
      throw new ApiError("CONFLICT", "A request with this Idempotency-Key is still in progress; retry later");
    }
    return new Response(first.body ?? "", {
      status: first.status,
      headers: { "Content-Type": first.contentType ?? "application/json", "Idempotent-Replayed": "true" },
    });
  }

  // Our claim only (a request that outlived its lease must not touch its successor's).
  const claim = and(mine, eq(idempotencyKeys.createdAt, claimedAt));
  const release = () => db.delete(idempotencyKeys).where(claim).run();
  const unmark = markWriteBatches(db, () =>
    db
      .update(idempotencyKeys)
      .set({ committedAt: nowIso() })
      .where(and(claim, isNull(idempotencyKeys.status))),
  );
  let response: Response;
  try {
    response = await handler();
  } catch (err) {
    unmark();
    await release();
    throw err;
  }
  unmark();
  if (response.status >= 500) {
    await release();
    return response;
  }
  try {
    await db
      .update(idempotencyKeys)
      .set({ status: response.status, contentType: response.headers.get("content-type"), body: await response.clone().text() })
      .where(claim)
      .run();
  } catch (err) {
    // The change is committed (and so is the key): the client still gets its answer; a retry is
    // told it was applied (above) rather than running it again.
    console.error("idempotency answer not stored:", err instanceof Error ? err.message : err);
  }
  return response;
}

const isWrite = (item: unknown) => is(item, SQLiteInsertBase) || is(item, SQLiteUpdateBase) || is(item, SQLiteDeleteBase);

/**
 * While the handler runs, every write batch on the request's `db` (the one object `ctx.db` and
 * `ctx.services.db` name) gets `mark()` appended, its result dropped so the handler sees its own
 * results only. Batches of reads (`ctx.read`, loaders) pass unchanged. Answers the undo.
 */
function markWriteBatches(db: Db, mark: () => BatchItem<"sqlite">): () => void {
  const batch = db.batch;
  const own = Object.getOwnPropertyDescriptor(db, "batch");
  const marked = (async (items: readonly BatchItem<"sqlite">[]) => {
    if (!items.some(isWrite)) return batch.call(db, items as Parameters<Db["batch"]>[0]);
    const results = await batch.call(db, [...items, mark()] as unknown as Parameters<Db["batch"]>[0]);
    return results.slice(0, -1);
  }) as Db["batch"];
  Object.defineProperty(db, "batch", { value: marked, configurable: true, writable: true });
  return () => {
    if (own) Object.defineProperty(db, "batch", own);
    else delete (db as { batch?: unknown }).batch;
  };
}

/** Drops expired keys (the cron); lookups ignore them anyway. */
export async function purgeIdempotencyKeys(db: D1Database, now = Date.now()): Promise<number> {
  const res = await db.prepare("DELETE FROM idempotency_keys WHERE expires_at < ?").bind(iso(now)).run();
  return res.meta.changes;
}
