/**
 * The `photo.compress` message: compress one uploaded image and record the outcome on its row.
 *
 * Memory budget. A Worker isolate has 128 MB; photon's wasm memory grows to the peak of the
 * largest image it has handled and never shrinks (test/channels/photo-compressor.test.ts measures it in
 * workerd: 24 MB for 2 MP without a resize, 50 MB for the worst 2 MP shapes (wider than 2048 px,
 * or a PNG with alpha), 101 MB at 4 MP, 163 MB at 6 MP, 257 MB at 12 MP). So the isolate
 * compresses only images within PHOTON_WORKER_MAX_PIXELS (16-bit PNGs count double, they decode
 * to twice the bytes) and files within WORKER_MAX_SOURCE_BYTES (the source is copied into wasm
 * memory too); everything larger goes to the media container, which runs the same photon code
 * in Node without the isolate limit. compressImage is synchronous and messages are handled one
 * at a time, so an isolate's wasm peak is that of its largest in-budget image, not a sum.
 *
 * Idempotent (Queues deliver at least once): a completed photo is acked as is; a compressed
 * object is written under a fixed key, so a repeat overwrites rather than adds.
 */

import { ImageCompressAnswer, type ImageCompressRequest, MediaServiceError } from "@propops/media-core/contract";
import { compressImage, ImageRejected, JPEG_QUALITY, MAX_LONG_EDGE, readImageHeader } from "@propops/media-core/photo-compressor";
import { eq, sql } from "drizzle-orm";
import { jobs, photos } from "../db/schema";
import type { Services } from "../platform/services";
import { markMediaFailed, mediaEvent } from "./failed";
import { compressedKey } from "./keys";
import { signObjectUrl } from "./signed-urls";
import { postToMediaService } from "./transcoder-client";

/** Source files above this size go to the container whatever their pixel count (padded files). */
export const WORKER_MAX_SOURCE_BYTES = 8 * 1024 * 1024;
/** How long the container may take on one image (48 MP in Node: a few seconds). */
const CONTAINER_TIMEOUT_MS = 120_000;
const URL_TTL_SECONDS = 600;
// Shares wrangler.toml's max_instances (5) with the per-video instances.
const CONTAINER_INSTANCES = 2;

/** A failure that no retry can fix (an undecodable image): recorded at once, message acked. */
export class PermanentFailure extends Error {}

export interface Outcome {
  outcome: "compressed" | "original_kept";
  contentType: string;
  width: number;
  height: number;
  outputWidth: number;
  outputHeight: number;
  bytesAfter: number;
  where: "worker" | "container";
}

/** Whether the isolate may compress this image itself (see the file comment). */
export function fitsWorkerBudget(env: Pick<Env, "PHOTON_WORKER_MAX_PIXELS">, pixels: number, bitDepth: number, bytes: number) {
  const budget = Number(env.PHOTON_WORKER_MAX_PIXELS);
  const weighted = pixels * (bitDepth > 8 ? 2 : 1);
  return Number.isFinite(budget) && weighted <= budget && bytes <= WORKER_MAX_SOURCE_BYTES;
}

export async function handlePhotoCompress(services: Services, photoId: number): Promise<void> {
  const { env, db } = services;
  const row = await db
    .select({ photo: photos, jobUuid: jobs.uuid })
    .from(photos)
    .innerJoin(jobs, eq(jobs.id, photos.jobId))
    .where(eq(photos.id, photoId))
    .get();
  // Deleted meanwhile, a video, or already done: nothing to do (ack).
  if (row?.photo.kind !== "image" || row.photo.processingStatus === "completed") return;
  const photo = row.photo;
  await db
    .update(photos)
    .set({ processingStatus: "processing", processingAttempts: sql`${photos.processingAttempts} + 1` })
    .where(eq(photos.id, photo.id));

  const outputKey = compressedKey(row.jobUuid, photo.uuid);
  try {
    const source = await services.media.get(photo.r2Key);
    if (!source) throw new PermanentFailure("original object is missing from storage");
    const bytes = new Uint8Array(await source.arrayBuffer());
    const header = readImageHeader(bytes);
    const result = fitsWorkerBudget(env, header.width * header.height, header.bitDepth, bytes.length)
      ? await compressHere(services.media, bytes, outputKey)
      : await compressInContainer(services, photo.id, photo.r2Key, outputKey);
    const kept = result.outcome === "compressed";
    const [updated] = await db.batch([
      db
        .update(photos)
        .set({
          width: result.width,
          height: result.height,
          compressedKey: kept ? outputKey : null,
          compressedSize: result.bytesAfter,
          compressedWidth: result.outputWidth,
          compressedHeight: result.outputHeight,
          processingStatus: "completed",
          processingError: null,
          processedAt: services.clock.iso(),
        })
        .where(eq(photos.id, photo.id))
        .returning({ id: photos.id }),
      // Only if the row was still there.
      mediaEvent(db, { jobId: photo.jobId, jobUuid: row.jobUuid }, "photo.compressed", {
        photo_uuid: photo.uuid,
        outcome: result.outcome,
        bytes_before: photo.size,
        bytes_after: result.bytesAfter,
      }),
    ]);
    // Deleted while compressing: its files were removed already, so remove the new one too.
    if (updated.length === 0 && kept) await services.media.delete(outputKey);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof PermanentFailure || err instanceof ImageRejected) {
      await markMediaFailed(
        services,
        { id: photo.id, uuid: photo.uuid, kind: "image", jobId: photo.jobId, jobUuid: row.jobUuid },
        {
          error: message.slice(0, 500),
          action: "photo.compress_failed",
          changes: { photo_uuid: photo.uuid, reason: message.slice(0, 500) },
        },
      );
      return;
    }
    // Transient: leave the reason where users can see it, then let the queue retry with backoff.
    await db
      .update(photos)
      .set({ processingStatus: "pending", processingError: `retrying: ${message}`.slice(0, 500) })
      .where(eq(photos.id, photo.id));
    throw err;
  }
}

async function compressHere(media: R2Bucket, bytes: Uint8Array, compressedKey: string): Promise<Outcome> {
  const r = compressImage(bytes);
  if (r.outcome === "compressed") await media.put(compressedKey, r.bytes, { httpMetadata: { contentType: r.contentType } });
  return { ...r, where: "worker" };
}

/**
 * Large images: the media container downloads the original through a signed GET URL, compresses
 * it with the same photon code, uploads the result through a signed PUT URL and answers with the
 * figures (synchronously: one image takes seconds, well within a queue handler's time).
 */
export async function compressInContainer(services: Services, photoId: number, sourceKey: string, compressedKey: string): Promise<Outcome> {
  const { env } = services;
  const body: ImageCompressRequest = {
    photo_id: photoId,
    source_url: await signObjectUrl(env, "GET", sourceKey, URL_TTL_SECONDS),
    put_url: await signObjectUrl(env, "PUT", compressedKey, URL_TTL_SECONDS),
    max_long_edge: MAX_LONG_EDGE,
    jpeg_quality: JPEG_QUALITY,
  };
  const res = await postToMediaService(env, {
    path: "/v1/images/compress",
    body,
    timeoutMs: CONTAINER_TIMEOUT_MS,
    // A few shared instances (not one per photo): each compresses one image at a time.
    instance: `images-${photoId % CONTAINER_INSTANCES}`,
    who: "media container",
  });
  const json: unknown = await res.json().catch(() => ({}));
  if (!res.ok) {
    const failure = MediaServiceError.safeParse(json);
    const reason = failure.data?.error ?? `HTTP ${res.status}`;
    if (res.status === 422 || failure.data?.retryable === false) throw new PermanentFailure(reason);
    throw new Error(`media container: ${reason}`);
  }
  const parsed = ImageCompressAnswer.safeParse(json);
  if (!parsed.success) throw new Error("media container answered without the expected fields");
  const answer = parsed.data;
  const outcome = answer.outcome;
  // Never record a key that points at nothing.
  if (outcome === "compressed" && !(await services.media.head(compressedKey))) throw new Error("media container did not store the result");
  return {
    outcome,
    contentType: answer.content_type,
    width: answer.width,
    height: answer.height,
    outputWidth: answer.output_width,
    outputHeight: answer.output_height,
    bytesAfter: answer.bytes_after,
    where: "container",
  };
}
