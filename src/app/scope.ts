import type { SQL } from "drizzle-orm";
import type { BatchResponse } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/db";
import type { Principal } from "../domain/caller";
import { type JobReader, jobVisibleTo, type ReadBatch } from "../domain/job-access";
import { userPins } from "../pins/user-pins";
import type { Services } from "../platform/services";

/**
 * Who is calling and with what: the argument every use case takes first. Every channel builds one
 * (an HTTP request's RequestContext is one; inbound mail, queue consumers, the cron, MCP tools,
 * WebSocket messages and tests use `scopeFor`). A use case reads through `read` (one D1 batch),
 * writes through `db.batch`, reaches R2, queues, mail and the clock only through `services`.
 */
export interface Scope extends JobReader {
  readonly services: Services;
  /** The request's D1 session (read replication, rows-read metering). */
  readonly db: Db;
  /** The request's id for log lines, on channels that have one (HTTP). */
  readonly requestId?: string;
  /** The admitted caller (after `principal()` or a `read`; at once for `scopeFor`). */
  readonly caller: Principal;
  principal(): Promise<Principal>;
  /** The SQL limiting jobs to what the caller may see (contractors: their own). */
  jobVisible(contractorColumn?: SQLiteColumn): Promise<SQL>;
  /** Runs queries as one D1 batch (one round trip). */
  read<T extends ReadBatch>(queries: T): Promise<BatchResponse<T>>;
  /** The caller's pinned job uuids (their Durable Object). */
  pins(): Promise<Set<string>>;
  /** Starts fetching the pins beside a D1 batch (a hint; `pins()` works without it). */
  startPins(): void;
}

/** A scope for a caller already known and admitted: every channel but HTTP, and tests. */
export function scopeFor(services: Services, caller: Principal): Scope {
  let pins: Promise<Set<string>> | undefined;
  const loadPins = () => {
    pins ??= userPins(services.env, caller.userUuid)
      .snapshot()
      .then((s) => new Set(s.pins));
    return pins;
  };
  return {
    services,
    db: services.db,
    caller,
    principal: async () => caller,
    jobVisible: async (column) => jobVisibleTo(caller, column),
    read: (queries) => services.db.batch(queries),
    pins: loadPins,
    startPins: () => void loadPins().catch(() => undefined),
  };
}
