import { createApp } from "./app";
import { createServices } from "./domain/services";
import { fixedClock } from "./domain/time";
import { handleInboundEmail } from "./email/inbound";
import type { MediaMessage } from "./media/messages";
import { consumeDeadLetters, consumeMedia } from "./media/queue";
import { runSlaCheck } from "./sla/check";

export { MediaContainer } from "./media/media-container";
export { UserPins } from "./pins/user-pins";

const app = createApp();

// Each entry point builds its services once (src/domain/services.ts) and hands them down.
export default {
  fetch: app.fetch,
  async email(message, env, ctx) {
    await handleInboundEmail(message, createServices(env, { executionCtx: ctx }));
  },
  async queue(batch, env, ctx) {
    const services = createServices(env, { executionCtx: ctx });
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch, services);
    else await consumeMedia(batch, services);
  },
  // Awaited, not waitUntil: a failed check then shows as a failed cron invocation.
  async scheduled(controller, env, ctx) {
    const now = new Date(controller.scheduledTime);
    await runSlaCheck(createServices(env, { executionCtx: ctx, clock: fixedClock(now) }), now);
  },
} satisfies ExportedHandler<Env, MediaMessage>;
