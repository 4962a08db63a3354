import { DurableObject } from "cloudflare:workers";
import { asc, eq, gt, sql } from "drizzle-orm";
import { hashToken } from "../auth/tokens";
import { apiTokens, auditEvents, jobs, users } from "../db/schema";
import { aliased } from "../db/select";
import { toIsoSeconds } from "../domain/time";
import { createServices, type Services } from "../platform/services";
import { type FeedRow, type LiveCaller, type LiveEvent, mayReceive, routeLiveEvents } from "./events";

/** How long a ticket lasts, and how many recent outbox ids the hub keeps the events of, for resuming and polling. */
export const TICKET_TTL_SECONDS = 60;
const KEEP_EVENTS = 100_000;
/** Outbox rows read per step of a feed. */
const FEED_PAGE = 500;

/** What a socket carries through hibernation (serializeAttachment). */
interface Attachment extends LiveCaller {
  viewing: string | null;
}

export interface Presence {
  kind: "presence";
  job_uuid: string;
  viewers: { user_id: number; name: string }[];
}

/** The header the Worker forwards a GET /api/live's bearer token hash in (the ticket must be that token's). */
export const LIVE_BEARER_HASH = "X-Live-Bearer-Hash";

/** A refusal the Worker turns into the API's error envelope. */
export interface HubRefusal {
  refused: { code: "UNAUTHORIZED" | "FORBIDDEN" | "BAD_REQUEST"; message: string };
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/**
 * The live hub (one per deployment, `liveHub(env)`): the WebSockets of GET /api/live (hibernating:
 * an idle hub costs nothing and its sockets stay open), the single-use tickets of POST /api/live,
 * and the recent event stream in its own SQLite, so a client resumes from the last id it saw and a
 * poller reads the same stream. It is fed from the outbox (`feed`, poked at the webhook relay's hook
 * after every write of every channel, and by the cron): it reads audit events past its cursor,
 * routes each to the contractors whose job it was as of the event, stores and broadcasts them. One
 * feed runs at a time, and storing + broadcasting, like replay + registering a new socket, is one
 * synchronous step: a connecting client gets every event exactly once, from the replay or live.
 */
export class LiveHub extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly services: Services;
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private readonly attachments = new WeakMap<WebSocket, Attachment>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.services = createServices(env);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, job_uuid TEXT, contractors TEXT NOT NULL, message TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), cursor INTEGER NOT NULL, kept_from INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS owners (job_uuid TEXT PRIMARY KEY, contractor_id INTEGER);
      CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, token_id INTEGER NOT NULL, caller TEXT NOT NULL, expires_ms INTEGER NOT NULL);`);
    // A ping answered without waking the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"kind":"ping"}', '{"kind":"pong"}'));
  }

  // ── the feed ──────────────────────────────────────────────────────────────────────────────

  /** Reads the outbox past the cursor; resolves once every event committed before the call is stored and sent. */
  feed(): Promise<void> {
    // A run not started yet reads D1 after this call: it covers it.
    if (this.queued) return this.queued;
    const run = this.tail.then(async () => {
      this.queued = undefined;
      await this.feedAll();
    });
    this.queued = run;
    this.tail = run.catch((err) =>
      console.error("live feed failed (the next write or cron retries):", err instanceof Error ? err.message : err),
    );
    return run;
  }

  /** The newest event id the stream has reached (after a feed). */
  async newest(): Promise<number> {
    await this.feed();
    return this.cursor();
  }

  private cursor(): number {
    return this.sql.exec<{ cursor: number }>("SELECT cursor FROM meta WHERE id = 1").toArray()[0]?.cursor ?? 0;
  }

  private async feedAll(): Promise<void> {
    const db = this.services.db;
    let cursor = this.sql.exec<{ cursor: number }>("SELECT cursor FROM meta WHERE id = 1").toArray()[0]?.cursor;
    if (cursor === undefined) {
      // A new hub starts at the outbox's present: live means from now on.
      const [top] = await db.select({ max: sql<number>`coalesce(max(${auditEvents.id}), 0)` }).from(auditEvents);
      cursor = top?.max ?? 0;
      this.sql.exec("INSERT OR IGNORE INTO meta (id, cursor, kept_from) VALUES (1, ?, ?)", cursor, cursor);
    }
    for (;;) {
      const rows: FeedRow[] = await db
        .select(
          aliased({
            id: auditEvents.id,
            jobUuid: auditEvents.jobUuid,
            actorUserId: auditEvents.actorUserId,
            actorName: auditEvents.actorName,
            action: auditEvents.action,
            changes: auditEvents.changes,
            createdAt: auditEvents.createdAt,
            jobRef: sql<string | null>`coalesce(${auditEvents.jobRef}, ${jobs.jobRef})`,
            sequence: auditEvents.sequence,
            jobExists: sql<number>`${jobs.id} IS NOT NULL`,
            contractorNow: jobs.contractorId,
          }),
        )
        .from(auditEvents)
        .leftJoin(jobs, eq(jobs.uuid, auditEvents.jobUuid))
        .where(gt(auditEvents.id, cursor))
        .orderBy(asc(auditEvents.id))
        .limit(FEED_PAGE);
      const last = rows.at(-1);
      if (!last) return;
      this.store(rows, last.id);
      cursor = last.id;
      if (rows.length < FEED_PAGE) return;
    }
  }

  /** Stores and broadcasts one page of outbox rows, and moves the cursor: one synchronous step. */
  private store(rows: FeedRow[], through: number): void {
    const known = (job: string) =>
      this.sql.exec<{ contractor_id: number | null }>("SELECT contractor_id FROM owners WHERE job_uuid = ?", job).toArray()[0]
        ?.contractor_id ?? null;
    const routed = routeLiveEvents(rows, known);
    // Each job's contractor now, for events read after the job is gone (its deletion).
    const owners = new Map<string, number | null>();
    for (const r of rows) if (r.jobUuid && r.jobExists) owners.set(r.jobUuid, r.contractorNow);
    this.ctx.storage.transactionSync(() => {
      for (const { event, contractors } of routed) {
        this.sql.exec(
          "INSERT OR IGNORE INTO events (id, job_uuid, contractors, message) VALUES (?, ?, ?, ?)",
          event.id,
          event.job_uuid,
          JSON.stringify(contractors),
          JSON.stringify(event),
        );
      }
      for (const [job, c] of owners) this.sql.exec("INSERT OR REPLACE INTO owners (job_uuid, contractor_id) VALUES (?, ?)", job, c);
      this.sql.exec("UPDATE meta SET cursor = ? WHERE id = 1", through);
      // The events of the last KEEP_EVENTS outbox ids (an id range: no count, no walk of the table).
      const cut = through - KEEP_EVENTS;
      if (cut > 0 && this.sql.exec("DELETE FROM events WHERE id <= ? RETURNING id", cut).toArray().length > 0) {
        this.sql.exec("UPDATE meta SET kept_from = max(kept_from, ?) WHERE id = 1", cut);
      }
    });
    this.rearmSla(rows);
    if (routed.length === 0) return;
    const sockets = this.ctx.getWebSockets();
    for (const { event, contractors } of routed) {
      const message = JSON.stringify(event);
      for (const ws of sockets) {
        const who = this.attachment(ws);
        if (who && mayReceive(who, contractors, event.job_uuid)) this.send(ws, message);
      }
    }
  }

  /**
   * A change that may move a deadline (a job created, its priority or status changed, a recall)
   * re-arms the SLA timer (src/sla/timer.ts, "sla"), which brings its alarm earlier if need be.
   */
  private rearmSla(rows: FeedRow[]): void {
    const touched = rows
      .filter((r) => r.jobUuid && (r.action === "job.created" || /"(priority_id|status_id|sla_deadline)"\s*:/.test(r.changes ?? "")))
      .map((r) => r.jobUuid as string);
    if (touched.length === 0) return;
    this.env.SLA_TIMER.getByName("sla")
      .rearm([...new Set(touched)])
      .catch((err: unknown) =>
        console.error("SLA timer re-arm failed (the cron is the catch-all):", err instanceof Error ? err.message : err),
      );
  }

  /** The visible events after `after`, oldest first; `reset` when the hub no longer holds them all. */
  private since(caller: LiveCaller, after: number, limit: number): { events: LiveEvent[]; reset: boolean } {
    const keptFrom = this.sql.exec<{ kept_from: number }>("SELECT kept_from FROM meta WHERE id = 1").toArray()[0]?.kept_from ?? 0;
    const events: LiveEvent[] = [];
    const rows = this.sql.exec<{ job_uuid: string | null; contractors: string; message: string }>(
      "SELECT job_uuid, contractors, message FROM events WHERE id > ? ORDER BY id",
      after,
    );
    for (const r of rows) {
      if (!mayReceive(caller, JSON.parse(r.contractors) as number[], r.job_uuid)) continue;
      events.push(JSON.parse(r.message) as LiveEvent);
      if (events.length >= limit) break;
    }
    return { events, reset: after < keptFrom };
  }

  /** GET /api/live/events: the same stream, polled. */
  async poll(caller: LiveCaller, after: number, limit: number): Promise<{ events: LiveEvent[]; next_after: number; reset: boolean }> {
    await this.feed();
    const newest = this.cursor();
    const { events, reset } = this.since(caller, after, limit);
    // Full page: resume after its last event; otherwise everything up to the cursor was looked at.
    const next_after = events.length >= limit ? (events.at(-1)?.id ?? after) : Math.max(after, newest);
    return { events, next_after, reset };
  }

  // ── tickets and sockets ───────────────────────────────────────────────────────────────────

  /** POST /api/live: a single-use ticket bound to the caller's token, and the newest event id. */
  async issueTicket(caller: LiveCaller & { tokenId: number }): Promise<{ ticket: string; expires_at: string; after: number }> {
    const now = this.services.clock.now().getTime();
    const ticket = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const expires = now + TICKET_TTL_SECONDS * 1000;
    this.sql.exec("DELETE FROM tickets WHERE expires_ms <= ?", now);
    this.sql.exec(
      "INSERT INTO tickets (hash, token_id, caller, expires_ms) VALUES (?, ?, ?, ?)",
      await hashToken(ticket),
      caller.tokenId,
      JSON.stringify({ userId: caller.userId, name: caller.name, role: caller.role, contractorId: caller.contractorId }),
      expires,
    );
    return { ticket, expires_at: toIsoSeconds(expires), after: await this.newest() };
  }

  /** Takes a ticket (once), checks its token is still good; the caller, or why not. */
  private async redeem(ticket: string, bearerHash: string | undefined): Promise<LiveCaller | HubRefusal> {
    const hash = await hashToken(ticket);
    const row = this.sql
      .exec<{ token_id: number; caller: string; expires_ms: number }>(
        "DELETE FROM tickets WHERE hash = ? RETURNING token_id, caller, expires_ms",
        hash,
      )
      .toArray()[0];
    if (!row) return { refused: { code: "UNAUTHORIZED", message: "Unknown or already used ticket: POST /api/live for a new one" } };
    const now = this.services.clock.now().getTime();
    if (row.expires_ms <= now) return { refused: { code: "UNAUTHORIZED", message: "Ticket has expired: POST /api/live for a new one" } };
    // The token may have been revoked, expired or its user disabled since the ticket was issued.
    const [token] = await this.services.db
      .select({
        tokenHash: apiTokens.tokenHash,
        revokedAt: apiTokens.revokedAt,
        expiresAt: apiTokens.expiresAt,
        disabledAt: users.disabledAt,
      })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(eq(apiTokens.id, row.token_id));
    if (bearerHash !== undefined && bearerHash !== token?.tokenHash) {
      return { refused: { code: "FORBIDDEN", message: "The ticket belongs to another API token" } };
    }
    if (!token || token.revokedAt || token.disabledAt || (token.expiresAt && Date.parse(token.expiresAt) <= now)) {
      return { refused: { code: "UNAUTHORIZED", message: "The ticket's API token is no longer valid" } };
    }
    return JSON.parse(row.caller) as LiveCaller;
  }

  /**
   * GET /api/live?ticket=…[&after=…], forwarded by the Worker (src/live/routes.ts) once it checked
   * the upgrade and the query; the hash of a bearer token the request carried comes as LIVE_BEARER_HASH.
   * Answers 101, or a refusal as {code, message} for the Worker's error envelope.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const ticket = url.searchParams.get("ticket") ?? "";
    const afterParam = url.searchParams.get("after");
    const after = afterParam === null ? undefined : Number(afterParam);
    const caller = await this.redeem(ticket, request.headers.get(LIVE_BEARER_HASH) ?? undefined);
    if ("refused" in caller) return Response.json(caller.refused, { status: caller.refused.code === "FORBIDDEN" ? 403 : 401 });
    await this.feed();
    // From here to the answer, synchronous: no event can be stored between the replay and registering.
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const who: Attachment = { ...caller, viewing: null };
    server.serializeAttachment(who);
    this.attachments.set(server, who);
    if (after !== undefined) {
      const { events, reset } = this.since(caller, after, Number.MAX_SAFE_INTEGER);
      if (reset) this.send(server, JSON.stringify({ kind: "reset", after: this.cursor() }));
      for (const e of events) this.send(server, JSON.stringify(e));
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let msg: { kind?: unknown; job_uuid?: unknown };
    try {
      msg = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
    } catch {
      return this.send(ws, JSON.stringify({ kind: "error", message: "Messages are JSON: {kind: 'viewing', job_uuid} or {kind: 'ping'}" }));
    }
    if (msg?.kind === "ping") return this.send(ws, '{"kind":"pong"}');
    if (msg?.kind !== "viewing") return this.send(ws, JSON.stringify({ kind: "error", message: "Unknown message kind" }));
    const who = this.attachment(ws);
    if (!who) return;
    const job = typeof msg.job_uuid === "string" && /^[0-9a-f-]{36}$/i.test(msg.job_uuid) ? msg.job_uuid.toLowerCase() : null;
    if (msg.job_uuid !== null && job === null)
      return this.send(ws, JSON.stringify({ kind: "error", message: "job_uuid: a job's uuid, or null" }));
    // Viewing a job it may not see would tell it who works on that job: refused as silently as an unknown job.
    if (job !== null && !(await this.maySee(who, job))) return;
    const before = who.viewing;
    if (before === job) return;
    const next = { ...who, viewing: job };
    ws.serializeAttachment(next);
    this.attachments.set(ws, next);
    if (before) this.presence(before);
    if (job) this.presence(job);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.closed(ws);
    try {
      ws.close(code === 1005 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.closed(ws);
  }

  private closed(ws: WebSocket): void {
    const who = this.attachment(ws);
    this.attachments.delete(ws);
    if (who?.viewing) this.presence(who.viewing, ws);
  }

  /** Whether this caller may see the job now (its contractor from D1; remembered for the feed). */
  private async maySee(who: LiveCaller, job: string): Promise<boolean> {
    if (mayReceive(who, [], "any")) return true;
    const [row] = await this.services.db.select({ contractorId: jobs.contractorId }).from(jobs).where(eq(jobs.uuid, job));
    if (!row) return false;
    this.sql.exec("INSERT OR REPLACE INTO owners (job_uuid, contractor_id) VALUES (?, ?)", job, row.contractorId);
    return mayReceive(who, row.contractorId === null ? [] : [row.contractorId], job);
  }

  /** Tells every socket that may see the job who is viewing it (without `gone`, a socket closing). */
  private presence(job: string, gone?: WebSocket): void {
    const sockets = this.ctx.getWebSockets().filter((ws) => ws !== gone);
    const viewers = new Map<number, string>();
    for (const ws of sockets) {
      const who = this.attachment(ws);
      if (who?.viewing === job) viewers.set(who.userId, who.name);
    }
    const owner = this.sql.exec<{ contractor_id: number | null }>("SELECT contractor_id FROM owners WHERE job_uuid = ?", job).toArray()[0];
    const contractors = owner?.contractor_id != null ? [owner.contractor_id] : [];
    const message: Presence = { kind: "presence", job_uuid: job, viewers: [...viewers].map(([user_id, name]) => ({ user_id, name })) };
    const text = JSON.stringify(message);
    for (const ws of sockets) {
      const who = this.attachment(ws);
      // A viewer sees the others on the job it views; everyone else who may see the job, too.
      if (who && (who.viewing === job || mayReceive(who, contractors, job))) this.send(ws, text);
    }
  }

  private attachment(ws: WebSocket): Attachment | undefined {
    let who = this.attachments.get(ws);
    if (!who) {
      who = (ws.deserializeAttachment() as Attachment | null) ?? undefined;
      if (who) this.attachments.set(ws, who);
    }
    return who;
  }

  private send(ws: WebSocket, text: string): void {
    try {
      ws.send(text);
    } catch {
      // closing: its close handler tidies up
    }
  }
}

export function liveHub(env: Env) {
  const ns = env.LIVE_HUB as unknown as DurableObjectNamespace<LiveHub>;
  return ns.get(ns.idFromName("live"));
}

/** Pokes the hub to read the outbox (after a write of any channel); never throws, never delays the answer. */
export function feedLive(services: Pick<Services, "env" | "waitUntil">): void {
  services.waitUntil(liveHub(services.env).feed());
}
