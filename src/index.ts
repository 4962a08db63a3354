import { createApp } from "./app";
import { handleInboundEmail } from "./email/inbound";
import type { MediaMessage } from "./media/messages";
import { consumeDeadLetters, consumeMedia } from "./media/queue";

export { UserPins } from "./pins/user-pins";

const app = createApp();

export default {
  fetch: app.fetch,
  email: handleInboundEmail,
  async queue(batch, env) {
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch, env);
    else await consumeMedia(batch, env);
  },
} satisfies ExportedHandler<Env, MediaMessage>;
