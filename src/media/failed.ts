import { and, eq, type SQL } from "drizzle-orm";
import { photos } from "../db/schema";
import { recordEvent } from "../domain/events";
import type { Db, Services } from "../platform/services";
import { removeStored } from "./cleanup";
import { mediaOutputKeys } from "./keys";

/** The actor of events the media pipeline records. */
export const MEDIA_ACTOR = { userId: null, name: "Media pipeline" } as const;

/**
 * The pipeline's outbox event about a photo or video (webhooks: media.processed, media.failed),
 * written only if the guarded statement before it in the batch changed the row.
 */
export const mediaEvent = (db: Db, media: { jobId: number; jobUuid: string }, action: string, changes: Record<string, unknown>) =>
  recordEvent(db, { jobId: media.jobId, jobUuid: media.jobUuid, actor: MEDIA_ACTOR, action, changes }, { ifChanged: true });

export interface FailingMedia {
  id: number;
  uuid: string;
  kind: "image" | "video";
  jobId: number;
  jobUuid: string;
}

/**
 * The one way a photo or video ends failed: the row (only while `guard` holds) and its event in one
 * batch, then, if the row changed, whatever an attempt had stored beside the original (a compressed
 * copy, video variants, a thumbnail), since a failed record names none of it and it would be an
 * orphan. Answers whether this call failed it.
 */
export async function markMediaFailed(
  services: Services,
  media: FailingMedia,
  failure: {
    /** The reason users see (`processing_error`), as text or computed from the row. */
    error: string | SQL;
    guard?: SQL;
    action: "photo.compress_failed" | "photo.video_failed";
    changes: Record<string, unknown>;
  },
): Promise<boolean> {
  const db = services.db;
  const [failed] = await db.batch([
    db
      .update(photos)
      .set({ processingStatus: "failed", processingError: failure.error })
      .where(and(eq(photos.id, media.id), failure.guard))
      .returning({ id: photos.id }),
    mediaEvent(db, media, failure.action, failure.changes),
  ]);
  if (failed.length === 0) return false;
  await removeStored(services, mediaOutputKeys(media.kind, media.jobUuid, media.uuid));
  return true;
}
