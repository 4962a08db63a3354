import { createApp } from "./app";
import { fixedClock } from "./domain/time";
import { handleInboundEmail } from "./email/inbound";
import { purgeIdempotencyKeys } from "./http/idempotency";
import { feedLive } from "./live/hub";
import type { MediaMessage } from "./media/messages";
import { consumeDeadLetters, consumeMedia } from "./media/queue";
import { requeueStalledMedia } from "./media/sweep";
import { createServices } from "./platform/services";
import { runSlaCheck } from "./sla/check";
import { sweepExpiredUploads } from "./uploads/service";
import { consumeWebhookDeadLetters, consumeWebhooks } from "./webhooks/deliver";
import { runWebhookCron, scheduleWebhookRelay, type WebhookMessage } from "./webhooks/relay";

export { LiveHub } from "./live/hub";
export { MediaContainer } from "./media/media-container";
export { UserPins } from "./pins/user-pins";
export { SlaTimer } from "./sla/timer";

const app = createApp();

// Each entry point builds its services once (src/platform/services.ts) and hands them down.
export default {
  fetch: app.fetch,
  async email(message, env, ctx) {
    const services = createServices(env, { executionCtx: ctx });
    try {
      await handleInboundEmail(message, services);
    } finally {
      scheduleWebhookRelay(services);
    }
  },
  async queue(batch, env, ctx) {
    const services = createServices(env, { executionCtx: ctx });
    // Routed by queue name (wrangler.toml).
    if (batch.queue === "propops-webhooks") return consumeWebhooks(batch as MessageBatch<WebhookMessage>, services);
    if (batch.queue === "propops-webhooks-dlq") return consumeWebhookDeadLetters(batch as MessageBatch<WebhookMessage>, services);
    const media = batch as MessageBatch<MediaMessage>;
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(media, services);
    else await consumeMedia(media, services);
    // Media outcomes are audit events too (media.processed / media.failed).
    scheduleWebhookRelay(services);
  },
  // Awaited, not waitUntil: a failed check then shows as a failed cron invocation. The webhook relay
  // runs on every cron as the catch-all for events a request-time relay missed.
  async scheduled(controller, env, ctx) {
    const now = new Date(controller.scheduledTime);
    const services = createServices(env, { executionCtx: ctx, clock: fixedClock(now) });
    try {
      await runSlaCheck(services, now);
    } finally {
      feedLive(services);
      await runWebhookCron(services);
      await requeueStalledMedia(services, now).then(
        (n) => n > 0 && console.log(`media sweep: re-queued ${n} unsettled photos and videos`),
        (err) => console.error("media sweep failed (the next cron retries):", err instanceof Error ? err.message : err),
      );
      // Abandoned resumable uploads: their R2 multipart uploads aborted, staged bytes deleted.
      await sweepExpiredUploads(services, now).then(
        (n) => n > 0 && console.log(`upload sweep: ${n} expired uploads removed`),
        (err) => console.error("upload sweep failed (the next cron retries):", err instanceof Error ? err.message : err),
      );
      await purgeIdempotencyKeys(env.DB);
    }
  },
} satisfies ExportedHandler<Env, MediaMessage | WebhookMessage>;
