/**
 * Webhook verification: the API signs every delivery with Standard Webhooks headers
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and the subscription's `whsec_` secret.
 * The event types and payloads come from the OpenAPI document's `webhooks` section, so they follow
 * it as it grows (a payload schema there is the type here).
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { webhooks } from "./generated/schema.js";

export { WebhookVerificationError };

/** Every event type the API sends. */
export type WebhookEventType = keyof webhooks & string;

type Payload<T extends WebhookEventType> =
  NonNullable<webhooks[T]["post"]> extends { requestBody?: infer B }
    ? NonNullable<B> extends { content: { "application/json": infer P } }
      ? P
      : never
    : never;

/** The payload of one event type, as the OpenAPI document describes it. */
export type WebhookEventOf<T extends WebhookEventType> = Payload<T>;
/** Any event: a union discriminated by `type`. */
export type WebhookEvent = { [T in WebhookEventType]: Payload<T> }[WebhookEventType];

/** Headers as Fetch, Node's `IncomingMessage` or a plain record carries them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function headerRecord(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as Headers).forEach === "function" && typeof (headers as Headers).get === "function") {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/**
 * Verifies a delivery (its raw body exactly as received, its headers) against the subscription's
 * secret and returns the typed event. Throws `WebhookVerificationError` when the signature does not
 * match, the timestamp is more than 5 minutes off, or a header is missing: answer 4xx then.
 */
export function verifyWebhook(payload: string | Uint8Array, headers: WebhookHeaders, secret: string): WebhookEvent {
  const body = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
  return new Webhook(secret).verify(body, headerRecord(headers)) as WebhookEvent;
}

/** Narrows an event to one type (`if (isEvent(event, "job.created")) event.data…`). */
export function isEvent<T extends WebhookEventType>(event: WebhookEvent, type: T): event is Extract<WebhookEvent, { type: T }> {
  return event.type === type;
}
