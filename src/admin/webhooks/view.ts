import type { webhookDeliveries, webhookSubscriptions } from "../../db/schema";
import { parseTypes } from "../../webhooks/relay";

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** A subscription as the API shows it: never its secret. */
export function toSubscription(row: SubscriptionRow) {
  return {
    uuid: row.uuid,
    url: row.url,
    description: row.description,
    event_types: parseTypes(row.eventTypes),
    enabled: row.enabled,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

export function toDelivery(row: DeliveryRow) {
  let payload: unknown = null;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    // stored by the relay as JSON; never expected
  }
  return {
    uuid: row.uuid,
    webhook_id: `msg_${row.uuid}`,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    response_status: row.responseStatus,
    latency_ms: row.latencyMs,
    last_error: row.lastError,
    last_attempt_at: row.lastAttemptAt,
    next_attempt_at: row.status === "pending" ? row.nextAttemptAt : null,
    delivered_at: row.deliveredAt,
    created_at: row.createdAt,
    payload,
  };
}
