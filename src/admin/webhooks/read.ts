import { z } from "@hono/zod-openapi";
import { ok } from "../../http/envelope";
import { dataEnvelope, listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { Delivery, deliveriesQuery, Subscription, webhooksQuery } from "./schemas";
import { getWebhook, listWebhookDeliveries, listWebhooks } from "./service";

export const getWebhooks = operation({
  method: "get",
  path: "/api/admin/webhooks",
  operationId: "listOrGetWebhookSubscriptions",
  summary: "List webhook subscriptions (action=list) or read one (action=get&uuid=…)",
  description:
    "Signed webhooks (Standard Webhooks): see the README's section for integrators. The signing secret is never returned here; it is shown once on create and rotate_secret.",
  tag: "Admin",
  permission: listWebhooks.admission.permission,
  query: webhooksQuery,
  actions: ["list", "get"],
  responses: {
    200: jsonResponse("A page of subscriptions, or one", z.union([listEnvelope(Subscription), dataEnvelope(Subscription)])),
  },
  handler: async (c, { query }) => {
    if (query.action === "get") return ok(c, await getWebhook(c.var.ctx, query));
    const { data, count } = await listWebhooks(c.var.ctx, query);
    return ok(c, data, { count });
  },
});

export const getWebhookDeliveries = operation({
  method: "get",
  path: "/api/admin/webhooks/deliveries",
  operationId: "listWebhookDeliveries",
  summary: "The delivery log of one subscription, newest first (status, attempts, response, latency, last error)",
  tag: "Admin",
  permission: listWebhookDeliveries.admission.permission,
  query: deliveriesQuery,
  responses: { 200: jsonResponse("A page of deliveries", listEnvelope(Delivery)) },
  handler: async (c, { query }) => {
    const { data, count } = await listWebhookDeliveries(c.var.ctx, query);
    return ok(c, data, { count });
  },
});
