import { and, eq, inArray, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { type FieldCipher, fieldCipher } from "../crypto/fields";
import { webhookDeliveries, webhookSubscriptions } from "../db/schema";
import { toIsoSeconds } from "../domain/time";
import type { Services } from "../platform/services";
import type { WebhookMessage } from "./relay";
import { checkTargetForDelivery } from "./target";

/** A receiver has this long to answer; Standard Webhooks receivers should answer fast and work later. */
const TIMEOUT_MS = 10_000;
/** Backoff between attempts: 5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h (capped at 12 h, the queue's maximum). */
export const retryDelaySeconds = (attempts: number) => Math.min(5 * 4 ** Math.max(0, attempts - 1), 43_200);
const USER_AGENT = "PropOps-Webhooks/1 (+standard-webhooks)";

export const secretContext = (subscriptionUuid: string) => ({
  table: "webhook_subscriptions",
  column: "secret",
  rowUuid: subscriptionUuid,
});

/** A new signing secret: whsec_ + base64 of 32 random bytes, as Standard Webhooks defines. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}

/** The headers of one signed request: webhook-id is stable per event and subscription. */
export function signedHeaders(secret: string, deliveryUuid: string, payload: string, at: Date): Record<string, string> {
  const id = `msg_${deliveryUuid}`;
  return {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, payload),
  };
}

export type DeliveryOutcome = "delivered" | "retry" | "failed" | "skipped";

export interface DeliverOptions {
  /** Outbound HTTP (tests pass a recorder; production the global fetch). */
  fetcher?: typeof fetch;
  cipher?: FieldCipher;
  /** The backoff the queue will wait before the next attempt if this one fails (the log's next_attempt_at). */
  retryDelaySeconds?: number;
}

/**
 * One attempt at one delivery: checks the target again, signs the stored payload, POSTs it without
 * following redirects, and records the attempt on the delivery row (the delivery log). "retry"
 * asks the queue for another attempt; a refused target or a disabled subscription fails at once.
 */
export async function deliverWebhook(services: Services, deliveryId: number, options: DeliverOptions = {}): Promise<DeliveryOutcome> {
  const { env, db } = services;
  const row = await db
    .select({ delivery: webhookDeliveries, sub: webhookSubscriptions })
    .from(webhookDeliveries)
    .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
    .where(eq(webhookDeliveries.id, deliveryId))
    .get();
  // Deleted with its subscription, or already delivered (Queues deliver at least once).
  if (row?.delivery.status !== "pending") return "skipped";
  const { delivery, sub } = row;
  const fetcher = options.fetcher ?? fetch;

  const record = async (
    outcome: "delivered" | "retry" | "failed",
    fields: { responseStatus?: number | null; latencyMs?: number | null; error?: string | null; attempted: boolean },
  ) => {
    const at = services.clock.now();
    const now = toIsoSeconds(at.getTime());
    const retryIn = options.retryDelaySeconds ?? retryDelaySeconds(delivery.attempts + 1);
    await db
      .update(webhookDeliveries)
      .set({
        status: outcome === "retry" ? "pending" : outcome,
        attempts: fields.attempted ? sql`${webhookDeliveries.attempts} + 1` : webhookDeliveries.attempts,
        responseStatus: fields.responseStatus ?? null,
        latencyMs: fields.latencyMs ?? null,
        lastError: fields.error ? fields.error.slice(0, 500) : null,
        lastAttemptAt: fields.attempted ? now : webhookDeliveries.lastAttemptAt,
        deliveredAt: outcome === "delivered" ? now : null,
        nextAttemptAt: outcome === "retry" ? toIsoSeconds(at.getTime() + retryIn * 1000) : null,
      })
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, "pending")));
    return outcome;
  };

  if (!sub.enabled) return record("failed", { error: "subscription is disabled", attempted: false });
  const target = await checkTargetForDelivery(env, sub.url, fetcher);
  if (!target.ok) return record("failed", { error: `target refused: ${target.reason}`, attempted: false });

  const cipher = options.cipher ?? (await fieldCipher(env));
  const secret = await cipher.decrypt(secretContext(sub.uuid), sub.secret);
  const started = Date.now();
  let res: Response;
  try {
    res = await fetcher(target.url.toString(), {
      method: "POST",
      headers: signedHeaders(secret, delivery.uuid, delivery.payload, services.clock.now()),
      body: delivery.payload,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return record("retry", { latencyMs: Date.now() - started, error: `request failed: ${message}`, attempted: true });
  }
  const latencyMs = Date.now() - started;
  await res.body?.cancel();
  if (res.status >= 200 && res.status < 300) return record("delivered", { responseStatus: res.status, latencyMs, attempted: true });
  const error = res.status >= 300 && res.status < 400 ? `HTTP ${res.status}: redirects are not followed` : `HTTP ${res.status}`;
  return record("retry", { responseStatus: res.status, latencyMs, error, attempted: true });
}

/**
 * The webhook queue consumer: one attempt per message; a failed attempt retries with backoff.
 *
 * Subscriptions are isolated from each other: a batch's deliveries are grouped by subscription and
 * the groups run concurrently, so a receiver that hangs until its 10 s timeout delays only its own
 * deliveries. Within a group they run one after another, in message order; once one of them fails,
 * the rest of the group is not attempted in this batch but retried after it (keeps the
 * subscription's order, and bounds the batch to one timeout per failing receiver instead of one per
 * delivery: the queue hands out the next batch only when this one is done).
 */
export async function consumeWebhooks(
  batch: MessageBatch<WebhookMessage>,
  services: Services,
  options: DeliverOptions = {},
): Promise<void> {
  const groups = await groupBySubscription(services, batch.messages);
  await Promise.all(
    groups.map(async (messages) => {
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i] as Message<WebhookMessage>;
        let outcome: DeliveryOutcome | "error";
        try {
          outcome = await deliverWebhook(services, message.body.deliveryId, {
            ...options,
            retryDelaySeconds: retryDelaySeconds(message.attempts),
          });
        } catch (err) {
          console.error(
            `webhook delivery ${message.body?.deliveryId} failed, attempt ${message.attempts}:`,
            err instanceof Error ? err.message : err,
          );
          outcome = "error";
        }
        if (outcome !== "retry" && outcome !== "error") {
          message.ack();
          continue;
        }
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        const behind = messages.slice(i + 1);
        for (const m of behind) m.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        await noteDeferred(services, behind, retryDelaySeconds(message.attempts));
        return;
      }
    }),
  );
}

/** The batch's messages per subscription (message order kept); unknown deliveries form their own groups. */
async function groupBySubscription(services: Services, messages: readonly Message<WebhookMessage>[]): Promise<Message<WebhookMessage>[][]> {
  const ids = [...new Set(messages.map((m) => m.body?.deliveryId).filter((id): id is number => Number.isInteger(id)))];
  let owner = new Map<number, number>();
  try {
    if (ids.length > 0) {
      const found = await services.db
        .select({ id: webhookDeliveries.id, subscriptionId: webhookDeliveries.subscriptionId })
        .from(webhookDeliveries)
        .where(inArray(webhookDeliveries.id, ids));
      owner = new Map(found.map((r) => [r.id, r.subscriptionId]));
    }
  } catch (err) {
    // Not knowing the owners only costs the isolation: each message then runs on its own, concurrently.
    console.error("webhook batch: could not group deliveries by subscription:", err instanceof Error ? err.message : err);
  }
  const groups = new Map<string, Message<WebhookMessage>[]>();
  for (const m of messages) {
    const sub = owner.get(m.body?.deliveryId);
    const key = sub === undefined ? `message:${m.id}` : `subscription:${sub}`;
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  return [...groups.values()];
}

/** Says in the delivery log why a delivery waits (kept if it has a reason of its own already). */
async function noteDeferred(services: Services, messages: readonly Message<WebhookMessage>[], delaySeconds: number): Promise<void> {
  const ids = messages.map((m) => m.body?.deliveryId).filter((id): id is number => Number.isInteger(id));
  if (ids.length === 0) return;
  try {
    await services.db
      .update(webhookDeliveries)
      .set({
        lastError: sql`coalesce(${webhookDeliveries.lastError}, ${DEFERRED})`,
        nextAttemptAt: toIsoSeconds(services.clock.now().getTime() + delaySeconds * 1000),
      })
      .where(and(inArray(webhookDeliveries.id, ids), eq(webhookDeliveries.status, "pending")));
  } catch (err) {
    console.error("webhook batch: could not note deferred deliveries:", err instanceof Error ? err.message : err);
  }
}

const DEFERRED = "not attempted yet: an earlier delivery to this subscription failed";

/** Dead letters: the delivery failed every retry; the log says so and it can be redelivered on request. */
export async function consumeWebhookDeadLetters(batch: MessageBatch<WebhookMessage>, services: Services): Promise<void> {
  const db = services.db;
  for (const message of batch.messages) {
    try {
      await db
        .update(webhookDeliveries)
        .set({
          status: "failed",
          lastError: sql`'gave up after ' || ${webhookDeliveries.attempts} || ' attempts: ' || coalesce(${webhookDeliveries.lastError}, 'unknown error')`,
        })
        .where(and(eq(webhookDeliveries.id, message.body.deliveryId), eq(webhookDeliveries.status, "pending")));
      message.ack();
    } catch (err) {
      console.error(`could not record webhook dead letter ${message.id}:`, err instanceof Error ? err.message : err);
      message.retry();
    }
  }
}
