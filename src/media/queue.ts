import { and, eq, ne, sql } from "drizzle-orm";
import { jobs, photos } from "../db/schema";
import type { Services } from "../platform/services";
import { runCleanup } from "./cleanup";
import { markMediaFailed } from "./failed";
import type { MediaMessage } from "./messages";
import { handlePhotoCompress } from "./photo-job";
import { handleVideoCheck, handleVideoTranscode, handleVideoWatchdog } from "./video-job";

const MAX_BACKOFF_SECONDS = 300;

/** Handles one message; throwing retries it with backoff (the queue's max_retries, then the DLQ). */
async function handle(services: Services, body: MediaMessage): Promise<void> {
  switch (body.type) {
    case "r2.cleanup":
      await runCleanup(services.media, body);
      return;
    case "photo.compress":
      await handlePhotoCompress(services, body.photoId);
      return;
    case "video.transcode":
      await handleVideoTranscode(services, body);
      return;
    case "video.watchdog":
      await handleVideoWatchdog(services, body);
      return;
    case "video.check":
      await handleVideoCheck(services, body);
      return;
    default:
      // A type this version does not handle yet (added by a newer deploy): fail loudly, retry.
      throw new Error(`unhandled media message type: ${(body as { type: string }).type}`);
  }
}

/** The media queue consumer: each message acked or retried on its own, with exponential backoff. */
export async function consumeMedia(batch: MessageBatch<MediaMessage>, services: Services): Promise<void> {
  for (const message of batch.messages) {
    try {
      await handle(services, message.body);
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

/**
 * Message types whose dead letters mark the photo failed. Rule: a type joins this set in the same
 * change that adds its case to handle(). (`video.watchdog` and `video.check` are not: a dead one says
 * nothing about the video, whose current attempt may still be running.)
 */
const RECORDED_DEAD_LETTERS: ReadonlySet<MediaMessage["type"]> = new Set(["photo.compress", "video.transcode"]);

/** Dead-letter consumer: the message failed every retry; record it where users can see it. */
export async function consumeDeadLetters(batch: MessageBatch<MediaMessage>, services: Services): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    console.error(`media message ${message.id} (${body?.type}) dead-lettered after ${message.attempts} attempts`);
    if ((body?.type === "photo.compress" || body?.type === "video.transcode") && RECORDED_DEAD_LETTERS.has(body.type)) {
      try {
        // Keeps the last attempt's reason (photo-job.ts writes "retrying: …" on each failure).
        const db = services.db;
        const media = await db
          .select({ id: photos.id, uuid: photos.uuid, kind: photos.kind, jobId: photos.jobId, jobUuid: jobs.uuid })
          .from(photos)
          .innerJoin(jobs, eq(jobs.id, photos.jobId))
          .where(eq(photos.id, body.photoId))
          .get();
        // Deleted meanwhile: nothing to record.
        if (media) {
          await markMediaFailed(services, media, {
            error: sql`'gave up after ' || ${photos.processingAttempts} || ' attempts: ' || coalesce(replace(${photos.processingError}, 'retrying: ', ''), 'unknown error')`,
            guard: and(ne(photos.processingStatus, "failed"), ne(photos.processingStatus, "completed")),
            action: body.type === "photo.compress" ? "photo.compress_failed" : "photo.video_failed",
            changes: { photo_uuid: media.uuid, reason: "gave up after every retry (dead-lettered)" },
          });
        }
      } catch (err) {
        console.error(`could not record dead letter ${message.id}:`, err instanceof Error ? err.message : err);
        message.retry();
        continue;
      }
    }
    message.ack();
  }
}
