/**
 * The video pipeline on the Worker side: hand a video to the transcoder (`video.transcode`),
 * check that it reported back (`video.watchdog`) and record its result (the signed callback).
 *
 * States: pending → processing (attempt n dispatched) → completed | failed, or back to pending
 * when the dispatch itself failed (the queue retries it with backoff, then dead-letters it and
 * the DLQ consumer records `failed`). An attempt is numbered by `processing_attempts`; every
 * signed URL of an attempt carries that number, so a late result of a superseded attempt can
 * never overwrite a newer one. Every step is idempotent: Queues deliver at least once and the
 * transcoder retries its callback.
 */

import { type TranscodeRequest, VideoStatus } from "@propops/media-core/contract";
import { and, desc, eq, sql } from "drizzle-orm";
import { auditEvents, jobs, photos } from "../db/schema";
import type { Db, Services } from "../platform/services";
import { deletePrefix } from "./cleanup";
import { markMediaFailed, mediaEvent } from "./failed";
import { objectKey, videoOutputKeys } from "./keys";
import { signObjectUrl } from "./signed-urls";
import { postToMediaService, transcoderFetch } from "./transcoder-client";
import { type CallbackBody, type CallbackTarget, signCallbackUrl } from "./video-callback";

/** Transcoder runs (dispatches) a video gets before it is marked failed. */
export const MAX_VIDEO_ATTEMPTS = 5;
/** Lifetime of an attempt's signed URLs: the transcoder's job limit (600 s) plus callback retries. */
const URL_TTL_SECONDS = 30 * 60;
/** The transcoder answers 202 at once (the work runs in the background). */
const DISPATCH_TIMEOUT_MS = 30_000;
const MAX_RETRY_DELAY_SECONDS = 300;
/** Queues accept delays up to 12 hours. */
const MAX_QUEUE_DELAY_SECONDS = 43_200;

export type VariantName = "1080p" | "720p";
export const VARIANT_NAMES: readonly VariantName[] = ["1080p", "720p"];

/** What `photos.variants` holds (JSON): per produced rung, its R2 key and figures. */
export type StoredVariants = Partial<Record<VariantName, { key: string; width: number; height: number; bitrate: number; size: number }>>;

/** Seconds from dispatch to the watchdog's check (VIDEO_WATCHDOG_SECONDS, default 900). */
export function watchdogSeconds(env: Pick<Env, "VIDEO_WATCHDOG_SECONDS">): number {
  const n = Number(env.VIDEO_WATCHDOG_SECONDS);
  return Number.isFinite(n) && n >= 1 ? Math.min(Math.floor(n), MAX_QUEUE_DELAY_SECONDS) : 900;
}

/** Seconds between status checks of a running attempt (VIDEO_CHECK_SECONDS, default 10). */
export function checkSeconds(env: Pick<Env, "VIDEO_CHECK_SECONDS">): number {
  const n = Number(env.VIDEO_CHECK_SECONDS);
  return Number.isFinite(n) && n >= 1 ? Math.min(Math.floor(n), MAX_QUEUE_DELAY_SECONDS) : 10;
}

/** A status question is answered at once; a service this slow counts as unreachable (asked again). */
const STATUS_TIMEOUT_MS = 5_000;

const retryDelay = (attempt: number) => Math.min(2 ** attempt, MAX_RETRY_DELAY_SECONDS);
const reasonText = (s: string) => s.slice(0, 500);

type VideoRow = NonNullable<Awaited<ReturnType<typeof loadVideo>>>;

function loadVideo(db: Db, where: { id: number } | { uuid: string }) {
  return db
    .select({
      id: photos.id,
      uuid: photos.uuid,
      kind: photos.kind,
      r2Key: photos.r2Key,
      status: photos.processingStatus,
      attempts: photos.processingAttempts,
      error: photos.processingError,
      jobId: jobs.id,
      jobUuid: jobs.uuid,
    })
    .from(photos)
    .innerJoin(jobs, eq(jobs.id, photos.jobId))
    .where("id" in where ? eq(photos.id, where.id) : eq(photos.uuid, where.uuid))
    .get();
}

/** The guard of every write about attempt n: the photo is still processing that attempt. */
const onAttempt = (photoId: number, attempt: number) =>
  and(eq(photos.id, photoId), eq(photos.processingStatus, "processing"), eq(photos.processingAttempts, attempt));

/** Seconds since attempt `attempt` was dispatched (from its audit event), Infinity if unknown. */
async function dispatchAge({ db, clock }: Services, video: VideoRow): Promise<number> {
  const row = await db
    .select({ at: auditEvents.createdAt })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.jobUuid, video.jobUuid),
        eq(auditEvents.action, "photo.video_dispatched"),
        sql`json_extract(${auditEvents.changes}, '$.photo_uuid') = ${video.uuid}`,
        sql`json_extract(${auditEvents.changes}, '$.attempt') = ${video.attempts}`,
      ),
    )
    .orderBy(desc(auditEvents.id))
    .get();
  const at = row ? Date.parse(row.at) : Number.NaN;
  return Number.isFinite(at) ? (clock.now().getTime() - at) / 1000 : Number.POSITIVE_INFINITY;
}

/** `video.transcode`: start the next attempt unless one is done, failed for good or still running. */
export async function handleVideoTranscode(services: Services, msg: { photoId: number; supersedes?: number }): Promise<void> {
  const { env, db } = services;
  const video = await loadVideo(db, { id: msg.photoId });
  // Deleted meanwhile, an image, or settled: nothing to do (ack).
  if (video?.kind !== "video" || video.status === "completed" || video.status === "failed") return;
  if (video.status === "processing") {
    // A duplicate delivery while an attempt runs: the watchdog checks on that attempt. Only a
    // message that supersedes exactly this attempt, or an attempt older than the watchdog's
    // delay (its watchdog was lost), is taken over.
    const superseding = msg.supersedes === video.attempts;
    if (!superseding && (await dispatchAge(services, video)) < watchdogSeconds(env)) return;
  }
  if (video.attempts >= MAX_VIDEO_ATTEMPTS) {
    await markFailed(services, video, `gave up after ${video.attempts} attempts: ${lastReason(video)}`);
    return;
  }

  const attempt = video.attempts + 1;
  // Claim the attempt, guarded on the state just read: a concurrent duplicate claims nothing.
  const [claimed] = await db.batch([
    db
      .update(photos)
      .set({ processingStatus: "processing", processingAttempts: attempt })
      .where(and(eq(photos.id, video.id), eq(photos.processingStatus, video.status), eq(photos.processingAttempts, video.attempts)))
      .returning({ id: photos.id }),
    mediaEvent(db, video, "photo.video_dispatched", { photo_uuid: video.uuid, attempt }),
  ]);
  if (claimed.length === 0) return;

  try {
    // The watchdog first: once the transcoder has the job, nothing may be left unwatched.
    await services.mediaQueue.send(
      { type: "video.watchdog", photoId: video.id, attempt },
      {
        delaySeconds: watchdogSeconds(env),
      },
    );
    await dispatch(env, video, attempt);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    // Not handed over: back to pending, so the queue's retry (with backoff) starts a new attempt.
    await db
      .update(photos)
      .set({ processingStatus: "pending", processingError: reasonText(`retrying: ${reason}`) })
      .where(onAttempt(video.id, attempt));
    throw err;
  }
  // Then ask after it every few seconds until the watchdog's time: a crash is noticed in seconds.
  // Best effort: without it the watchdog still catches a lost attempt, only later.
  const until = services.clock.now().getTime() + watchdogSeconds(env) * 1000;
  await scheduleCheck(services, { photoId: video.id, attempt, until }).catch((err) =>
    console.error(`video ${video.uuid}: could not arm the status check:`, err instanceof Error ? err.message : err),
  );
}

async function scheduleCheck(services: Services, check: { photoId: number; attempt: number; until: number }): Promise<boolean> {
  const delaySeconds = checkSeconds(services.env);
  // The watchdog is due before the next check would run: it takes over.
  if (services.clock.now().getTime() + delaySeconds * 1000 >= check.until) return false;
  await services.mediaQueue.send({ type: "video.check", ...check }, { delaySeconds });
  return true;
}

/** What the media service says about attempt n, or why it could not say. */
async function serviceHolds(env: Env, video: VideoRow, attempt: number): Promise<"held" | "lost" | "unknown"> {
  let res: Response;
  try {
    res = await transcoderFetch(
      env,
      `/v1/videos/status?job_id=${encodeURIComponent(video.uuid)}`,
      { method: "GET", signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) },
      video.uuid,
    );
  } catch {
    return "unknown"; // down or restarting: asked again at the next check
  }
  const parsed = res.ok ? VideoStatus.safeParse(await res.json().catch(() => null)) : undefined;
  if (!res.ok) await res.body?.cancel();
  if (!parsed?.success) return "unknown"; // an older service without the route, or a bad answer
  return parsed.data.running && parsed.data.attempt === attempt ? "held" : "lost";
}

/**
 * `video.check`: asks the media service whether it still holds attempt n. A service that answers
 * without it lost the job (it crashed and came back, or the job ended without a callback getting
 * through): the attempt is superseded now, through the queue, instead of at the watchdog. The
 * service is asked before the row is read, so a job that just reported back is seen completed, not
 * lost. An unreachable service is asked again at the next check; the watchdog still bounds it all.
 */
export async function handleVideoCheck(services: Services, msg: { photoId: number; attempt: number; until: number }): Promise<void> {
  const { env, db } = services;
  const first = await loadVideo(db, { id: msg.photoId });
  if (first?.status !== "processing" || first.attempts !== msg.attempt) return;
  const held = await serviceHolds(env, first, msg.attempt);
  if (held !== "lost") {
    await scheduleCheck(services, msg);
    return;
  }
  const video = await loadVideo(db, { id: msg.photoId });
  if (video?.status !== "processing" || video.attempts !== msg.attempt) return;
  console.warn(`video ${video.uuid}: the media service no longer holds attempt ${msg.attempt}; dispatching again`);
  await retryOrFail(services, video, `the media service lost attempt ${msg.attempt} (it restarted or the job ended without reporting)`);
}

/** POSTs the job to the transcoder; anything but 202 Accepted throws (retried by the queue). */
async function dispatch(env: Env, video: VideoRow, attempt: number): Promise<void> {
  const keys = videoOutputKeys(video.jobUuid, video.uuid);
  const put = async (key: string) => ({ put_url: await signObjectUrl(env, "PUT", key, URL_TTL_SECONDS) });
  const body: TranscodeRequest = {
    job_id: video.uuid,
    attempt,
    source_url: await signObjectUrl(env, "GET", video.r2Key, URL_TTL_SECONDS),
    outputs: { "1080p": await put(keys["1080p"]), "720p": await put(keys["720p"]), thumbnail: await put(keys.thumbnail) },
    callback_url: await signCallbackUrl(env, { jobUuid: video.jobUuid, photoUuid: video.uuid, attempt }, URL_TTL_SECONDS),
  };
  const res = await postToMediaService(env, {
    path: "/v1/videos/transcode",
    body,
    timeoutMs: DISPATCH_TIMEOUT_MS,
    instance: video.uuid,
    who: "transcoder",
  });
  const text = await res.text().catch(() => "");
  if (res.status === 202) return;
  // 503 busy (Retry-After), 409 a previous attempt still running, 5xx, 400 (a bug here): retry.
  const detail = text.slice(0, 200);
  const after = res.headers.get("retry-after");
  throw new Error(`transcoder answered HTTP ${res.status}${after ? ` (retry after ${after} s)` : ""}: ${detail}`);
}

/** `video.watchdog`: attempt n should have reported back by now; if it has not, start another. */
export async function handleVideoWatchdog(services: Services, msg: { photoId: number; attempt: number }): Promise<void> {
  const { env, db } = services;
  const video = await loadVideo(db, { id: msg.photoId });
  // Reported back, superseded, back to pending, or deleted: nothing to watch (ack).
  if (video?.status !== "processing" || video.attempts !== msg.attempt) return;
  await retryOrFail(services, video, `the transcoder did not report back on attempt ${msg.attempt} within ${watchdogSeconds(env)} s`);
}

/**
 * Another attempt with backoff while attempts remain, else `failed`. The photo stays
 * `processing` until the superseding message starts the next attempt, so a lost send is
 * retried by whoever called this (queue retry, transcoder callback retry).
 */
async function retryOrFail(services: Services, video: VideoRow, reason: string): Promise<"retrying" | "failed"> {
  const { db } = services;
  if (video.attempts >= MAX_VIDEO_ATTEMPTS) {
    await markFailed(services, video, `gave up after ${video.attempts} attempts: ${reason}`);
    return "failed";
  }
  await db
    .update(photos)
    .set({ processingError: reasonText(`retrying: ${reason}`) })
    .where(onAttempt(video.id, video.attempts));
  await services.mediaQueue.send(
    { type: "video.transcode", photoId: video.id, supersedes: video.attempts },
    {
      delaySeconds: retryDelay(video.attempts),
    },
  );
  return "retrying";
}

function lastReason(video: VideoRow) {
  return video.error?.replace(/^retrying: /, "") ?? "unknown error";
}

/**
 * Records the video failed (unless it completed meanwhile) and removes whatever its attempts wrote
 * to the fixed output keys: a failed video names no output, so a partial one would be an orphan.
 */
async function markFailed(services: Services, video: VideoRow, reason: string): Promise<void> {
  await markMediaFailed(
    services,
    { ...video, kind: "video" },
    {
      error: reasonText(reason),
      guard: and(eq(photos.processingAttempts, video.attempts), sql`${photos.processingStatus} <> 'completed'`),
      action: "photo.video_failed",
      changes: { photo_uuid: video.uuid, attempt: video.attempts, reason: reasonText(reason) },
    },
  );
}

export interface CallbackOutcome {
  status: 200 | 409 | 410;
  outcome: "completed" | "retrying" | "failed" | "stale" | "gone";
  message: string;
}

/** Records a verified callback (video-callback-route.ts) for `target`'s attempt. */
export async function recordTranscodeResult(services: Services, target: CallbackTarget, result: CallbackBody): Promise<CallbackOutcome> {
  const { db } = services;
  const video = await loadVideo(db, { uuid: target.photoUuid });
  if (!video) {
    // Deleted while transcoding: the outputs arrived after its files were removed; remove them too.
    await deletePrefix(services.media, objectKey(target.jobUuid, "photos", target.photoUuid, ""));
    return { status: 410, outcome: "gone", message: "the video no longer exists; its outputs were removed" };
  }
  if (video.jobUuid !== target.jobUuid || video.kind !== "video") {
    // Only ever signed for this video of this job: refuse rather than touch another record's files.
    return { status: 410, outcome: "gone", message: "the callback does not match a video" };
  }
  if (video.status === "completed" && video.attempts === target.attempt) {
    return { status: 200, outcome: "completed", message: "already recorded" };
  }
  if (video.status !== "processing" || video.attempts !== target.attempt) {
    return {
      status: 409,
      outcome: "stale",
      message: `stale attempt ${target.attempt}: the video is ${video.status} at attempt ${video.attempts}`,
    };
  }

  if (result.status === "failed") {
    if (!result.retryable) {
      await markFailed(services, video, result.error);
      return { status: 200, outcome: "failed", message: "recorded as failed" };
    }
    const outcome = await retryOrFail(services, video, result.error);
    return { status: 200, outcome, message: outcome === "failed" ? "recorded as failed" : "another attempt is queued" };
  }

  // Never record a key that points at nothing: the sizes recorded are what R2 holds.
  const keys = videoOutputKeys(video.jobUuid, video.uuid);
  const variants: StoredVariants = {};
  for (const name of VARIANT_NAMES) {
    const reported = result.variants[name];
    if (!reported) continue;
    const head = await services.media.head(keys[name]);
    if (!head) return retried(await retryOrFail(services, video, `the transcoder reported ${name} but it is not in storage`));
    variants[name] = { key: keys[name], width: reported.width, height: reported.height, bitrate: reported.bitrate, size: head.size };
  }
  if (!(await services.media.head(keys.thumbnail))) {
    return retried(await retryOrFail(services, video, "the transcoder reported a thumbnail but it is not in storage"));
  }

  const [updated] = await db.batch([
    db
      .update(photos)
      .set({
        variants: JSON.stringify(variants),
        thumbnailKey: keys.thumbnail,
        width: result.source.width,
        height: result.source.height,
        processingStatus: "completed",
        processingError: null,
        processedAt: services.clock.iso(),
      })
      .where(onAttempt(video.id, target.attempt))
      .returning({ id: photos.id }),
    mediaEvent(db, video, "photo.video_processed", {
      photo_uuid: video.uuid,
      attempt: target.attempt,
      variants: Object.keys(variants),
      ...(result.skipped && Object.keys(result.skipped).length > 0 ? { skipped: result.skipped } : {}),
    }),
  ]);
  if (updated.length === 0) {
    return { status: 409, outcome: "stale", message: `stale attempt ${target.attempt}: the video changed while recording` };
  }
  return { status: 200, outcome: "completed", message: "variants recorded" };
}

const retried = (outcome: "retrying" | "failed"): CallbackOutcome => ({
  status: 200,
  outcome,
  message: outcome === "failed" ? "recorded as failed" : "another attempt is queued",
});
