import { and, asc, eq, getTableColumns, gt, sql } from "drizzle-orm";
import { auditEvents, jobs, priorities, webhookDeliveries, webhookRelayCursor, webhookSubscriptions } from "../db/schema";
import { aliased } from "../db/select";
import { toIsoSeconds } from "../domain/time";
import { feedLive } from "../live/hub";
import type { Services } from "../platform/services";
import { subscribed, webhookEventsFor } from "./events";

/** One delivery to make: the queue message carries only the row id; the row holds the rest. */
export interface WebhookMessage {
  type: "webhook.deliver";
  deliveryId: number;
}

/** Audit events claimed per step, and steps per run (a run stays bounded; the next one continues). */
const CLAIM_SIZE = 100;
const MAX_STEPS = 10;
/** Delivery rows per INSERT statement (each carries its rows as one JSON parameter). */
const ROWS_PER_INSERT = 50;
/** A delivery never attempted this long after it was made lost its queue message: send it again. */
const STALLED_AFTER_MS = 10 * 60_000;

export interface RelayResult {
  /** Audit events this run claimed (moved the cursor past). */
  claimed: number;
  /** Delivery rows this run created and enqueued. */
  deliveries: number;
  /** No subscription was enabled. */
  idle?: boolean;
}

/**
 * The outbox relay: reads audit events past the cursor, claims them by moving the cursor with a
 * compare-and-set, and in the same D1 batch (one transaction) creates one delivery row per event
 * and matching subscription, but only if this run's claim won. So two relays running at once never
 * both deliver an event; a relay that dies after its batch leaves delivery rows the cron re-enqueues.
 */
export async function relayWebhookEvents(services: Services): Promise<RelayResult> {
  const db = services.db;
  const result: RelayResult = { claimed: 0, deliveries: 0 };
  for (let step = 0; step < MAX_STEPS; step++) {
    const cursor = sql`(SELECT ${webhookRelayCursor.lastEventId} FROM ${webhookRelayCursor} WHERE ${webhookRelayCursor.id} = 1)`;
    const [cursors, subs, events, priorityRows] = await db.batch([
      db.select({ lastEventId: webhookRelayCursor.lastEventId }).from(webhookRelayCursor).where(eq(webhookRelayCursor.id, 1)),
      db
        .select({ id: webhookSubscriptions.id, eventTypes: webhookSubscriptions.eventTypes, fromEventId: webhookSubscriptions.fromEventId })
        .from(webhookSubscriptions)
        .where(eq(webhookSubscriptions.enabled, true)),
      // With the job's reference, which every event carries (job_ref): stored with the event since
      // migration 0020, from the job row for older events.
      db
        .select(aliased({ ...getTableColumns(auditEvents), jobRef: sql<string | null>`coalesce(${auditEvents.jobRef}, ${jobs.jobRef})` }))
        .from(auditEvents)
        .leftJoin(jobs, eq(jobs.uuid, auditEvents.jobUuid))
        .where(gt(auditEvents.id, cursor))
        .orderBy(asc(auditEvents.id))
        .limit(CLAIM_SIZE),
      // Priority names for the payloads (a handful of rows).
      db.select({ id: priorities.id, name: priorities.name }).from(priorities),
    ]);
    const names = { priorities: new Map(priorityRows.map((p) => [p.id, p.name])) };
    const from = cursors[0]?.lastEventId;
    const last = events.at(-1);
    if (from === undefined || !last) break;
    if (subs.length === 0) {
      result.idle = true;
      // Nobody to deliver to, and a later subscription starts after its own creation (fromEventId):
      // skip to the newest event in one step instead of reading the backlog a page at a time.
      const skipped = await db
        .update(webhookRelayCursor)
        .set({
          lastEventId: sql`(SELECT coalesce(max(${auditEvents.id}), ${from}) FROM ${auditEvents})`,
          claim: null,
          updatedAt: services.clock.iso(),
        })
        .where(and(eq(webhookRelayCursor.id, 1), eq(webhookRelayCursor.lastEventId, from)));
      if (skipped.meta.changes > 0) result.claimed += events.length;
      break;
    }

    const rows: { uuid: string; subscription_id: number; audit_event_id: number; event_type: string; payload: string }[] = [];
    const filters = subs.map((s) => ({ ...s, types: parseTypes(s.eventTypes) }));
    for (const event of events) {
      for (const e of webhookEventsFor(event, names)) {
        const payload = JSON.stringify(e);
        for (const s of filters) {
          if (event.id <= s.fromEventId || !subscribed(s.types, e.type)) continue;
          rows.push({ uuid: crypto.randomUUID(), subscription_id: s.id, audit_event_id: event.id, event_type: e.type, payload });
        }
      }
    }

    const claim = crypto.randomUUID();
    const won = sql`(SELECT ${webhookRelayCursor.claim} FROM ${webhookRelayCursor} WHERE ${webhookRelayCursor.id} = 1) = ${claim}`;
    const now = services.clock.iso();
    const inserts = chunk(rows, ROWS_PER_INSERT).map((part) =>
      db
        .insert(webhookDeliveries)
        // Columns in table order: id, uuid, subscription_id, audit_event_id, event_type, payload, status,
        // attempts, response_status, latency_ms, last_error, last_attempt_at, delivered_at, created_at,
        // next_attempt_at (now: it is queued at once).
        .select(
          sql`SELECT NULL, value ->> 'uuid', value ->> 'subscription_id', value ->> 'audit_event_id', value ->> 'event_type',
            value ->> 'payload', 'pending', 0, NULL, NULL, NULL, NULL, NULL, ${now}, ${now}
            FROM json_each(${JSON.stringify(part)}) WHERE ${won}`,
        )
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.id }),
    );
    const [moved, ...made] = await db.batch([
      db
        .update(webhookRelayCursor)
        .set({ lastEventId: last.id, claim, updatedAt: now })
        .where(and(eq(webhookRelayCursor.id, 1), eq(webhookRelayCursor.lastEventId, from))),
      ...inserts,
    ]);
    if ((moved as D1Result).meta.changes === 0) continue; // another relay claimed this range: read again
    result.claimed += events.length;
    const ids = (made as { id: number }[][]).flat().map((r) => r.id);
    if (ids.length > 0) {
      await enqueue(services, ids);
      result.deliveries += ids.length;
    }
    if (events.length < CLAIM_SIZE) break;
  }
  return result;
}

/** Queues delivery messages (sendBatch takes at most 100). */
export async function enqueue(services: Services, ids: readonly number[]): Promise<void> {
  for (const part of chunk(ids, 100)) {
    await services.env.WEBHOOK_QUEUE.sendBatch(
      part.map((deliveryId) => ({ body: { type: "webhook.deliver", deliveryId } satisfies WebhookMessage })),
    );
  }
}

/** Catch-all for the cron: deliveries made but never attempted long after (their enqueue failed). */
export async function requeueStalled(services: Services, now = services.clock.now().getTime()): Promise<number> {
  const stalled = await services.db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
        sql`${webhookDeliveries.createdAt} < ${toIsoSeconds(now - STALLED_AFTER_MS)}`,
      ),
    )
    .limit(100);
  await enqueue(
    services,
    stalled.map((r) => r.id),
  );
  return stalled.length;
}

/** Runs the relay after a request, a queue batch or an inbound mail, without holding up the answer. */
/**
 * With no subscription, a write's relay only moves the cursor (two D1 round trips per write). So
 * an isolate that found none skips request-time relays for IDLE_MS: a subscription created on
 * another isolate meanwhile gets its first events from the next relay there or from the cron (each
 * minute) — later, never lost, as the outbox keeps them. A change made here resumes at once.
 */
const IDLE_MS = 10_000;
let idleUntil = 0;

/** A subscription was created, enabled or changed in this isolate: relay on the next write again. */
export function resumeWebhookRelay(): void {
  idleUntil = 0;
}

export function scheduleWebhookRelay(services: Services): void {
  // The live stream reads the same outbox (src/live/hub.ts), subscribers or not.
  feedLive(services);
  const ctx = services.executionCtx;
  if (!ctx || Date.now() < idleUntil) return;
  ctx.waitUntil(
    relayWebhookEvents(services).then(
      (result) => {
        if (result.idle) idleUntil = Date.now() + IDLE_MS;
      },
      (err) => console.error("webhook relay failed (the cron retries):", err instanceof Error ? err.message : err),
    ),
  );
}

/** The cron's pass: relay whatever is left, then re-enqueue stalled deliveries. Logs, never throws. */
export async function runWebhookCron(services: Services): Promise<void> {
  try {
    const relayed = await relayWebhookEvents(services);
    const requeued = await requeueStalled(services);
    if (relayed.claimed + requeued > 0) {
      console.log(`webhook relay: claimed ${relayed.claimed} events, ${relayed.deliveries} deliveries, requeued ${requeued}`);
    }
  } catch (err) {
    console.error("webhook relay (cron) failed:", err instanceof Error ? err.message : err);
  }
}

export function parseTypes(raw: string): string[] {
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((t): t is string => typeof t === "string") : [];
  } catch {
    return [];
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
