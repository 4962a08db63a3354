import { z } from "@hono/zod-openapi";
import { and, count, desc, eq } from "drizzle-orm";
import { webhookDeliveries, webhookSubscriptions } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { ok } from "../../http/envelope";
import { dataEnvelope, listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { Delivery, deliveriesQuery, Subscription, webhooksQuery } from "./schemas";
import { toDelivery, toSubscription } from "./view";

export const getWebhooks = operation({
  method: "get",
  path: "/api/admin/webhooks",
  operationId: "listOrGetWebhookSubscriptions",
  summary: "List webhook subscriptions (action=list) or read one (action=get&uuid=…)",
  description:
    "Signed webhooks (Standard Webhooks): see the README's section for integrators. The signing secret is never returned here; it is shown once on create and rotate_secret.",
  tag: "Admin",
  permission: "api.admin.webhooks",
  query: webhooksQuery,
  actions: ["list", "get"],
  responses: {
    200: jsonResponse("A page of subscriptions, or one", z.union([listEnvelope(Subscription), dataEnvelope(Subscription)])),
  },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    if (query.action === "get") {
      const [rows] = await ctx.read([db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.uuid, query.uuid))]);
      const row = rows[0];
      if (!row) throw notFound("Webhook subscription");
      return ok(c, toSubscription(row));
    }
    const [rows, [total]] = await ctx.read([
      db.select().from(webhookSubscriptions).orderBy(desc(webhookSubscriptions.id)).limit(query.limit).offset(query.offset),
      db.select({ n: count() }).from(webhookSubscriptions),
    ]);
    return ok(c, rows.map(toSubscription), { count: total?.n ?? 0 });
  },
});

export const getWebhookDeliveries = operation({
  method: "get",
  path: "/api/admin/webhooks/deliveries",
  operationId: "listWebhookDeliveries",
  summary: "The delivery log of one subscription, newest first (status, attempts, response, latency, last error)",
  tag: "Admin",
  permission: "api.admin.webhooks",
  query: deliveriesQuery,
  responses: { 200: jsonResponse("A page of deliveries", listEnvelope(Delivery)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const where = and(
      eq(webhookSubscriptions.uuid, query.subscription_uuid),
      query.status ? eq(webhookDeliveries.status, query.status) : undefined,
    );
    const [subs, rows, [total]] = await ctx.read([
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
    return ok(
      c,
      rows.map((r) => toDelivery(r.d)),
      { count: total?.n ?? 0 },
    );
  },
});
