import { z } from "@hono/zod-openapi";
import { listFromText, zBool, zNullableText, zPagination, zUuid } from "../../domain/values";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";

/** Event types: a JSON array, repeated form keys, "a,b" or "[\"a\",\"b\"]"; empty = every type. */
const zEventTypes = () =>
  z.preprocess(
    listFromText,
    z
      .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be event types from: ${WEBHOOK_EVENT_TYPES.join(", ")}` }), {
        error: "must be a list of event types",
      })
      .max(WEBHOOK_EVENT_TYPES.length),
  );

const zUrl = () =>
  z.string({ error: "must be a URL" }).trim().min(1, "is required").max(2000, "must be at most 2000 characters").openapi({
    description: "https URL to POST events to (production refuses private, loopback and link-local targets)",
    example: "https://integrator.example.com/hooks/propops",
  });

export const createWebhookBody = z.strictObject({
  action: z.literal("create"),
  url: zUrl(),
  event_types: zEventTypes().default([]),
  description: zNullableText(200).optional(),
  enabled: zBool().default(true),
});

export const updateWebhookBody = z.strictObject({
  action: z.literal("update"),
  uuid: zUuid(),
  url: zUrl().optional(),
  event_types: zEventTypes().optional(),
  description: zNullableText(200).optional(),
  enabled: zBool().optional(),
});

export const deleteWebhookBody = z.strictObject({ action: z.literal("delete"), uuid: zUuid() });
export const rotateWebhookBody = z.strictObject({ action: z.literal("rotate_secret"), uuid: zUuid() });

export const webhooksBody = z.discriminatedUnion("action", [createWebhookBody, updateWebhookBody, deleteWebhookBody, rotateWebhookBody]);
export type CreateWebhook = z.infer<typeof createWebhookBody>;
export type UpdateWebhook = z.infer<typeof updateWebhookBody>;

export const webhooksQuery = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("list"), ...zPagination }),
  z.strictObject({ action: z.literal("get"), uuid: zUuid() }),
]);

export const deliveriesQuery = z.strictObject({
  subscription_uuid: zUuid(),
  status: z.enum(["pending", "delivered", "failed"], { error: "must be pending, delivered or failed" }).optional(),
  ...zPagination,
});

export const redeliverBody = z.strictObject({ action: z.literal("redeliver"), uuid: zUuid() });

export const Subscription = z
  .object({
    uuid: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.enum(WEBHOOK_EVENT_TYPES)).openapi({ description: "Empty: every event type" }),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookSubscription");

export const Delivery = z
  .object({
    uuid: z.string(),
    webhook_id: z.string().openapi({ description: "The webhook-id header: the same on every retry and redelivery" }),
    event_type: z.enum(WEBHOOK_EVENT_TYPES),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    response_status: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_attempt_at: z.string().nullable(),
    next_attempt_at: z.string().nullable().openapi({
      description: "When a pending delivery is next attempted (its retry's backoff, or now when queued); null once delivered or failed",
    }),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    payload: z.record(z.string(), z.unknown()).openapi({ description: "The JSON body as signed and sent" }),
  })
  .openapi("WebhookDelivery");
