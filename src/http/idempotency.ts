import { and, eq, gte, is, isNull, lt, or } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { SQLiteDeleteBase, SQLiteInsertBase, SQLiteUpdateBase } from "drizzle-orm/sqlite-core";
import { bytesToHex, utf8 } from "../crypto/bytes";
import { idempotencyKeys } from "../db/schema";
import { ApiError, badRequest } from "../domain/errors";
import { toIsoSeconds } from "../domain/time";
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
 * handler that fails after its batch undoes it, as uploads do).
 *
 * The key costs no round trip of its own: it rides in the handler's batches.
 * - The handler's first batch, when it only reads, also looks the key up: a key already held
 *   stops the handler there (a replay, 422 or 409) before it writes or refuses anything (a
 *   replayed update must not meet its own If-Match as stale).
 * - Its first write batch (`db.batch` with an insert, update or delete; D1 runs a batch as one
 *   transaction) also drops an expired key and inserts the key, committed: the change and the
 *   key commit together or not at all. A concurrent twin that got there first makes the insert
 *   fail, which rolls the whole batch back; the key, found on a second look, answers instead.
 * - The answer is stored after it is sent (`waitUntil`): a retry that arrives before it lands
 *   waits briefly for it, then is told 409 "in progress". A key committed but without an answer
 *   after IN_FLIGHT_TIMEOUT_MS lost its answer for good (the Worker died): the retry gets 409
 *   with `errors: [{ field: "Idempotency-Key", … }]` saying the request was applied, so the client
 *   looks the result up instead of repeating it under a new key.
 * - A success that wrote nothing to D1 (a pin toggle lives in its Durable Object) stores its key
 *   and answer in one statement before answering; two such twins sent at the same instant may
 *   both run (there is no claim before the work), one after the other is a replay.
 * A write made outside `db.batch` (a lone `insert().returning()`) would carry no key: every use
 * case writes through `db.batch`.
 */

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const IN_FLIGHT_TIMEOUT_MS = 60_000;
/** How long a retry waits for an answer being stored (a few D1 round trips), before 409. */
const ANSWER_WAITS_MS = [20, 50, 100, 200];
const KEY_RE = /^[\x21-\x7e]{1,255}$/;

const iso = toIsoSeconds;

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

type KeyRow = typeof idempotencyKeys.$inferSelect;

/** Runs `handler` once per (token, Idempotency-Key); without the header, just runs it. */
export async function idempotent(c: AppContext, tokenId: number, handler: () => Promise<Response>): Promise<Response> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return handler();
  if (!KEY_RE.test(key)) {
    throw badRequest("Idempotency-Key: must be 1 to 255 visible ASCII characters", [
      { field: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters" },
    ]);
  }
  const ctx = c.var.ctx;
  const db = ctx.db;
  const hash = await requestHash(c);
  const now = ctx.services.clock.now().getTime();
  const claimedAt = iso(now);
  const mine = and(eq(idempotencyKeys.tokenId, tokenId), eq(idempotencyKeys.key, key));
  const live = and(mine, gte(idempotencyKeys.expiresAt, iso(now)));
  const lookUp = () => db.select().from(idempotencyKeys).where(live);
  // The key's row as this request claims it (its answer added once known).
  const claimRow = {
    tokenId,
    key,
    requestHash: hash,
    createdAt: claimedAt,
    committedAt: claimedAt,
    expiresAt: iso(now + IDEMPOTENCY_TTL_MS),
  };
  const keys = new KeyRides(db, {
    lookUp,
    claim: () => [
      // An expired key, or one whose first request died in flight (before this scheme), no longer holds.
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
      db.insert(idempotencyKeys).values(claimRow),
    ],
  });
  // Our key only (a request that outlived its lease must not touch its successor's).
  const claim = and(mine, eq(idempotencyKeys.createdAt, claimedAt));
  let response: Response;
  try {
    response = await keys.around(handler);
  } catch (err) {
    const held = keys.held ?? (keys.lostRace ? await lookUp().get() : undefined);
    if (held) return answerFrom(held, hash, now, lookUp);
    if (keys.claimed) await db.delete(idempotencyKeys).where(claim).run();
    throw err;
  }
  if (response.status >= 500) {
    if (keys.claimed) await db.delete(idempotencyKeys).where(claim).run();
    return response;
  }
  const answer = { status: response.status, contentType: response.headers.get("content-type") };
  const copy = response.clone();
  if (!keys.claimed) {
    // Nothing written to D1 carried the key: store key and answer now, before answering.
    await db
      .insert(idempotencyKeys)
      .values({ ...claimRow, ...answer, body: await copy.text() })
      .onConflictDoNothing()
      .run();
    return response;
  }
  ctx.services.waitUntil(
    (async () => {
      try {
        await db
          .update(idempotencyKeys)
          .set({ ...answer, body: await copy.text() })
          .where(claim)
          .run();
      } catch (err) {
        // The change is committed (and so is the key): the client has its answer; a retry is told
        // it was applied (above) rather than running it again.
        console.error("idempotency answer not stored:", err instanceof Error ? err.message : err);
      }
    })(),
  );
  return response;
}

/** A held key's answer: the replay, 422 for another request, or 409 while (or since) it runs. */
async function answerFrom(
  first: KeyRow,
  hash: string,
  now: number,
  lookUp: () => { get(): Promise<KeyRow | undefined> },
): Promise<Response> {
  if (first.requestHash !== hash) {
    throw new ApiError("UNPROCESSABLE", "Idempotency-Key was already used for a different request; use a new key");
  }
  let row: KeyRow | undefined = first;
  // Committed, its answer on its way (stored just after it was sent): wait for it a little.
  for (const ms of ANSWER_WAITS_MS) {
    if (!row || row.status !== null || row.committedAt === null || row.createdAt < iso(now - IN_FLIGHT_TIMEOUT_MS)) break;
    await scheduler.wait(ms);
    row = await lookUp().get();
  }
  if (row && row.status === null && row.committedAt !== null && row.createdAt < iso(now - IN_FLIGHT_TIMEOUT_MS)) {
    throw new ApiError(
      "CONFLICT",
      "The request with this Idempotency-Key was applied, but its answer was lost: it is not run again; look up its result instead (a new key would repeat it)",
      [{ field: "Idempotency-Key", message: "was applied; its answer was not kept" }],
    );
  }
  if (!row || row.status === null) {
    throw new ApiError("CONFLICT", "A request with this Idempotency-Key is still in progress; retry later");
  }
  return new Response(row.body ?? "", {
    status: row.status,
    headers: { "Content-Type": row.contentType ?? "application/json", "Idempotent-Replayed": "true" },
  });
}

const isWrite = (item: unknown) => is(item, SQLiteInsertBase) || is(item, SQLiteUpdateBase) || is(item, SQLiteDeleteBase);

/** A UNIQUE failure of the key's insert, however the driver wraps it (message or cause chain). */
function keyConflict(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message.includes("UNIQUE") && message.includes("idempotency_keys")) return true;
  }
  return false;
}

/** Stops the handler: its key is already held (found by the lookup in its first batch). */
class KeyHeld extends Error {}

/**
 * While the handler runs, the request's `db` (the one object `ctx.db` and `ctx.services.db`
 * name) carries the key in its batches: the lookup in the first batch when it only reads, the
 * claim (expired key dropped, key inserted) in the first write batch. Their results are dropped,
 * so the handler sees its own results only.
 */
class KeyRides {
  held: KeyRow | undefined;
  claimed = false;
  /** The claim's batch failed: perhaps a twin holds the key now. */
  lostRace = false;
  private looked = false;
  constructor(
    private readonly db: Db,
    private readonly key: { lookUp: () => BatchItem<"sqlite">; claim: () => [BatchItem<"sqlite">, BatchItem<"sqlite">] },
  ) {}

  async around(handler: () => Promise<Response>): Promise<Response> {
    const { db } = this;
    const batch = db.batch;
    const own = Object.getOwnPropertyDescriptor(db, "batch");
    const run = (items: readonly BatchItem<"sqlite">[]) =>
      batch.call(db, items as Parameters<Db["batch"]>[0]) as unknown as Promise<unknown[]>;
    const riding = (async (items: readonly BatchItem<"sqlite">[]) => {
      if (this.claimed) return run(items);
      if (!items.some(isWrite)) {
        if (this.looked) return run(items);
        this.looked = true;
        const results = await run([...items, this.key.lookUp()]);
        const [found] = results.at(-1) as KeyRow[];
        if (found) {
          this.held = found;
          throw new KeyHeld("Idempotency-Key already held");
        }
        return results.slice(0, -1);
      }
      const [drop, insert] = this.key.claim();
      try {
        const results = await run([drop, ...items, insert]);
        this.claimed = true;
        return results.slice(1, -1);
      } catch (err) {
        // Only the key's own insert failing says a twin holds it; any other failure is the handler's.
        this.lostRace = keyConflict(err);
        // A read the handler makes next (explaining its failed write) looks the key up only if a
        // twin holds it: a failure of our own may have committed our key (a lost answer), which
        // must not pass for a twin's.
        this.looked = !this.lostRace;
        throw err;
      }
    }) as Db["batch"];
    Object.defineProperty(db, "batch", { value: riding, configurable: true, writable: true });
    try {
      return await handler();
    } finally {
      if (own) Object.defineProperty(db, "batch", own);
      else delete (db as { batch?: unknown }).batch;
    }
  }
}

/** Drops expired keys (the cron); lookups ignore them anyway. */
export async function purgeIdempotencyKeys(db: D1Database, now = Date.now()): Promise<number> {
  const res = await db.prepare("DELETE FROM idempotency_keys WHERE expires_at < ?").bind(iso(now)).run();
  return res.meta.changes;
}
