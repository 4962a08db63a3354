import { deletePrefix } from "./cleanup";
import type { MediaMessage } from "./messages";

const MAX_BACKOFF_SECONDS = 300;

/** Handles one message; throwing retries it with backoff (the queue's max_retries, then the DLQ). */
async function handle(env: Env, body: MediaMessage): Promise<void> {
  switch (body.type) {
    case "r2.cleanup":
      await deletePrefix(env.MEDIA, body.prefix);
      return;
    default:
      // A type this version does not handle yet (added by a newer deploy): fail loudly, retry.
      throw new Error(`unhandled media message type: ${(body as { type: string }).type}`);
  }
}

/** The media queue consumer: each message acked or retried on its own, with exponential backoff. */
export async function consumeMedia(batch: MessageBatch<MediaMessage>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    try {
      await handle(env, message.body);
      message.ack();
    } catch (err) {
      console.error(
        `media message ${message.id} (${message.body?.type}) failed, attempt ${message.attempts}:`,
        err instanceof Error ? err.message : err,
      );
      message.retry({ delaySeconds: Math.min(2 ** message.attempts, MAX_BACKOFF_SECONDS) });
    }
  }
}

/** Dead-letter consumer: the message failed every retry; record it where users can see it. */
export async function consumeDeadLetters(batch: MessageBatch<MediaMessage>, _env: Env): Promise<void> {
  for (const message of batch.messages) {
    console.error(`media message ${message.id} (${message.body?.type}) dead-lettered after ${message.attempts} attempts`);
    message.ack();
  }
}
