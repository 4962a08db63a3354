import { and, asc, eq, lt, sql } from "drizzle-orm";
import { photos } from "../db/schema";
import { toIsoSeconds } from "../domain/time";
import type { Services } from "../platform/services";
import type { MediaMessage } from "./messages";
import { MAX_VIDEO_ATTEMPTS, watchdogSeconds } from "./video-job";

/** Photos and videos re-queued per cron run at most. */
const SWEEP_BATCH = 50;
/** A photo's compression is retried within minutes (queue backoff): one this old lost its message. */
const PHOTO_STALLED_MS = 30 * 60_000;

/**
 * The cron's safety net for media whose queue message is gone: an upload whose message could not
 * be sent and whose rollback failed too (the row stayed, pending), or a message dead-lettered
 * without reaching the consumer. Each unsettled photo or video older than its deadline gets its
 * message again; every media message is idempotent, so one that was only slow is harmless (a
 * video attempt still within its watchdog delay is left alone by video-job.ts).
 */
export async function requeueStalledMedia(services: Services, now: Date): Promise<number> {
  const { db, env, mediaQueue } = services;
  // A video may legitimately run for its attempts' watchdog delays; it is looked at after all of them.
  const videoStalledMs = (MAX_VIDEO_ATTEMPTS + 1) * watchdogSeconds(env) * 1000;
  const stalled = (kind: "image" | "video", ms: number) =>
    db
      .select({ id: photos.id })
      .from(photos)
      .where(
        and(
          // Literal, as in the partial index's own WHERE: a bound parameter would not let SQLite use it.
          sql`${photos.processingStatus} IN ('pending', 'processing')`,
          lt(photos.createdAt, toIsoSeconds(now.getTime() - ms)),
          eq(photos.kind, kind),
        ),
      )
      .orderBy(asc(photos.createdAt))
      .limit(SWEEP_BATCH);
  const [images, videos] = await db.batch([stalled("image", PHOTO_STALLED_MS), stalled("video", videoStalledMs)]);
  const messages: MediaMessage[] = [
    ...images.map((r): MediaMessage => ({ type: "photo.compress", photoId: r.id })),
    ...videos.map((r): MediaMessage => ({ type: "video.transcode", photoId: r.id })),
  ];
  if (messages.length > 0) await mediaQueue.sendBatch(messages.map((body) => ({ body })));
  return messages.length;
}
