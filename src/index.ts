import { createApp } from "./app";
import { handleInboundEmail } from "./email/inbound";
import type { MediaMessage } from "./media/messages";
import { consumeDeadLetters, consumeMedia } from "./media/queue";
import { runSlaCheck } from "./sla/check";
import { consumeWebhookDeadLetters, consumeWebhooks } from "./webhooks/deliver";
import { runWebhookCron, scheduleWebhookRelay, type WebhookMessage } from "./webhooks/relay";

export { MediaContainer } from "./media/media-container";
export { UserPins } from "./pins/user-pins";

const app = createApp();

export default {
  fetch: app.fetch,
  async email(message, env, ctx) {
    try {
      await handleInboundEmail(message, env, ctx);
    } finally {
      scheduleWebhookRelay(env, ctx);
    }
  },
  async queue(batch, env, ctx?: ExecutionContext) {
    // Routed by queue name (wrangler.toml).
    if (batch.queue === "propops-webhooks") return consumeWebhooks(batch as MessageBatch<WebhookMessage>, env);
    if (batch.queue === "propops-webhooks-dlq") return consumeWebhookDeadLetters(batch as MessageBatch<WebhookMessage>, env);
    const media = batch as MessageBatch<MediaMessage>;
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(media, env);
    else await consumeMedia(media, env);
    // Media outcomes are audit events too (media.processed / media.failed).
    scheduleWebhookRelay(env, ctx);
  },
  // Awaited, not waitUntil: a failed check then shows as a failed cron invocation. The webhook relay
  // runs on every cron as the catch-all for events a request-time relay missed.
  async scheduled(controller, env) {
    try {
      await runSlaCheck(env, new Date(controller.scheduledTime));
    } finally {
      await runWebhookCron(env);
    }
  },
} satisfies ExportedHandler<Env, MediaMessage | WebhookMessage>;
