import { z } from "@hono/zod-openapi";
import { and, eq, ne, sql } from "drizzle-orm";
import { webhookDeliveries, webhookSubscriptions } from "../../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../../domain/errors";
import { nowIso } from "../../domain/time";
import { done } from "../../http/envelope";
import { MessageOnly } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { newSecret, secretContext } from "../../webhooks/deliver";
import { enqueue, resumeWebhookRelay } from "../../webhooks/relay";
import { checkTargetForDelivery } from "../../webhooks/target";
import { type CreateWebhook, redeliverBody, Subscription, type UpdateWebhook, webhooksBody } from "./schemas";
import { toSubscription } from "./view";

const WithSecret = z.object({
  success: z.literal(true),
  subscription: Subscription,
  secret: z
    .string()
    .openapi({ description: "The whsec_ signing secret: shown only in this answer", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
  message: z.string(),
});

export const postWebhooks = operation({
  method: "post",
  path: "/api/admin/webhooks",
  operationId: "manageWebhookSubscriptions",
  summary: "Create, update, delete a webhook subscription, or rotate its signing secret (action=create|update|delete|rotate_secret)",
  description:
    "`create` and `rotate_secret` answer with the `whsec_` secret once; it is stored encrypted and never shown again. " +
    "`event_types` filters what is sent (empty: every type). Targets must be https and public; redirects are not followed.",
  tag: "Admin",
  permission: "api.admin.webhooks",
  body: webhooksBody,
  actions: ["create", "update", "delete", "rotate_secret"],
  responses: {
    200: jsonResponse(
      "Updated, deleted, or the secret rotated (with the new secret)",
      z.union([WithSecret, MessageOnly.extend({ subscription: Subscription.optional() })]),
    ),
    201: jsonResponse("Created (with the secret)", WithSecret),
  },
  handler: async (c, { body }) => {
    resumeWebhookRelay();
    switch (body.action) {
      case "create":
        return createSubscription(c, body);
      case "update":
        return updateSubscription(c, body);
      case "delete":
        return deleteSubscription(c, body.uuid);
      case "rotate_secret":
        return rotateSecret(c, body.uuid);
    }
  },
});

async function checkUrl(c: AppContext, url: string) {
  let check: Awaited<ReturnType<typeof checkTargetForDelivery>>;
  try {
    check = await checkTargetForDelivery(c.env, url);
  } catch (err) {
    throw new ApiError("UNAVAILABLE", `The target's host name could not be checked: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!check.ok) throw badRequest(`url: ${check.reason}`, [{ field: "url", message: check.reason }]);
  return check.url.toString();
}

async function loadSubscription(c: AppContext, uuid: string) {
  const row = await c.var.ctx.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, uuid)).get();
  if (!row) throw notFound("Webhook subscription");
  return row;
}

async function createSubscription(c: AppContext, body: CreateWebhook) {
  const ctx = c.var.ctx;
  const url = await checkUrl(c, body.url);
  const uuid = crypto.randomUUID();
  const secret = newSecret();
  const cipher = await ctx.cipher();
  const now = nowIso();
  const [row] = await ctx.db
    .insert(webhookSubscriptions)
    .values({
      uuid,
      url,
      description: body.description ?? null,
      eventTypes: JSON.stringify([...new Set(body.event_types)]),
      enabled: body.enabled,
      secret: await cipher.encrypt(secretContext(uuid), secret),
      // Events already written are not sent to a subscription made after them.
      fromEventId: sql`(SELECT coalesce(max(id), 0) FROM audit_events)`,
      createdBy: ctx.caller.userId,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  if (!row) throw new ApiError("INTERNAL", "Webhook subscription was not created");
  return done(
    c,
    "Webhook subscription created: store the secret now, it is not shown again",
    { subscription: toSubscription(row), secret },
    201,
  );
}

async function updateSubscription(c: AppContext, body: UpdateWebhook) {
  const ctx = c.var.ctx;
  const { action: _a, uuid, ...fields } = body;
  if (Object.values(fields).every((v) => v === undefined))
    throw badRequest("Nothing to update: send url, event_types, description or enabled");
  await loadSubscription(c, uuid);
  const url = fields.url === undefined ? undefined : await checkUrl(c, fields.url);
  const [row] = await ctx.db
    .update(webhookSubscriptions)
    .set({
      url,
      eventTypes: fields.event_types === undefined ? undefined : JSON.stringify([...new Set(fields.event_types)]),
      description: fields.description,
      enabled: fields.enabled,
      updatedAt: nowIso(),
    })
    .where(eq(webhookSubscriptions.uuid, uuid))
    .returning();
  if (!row) throw notFound("Webhook subscription");
  return done(c, "Webhook subscription updated", { subscription: toSubscription(row) });
}

async function deleteSubscription(c: AppContext, uuid: string) {
  const deleted = await c.var.ctx.db
    .delete(webhookSubscriptions)
    .where(eq(webhookSubscriptions.uuid, uuid))
    .returning({ id: webhookSubscriptions.id });
  if (deleted.length === 0) throw notFound("Webhook subscription");
  return done(c, "Webhook subscription deleted (with its delivery log)");
}

async function rotateSecret(c: AppContext, uuid: string) {
  const ctx = c.var.ctx;
  await loadSubscription(c, uuid);
  const secret = newSecret();
  const cipher = await ctx.cipher();
  const [row] = await ctx.db
    .update(webhookSubscriptions)
    .set({ secret: await cipher.encrypt(secretContext(uuid), secret), updatedAt: nowIso() })
    .where(eq(webhookSubscriptions.uuid, uuid))
    .returning();
  if (!row) throw notFound("Webhook subscription");
  return done(c, "Secret rotated: deliveries from now on are signed with it; store it now, it is not shown again", {
    subscription: toSubscription(row),
    secret,
  });
}

export const postWebhookDeliveries = operation({
  method: "post",
  path: "/api/admin/webhooks/deliveries",
  operationId: "redeliverWebhook",
  summary: "Send a delivered or failed delivery again (action=redeliver), with the same webhook-id",
  tag: "Admin",
  permission: "api.admin.webhooks",
  body: redeliverBody,
  actions: ["redeliver"],
  responses: { 202: jsonResponse("Queued for delivery", MessageOnly.extend({ delivery_uuid: z.string() })) },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const row = await ctx.db
      .select({ id: webhookDeliveries.id, status: webhookDeliveries.status })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.uuid, body.uuid))
      .get();
    if (!row) throw notFound("Webhook delivery");
    // Guarded: of two redeliveries at once only one queues the delivery.
    const reset = await ctx.db
      .update(webhookDeliveries)
      .set({ status: "pending", deliveredAt: null })
      .where(and(eq(webhookDeliveries.id, row.id), ne(webhookDeliveries.status, "pending")))
      .returning({ id: webhookDeliveries.id });
    if (reset.length === 0) throw conflict("This delivery is already pending: it is being delivered");
    await enqueue(ctx.services, [row.id]);
    return done(c, "Delivery queued again", { delivery_uuid: body.uuid }, 202);
  },
});
