import { z } from "@hono/zod-openapi";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, OK, WEBHOOK } from "../../http/openapi-samples";
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
  docs: {
    query: { action: "list" },
    responses: {
      200: {
        list: ex("Subscriptions (action=list)", { success: true, data: [WEBHOOK], count: 1, message: OK }),
        get: ex("One subscription (action=get)", { success: true, data: WEBHOOK, message: OK }),
      },
    },
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
  docs: {
    query: { subscription_uuid: WEBHOOK.uuid, status: "failed", limit: 50, offset: 0 },
    responses: {
      200: {
        deliveries: ex("The delivery log of a subscription", {
          success: true,
          data: [
            {
              uuid: "550e8400-e29b-41d4-a716-446655440802",
              webhook_id: "msg_550e8400-e29b-41d4-a716-446655440802",
              event_type: "job.created",
              status: "failed",
              attempts: 9,
              response_status: 500,
              latency_ms: 312,
              last_error: "HTTP 500",
              last_attempt_at: "2024-06-02T09:00:00Z",
              delivered_at: null,
              created_at: "2024-06-01T09:00:00Z",
              payload: { type: "job.created", timestamp: "2024-06-01T09:00:00Z", data: { job_uuid: JOB_UUID } },
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
});
