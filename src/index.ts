import { createApp } from "./app";
import { handleInboundEmail } from "./email/inbound";
import { purgeIdempotencyKeys } from "./http/idempotency";
import type { MediaMessage } from "./media/messages";
import { consumeDeadLetters, consumeMedia } from "./media/queue";
import { runSlaCheck } from "./sla/check";

export { MediaContainer } from "./media/media-container";
export { UserPins } from "./pins/user-pins";

const app = createApp();

export default {
  fetch: app.fetch,
  email: handleInboundEmail,
  async queue(batch, env) {
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch, env);
    else await consumeMedia(batch, env);
  },
  // Awaited, not waitUntil: a failed check then shows as a failed cron invocation.
  async scheduled(controller, env) {
    await runSlaCheck(env, new Date(controller.scheduledTime));
    await purgeIdempotencyKeys(env.DB);
  },
} satisfies ExportedHandler<Env, MediaMessage>;
