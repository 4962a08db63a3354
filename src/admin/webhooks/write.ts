import { z } from "@hono/zod-openapi";
import { done } from "../../http/envelope";
import { ex, WEBHOOK, WHSEC } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { redeliverBody, Subscription, webhooksBody } from "./schemas";
import { createWebhook, deleteWebhook, redeliverWebhook, rotateWebhookSecret, updateWebhook } from "./service";

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
  permission: createWebhook.admission.permission,
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
    const ctx = c.var.ctx;
    switch (body.action) {
      case "create":
        return done(c, "Webhook subscription created: store the secret now, it is not shown again", await createWebhook(ctx, body), 201);
      case "update":
        return done(c, "Webhook subscription updated", await updateWebhook(ctx, body));
      case "delete":
        return done(c, "Webhook subscription deleted (with its delivery log)", await deleteWebhook(ctx, body));
      case "rotate_secret":
        return done(
          c,
          "Secret rotated: deliveries from now on are signed with it; store it now, it is not shown again",
          await rotateWebhookSecret(ctx, body),
        );
    }
  },
  docs: {
    body: {
      create: ex("Subscribe to job and SLA events", {
        action: "create",
        url: "https://integrator.example.com/hooks/propops",
        event_types: ["job.created", "job.status_changed", "sla.breached"],
        description: "Ops board",
      }),
      update: ex("Pause a subscription", { action: "update", uuid: WEBHOOK.uuid, enabled: false }),
      rotate: ex("Rotate the signing secret", { action: "rotate_secret", uuid: WEBHOOK.uuid }),
      delete: ex("Delete a subscription", { action: "delete", uuid: WEBHOOK.uuid }),
    },
    responses: {
      201: {
        created: ex("Created: the secret is shown once", {
          success: true,
          subscription: WEBHOOK,
          secret: WHSEC,
          message: "Webhook subscription created",
        }),
      },
      200: {
        rotated: ex("Secret rotated: the new secret is shown once", {
          success: true,
          subscription: WEBHOOK,
          secret: WHSEC,
          message: "Signing secret rotated",
        }),
        updated: ex("Updated", { success: true, subscription: { ...WEBHOOK, enabled: false }, message: "Webhook subscription updated" }),
      },
    },
  },
});

export const postWebhookDeliveries = operation({
  method: "post",
  path: "/api/admin/webhooks/deliveries",
  operationId: "redeliverWebhook",
  summary: "Send a delivered or failed delivery again (action=redeliver), with the same webhook-id",
  tag: "Admin",
  permission: redeliverWebhook.admission.permission,
  body: redeliverBody,
  actions: ["redeliver"],
  responses: { 202: jsonResponse("Queued for delivery", MessageOnly.extend({ delivery_uuid: z.string() })) },
  handler: async (c, { body }) => done(c, "Delivery queued again", await redeliverWebhook(c.var.ctx, body), 202),
  docs: {
    conflict: true,
    body: {
      redeliver: ex("Send a delivery again (same webhook-id)", { action: "redeliver", uuid: "550e8400-e29b-41d4-a716-446655440802" }),
    },
    responses: {
      202: {
        queued: ex("Queued for delivery", {
          success: true,
          delivery_uuid: "550e8400-e29b-41d4-a716-446655440802",
          message: "Delivery queued again",
        }),
      },
    },
  },
});
