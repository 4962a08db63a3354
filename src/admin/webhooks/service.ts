import { and, count, desc, eq, ne, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { webhookDeliveries, webhookSubscriptions } from "../../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../../domain/errors";
import { newSecret, secretContext } from "../../webhooks/deliver";
import { enqueue, resumeWebhookRelay } from "../../webhooks/relay";
import { checkTargetForDelivery } from "../../webhooks/target";
import type { CreateWebhook, UpdateWebhook } from "./schemas";
import { toDelivery, toSubscription } from "./view";

/**
 * The webhook admin API. Every write is one `db.batch`, so a request's Idempotency-Key is marked
 * committed with the change itself (src/http/idempotency.ts): a Worker dying before the answer is
 * stored never runs the change twice.
 */

const ADMISSION: Admission = { permission: "api.admin.webhooks" };

type SubscriptionInfo = ReturnType<typeof toSubscription>;
type Page<T> = { data: T[]; count: number };

/** Subscriptions, newest first: one page and the count. */
export const listWebhooks = useCase(ADMISSION, async (scope, page: { limit: number; offset: number }): Promise<Page<SubscriptionInfo>> => {
  const db = scope.db;
  const [rows, [total]] = await scope.read([
    db.select().from(webhookSubscriptions).orderBy(desc(webhookSubscriptions.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(webhookSubscriptions),
  ]);
  return { data: rows.map(toSubscription), count: total?.n ?? 0 };
});

/** One subscription (never its secret). */
export const getWebhook = useCase(ADMISSION, async (scope, input: { uuid: string }): Promise<SubscriptionInfo> => {
  const [rows] = await scope.read([scope.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, input.uuid))]);
  const row = rows[0];
  if (!row) throw notFound("Webhook subscription");
  return toSubscription(row);
});

export interface DeliveriesInput {
  subscription_uuid: string;
  status?: (typeof webhookDeliveries.$inferSelect)["status"];
  limit: number;
  offset: number;
}

/** One subscription's delivery log, newest first: one page and the count (404 for an unknown subscription). */
export const listWebhookDeliveries = useCase(
  ADMISSION,
  async (scope, query: DeliveriesInput): Promise<Page<ReturnType<typeof toDelivery>>> => {
    const db = scope.db;
    const where = and(
      eq(webhookSubscriptions.uuid, query.subscription_uuid),
      query.status ? eq(webhookDeliveries.status, query.status) : undefined,
    );
    const [subs, rows, [total]] = await scope.read([
      db.select({ id: webhookSubscriptions.id }).from(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, query.subscription_uuid)),
      db
        .select({ d: webhookDeliveries })
        .from(webhookDeliveries)
        .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
        .where(where)
        .orderBy(desc(webhookDeliveries.id))
        .limit(query.limit)
        .offset(query.offset),
      db
        .select({ n: count() })
        .from(webhookDeliveries)
        .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
        .where(where),
    ]);
    if (subs.length === 0) throw notFound("Webhook subscription");
    return { data: rows.map((r) => toDelivery(r.d)), count: total?.n ?? 0 };
  },
);

/** The target as it will be called: https and public (400 on url), or 503 when its host cannot be checked. */
async function checkUrl(scope: Scope, url: string) {
  let check: Awaited<ReturnType<typeof checkTargetForDelivery>>;
  try {
    check = await checkTargetForDelivery(scope.services.env, url);
  } catch (err) {
    throw new ApiError("UNAVAILABLE", `The target's host name could not be checked: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!check.ok) throw badRequest(`url: ${check.reason}`, [{ field: "url", message: check.reason }]);
  return check.url.toString();
}

async function loadSubscription(scope: Scope, uuid: string) {
  const row = await scope.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, uuid)).get();
  if (!row) throw notFound("Webhook subscription");
  return row;
}

/** Sets a subscription's columns in one batch (404 when it is gone meanwhile). */
async function setSubscription(scope: Scope, uuid: string, values: Partial<typeof webhookSubscriptions.$inferInsert>) {
  const [[row]] = await scope.db.batch([
    scope.db
      .update(webhookSubscriptions)
      .set({ ...values, updatedAt: scope.services.clock.iso() })
      .where(eq(webhookSubscriptions.uuid, uuid))
      .returning(),
  ]);
  if (!row) throw notFound("Webhook subscription");
  return toSubscription(row);
}

const eventTypesText = (types: readonly string[]) => JSON.stringify([...new Set(types)]);

/** A new subscription and its whsec_ secret (stored encrypted; in this answer only). */
export const createWebhook = useCase(
  ADMISSION,
  async (scope, body: Omit<CreateWebhook, "action">): Promise<{ subscription: SubscriptionInfo; secret: string }> => {
    resumeWebhookRelay();
    const url = await checkUrl(scope, body.url);
    const uuid = crypto.randomUUID();
    const secret = newSecret();
    const cipher = await scope.services.cipher();
    const now = scope.services.clock.iso();
    const [[row]] = await scope.db.batch([
      scope.db
        .insert(webhookSubscriptions)
        .values({
          uuid,
          url,
          description: body.description ?? null,
          eventTypes: eventTypesText(body.event_types),
          enabled: body.enabled,
          secret: await cipher.encrypt(secretContext(uuid), secret),
          // Events already written are not sent to a subscription made after them.
          fromEventId: sql`(SELECT coalesce(max(id), 0) FROM audit_events)`,
          createdBy: scope.caller.userId,
          createdAt: now,
          updatedAt: now,
        })
        .returning(),
    ]);
    if (!row) throw new ApiError("INTERNAL", "Webhook subscription was not created");
    return { subscription: toSubscription(row), secret };
  },
);

/** Changes a subscription's url, event types, description or enabled (400 when none is sent). */
export const updateWebhook = useCase(
  ADMISSION,
  async (scope, body: Omit<UpdateWebhook, "action">): Promise<{ subscription: SubscriptionInfo }> => {
    resumeWebhookRelay();
    const { uuid, url, event_types, description, enabled } = body;
    if ([url, event_types, description, enabled].every((v) => v === undefined))
      throw badRequest("Nothing to update: send url, event_types, description or enabled");
    await loadSubscription(scope, uuid);
    const checked = url === undefined ? undefined : await checkUrl(scope, url);
    const subscription = await setSubscription(scope, uuid, {
      url: checked,
      eventTypes: event_types === undefined ? undefined : eventTypesText(event_types),
      description,
      enabled,
    });
    return { subscription };
  },
);

/** Deletes a subscription with its delivery log. */
export const deleteWebhook = useCase(ADMISSION, async (scope, input: { uuid: string }): Promise<Record<string, never>> => {
  resumeWebhookRelay();
  const [deleted] = await scope.db.batch([
    scope.db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, input.uuid)).returning({ id: webhookSubscriptions.id }),
  ]);
  if (deleted.length === 0) throw notFound("Webhook subscription");
  return {};
});

/** A new signing secret for a subscription (in this answer only); deliveries from now on are signed with it. */
export const rotateWebhookSecret = useCase(
  ADMISSION,
  async (scope, input: { uuid: string }): Promise<{ subscription: SubscriptionInfo; secret: string }> => {
    resumeWebhookRelay();
    await loadSubscription(scope, input.uuid);
    const secret = newSecret();
    const cipher = await scope.services.cipher();
    const subscription = await setSubscription(scope, input.uuid, { secret: await cipher.encrypt(secretContext(input.uuid), secret) });
    return { subscription, secret };
  },
);

/** Sends a delivered or failed delivery again, with the same webhook-id (409 while it is pending). */
export const redeliverWebhook = useCase(ADMISSION, async (scope, input: { uuid: string }): Promise<{ delivery_uuid: string }> => {
  const db = scope.db;
  const row = await db
    .select({ id: webhookDeliveries.id, status: webhookDeliveries.status })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.uuid, input.uuid))
    .get();
  if (!row) throw notFound("Webhook delivery");
  // Guarded: of two redeliveries at once only one queues the delivery.
  const [reset] = await db.batch([
    db
      .update(webhookDeliveries)
      .set({ status: "pending", deliveredAt: null, nextAttemptAt: scope.services.clock.iso() })
      .where(and(eq(webhookDeliveries.id, row.id), ne(webhookDeliveries.status, "pending")))
      .returning({ id: webhookDeliveries.id }),
  ]);
  if (reset.length === 0) throw conflict("This delivery is already pending: it is being delivered");
  await enqueue(scope.services, [row.id]);
  return { delivery_uuid: input.uuid };
});
