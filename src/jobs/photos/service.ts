/**
 * The photos' use cases (photos and videos of a job), callable from any channel: a multipart
 * route, a resumable upload, an MCP tool. Files come in as plain bytes (src/media/intake.ts).
 */
import { and, asc, eq } from "drizzle-orm";
import type { Admission } from "../../app/use-case";
import { useCase } from "../../app/use-case";
import { jobs, photos } from "../../db/schema";
import { ApiError } from "../../domain/errors";
import { jobForChange } from "../../domain/job-access";
import { INTAKE_POLICIES, intake, type UploadInput } from "../../media/intake";
import type { MediaMessage } from "../../media/messages";
import type { RangeRequest } from "../../media/range";
import { jobFileRows, visibleFile } from "../../media/serve";
import { deleteUpload, storeUpload, UPLOADS } from "../../media/store";
import { type GroupedPhotos, type PhotoType, photoFileUrl } from "./schemas";

const MANAGE: Admission = { permission: "api.jobs.photos.manage" };
export const VIEW_PHOTOS: Admission = { permission: "api.jobs.photos.view" };

/** Stores a photo or video, records it, and queues its processing (compression or transcoding). */
export const uploadPhoto = useCase(MANAGE, async (scope, input: { job_id: number; photo_type: PhotoType; file: UploadInput }) => {
  const { job } = await jobForChange(scope, { id: input.job_id });
  const file = await intake(INTAKE_POLICIES.photo, input.file);
  const kind = file.type === "mp4" ? "video" : "image";
  const stored = await storeUpload(scope, UPLOADS.photo, {
    job,
    file,
    row: (base) => ({ ...base, photoType: input.photo_type, kind, width: file.width ?? null, height: file.height ?? null }),
    changes: (uuid) => ({ photo_uuid: uuid, photo_type: input.photo_type, kind, filename: file.filename, size: file.size }),
    enqueue: (photoId) => {
      // Videos go to the transcoder (src/media/video-job.ts), images to the photon compressor.
      const message: MediaMessage = kind === "video" ? { type: "video.transcode", photoId } : { type: "photo.compress", photoId };
      return scope.services.mediaQueue.send(message);
    },
  });
  return { photo_id: stored.id, photo_uuid: stored.uuid, processing_status: "pending" as const };
});

/** Removes a photo's row and every stored file of it (original, compressed copy, video variants). */
export const deletePhoto = useCase(MANAGE, async (scope, input: { id: number }) => {
  const photo = await deleteUpload(scope, UPLOADS.photo, input.id, (p) => ({
    photo_uuid: p.uuid,
    photo_type: p.photoType,
    filename: p.filename,
  }));
  return { photo_uuid: photo.uuid };
});

/** A job's photos and videos by type, oldest first. */
export const listPhotos = useCase(MANAGE, async (scope, input: { job_id: number }) => {
  const rows = await jobFileRows(scope, input.job_id, (visible) =>
    scope.db
      .select({ photo: photos })
      .from(photos)
      .innerJoin(jobs, eq(jobs.id, photos.jobId))
      .where(and(eq(jobs.id, input.job_id), visible))
      .orderBy(asc(photos.id)),
  );
  const data: GroupedPhotos = { before: [], during: [], after: [], other: [] };
  for (const { photo: p } of rows) {
    data[p.photoType].push({
      ID: p.id,
      uuid: p.uuid,
      job_id: p.jobId,
      photo_type: p.photoType,
      kind: p.kind,
      filename: p.filename,
      content_type: p.contentType,
      size: p.size,
      width: p.width,
      height: p.height,
      compressed_size: p.compressedSize,
      processing_status: p.processingStatus,
      processing_error: p.processingError,
      // Photos are compressed on ingest: the smaller copy is the one to show once it exists.
      url: photoFileUrl(p.uuid, p.compressedKey ? "compressed" : "original"),
      original_url: photoFileUrl(p.uuid, "original"),
      compressed_url: p.compressedKey ? photoFileUrl(p.uuid, "compressed") : null,
      created_at: p.createdAt,
    });
  }
  return { data, count: rows.length };
});

/** A photo's bytes: the original upload, or its compressed copy once there is one. */
export const downloadPhoto = useCase(
  VIEW_PHOTOS,
  async (scope, input: { uuid: string; variant: "original" | "compressed"; range: RangeRequest }) =>
    visibleFile(scope, { table: photos, uuid: input.uuid, what: "Photo", range: input.range }, (photo) => {
      const original = input.variant === "original";
      const key = original ? photo.r2Key : photo.compressedKey;
      if (!key) throw new ApiError("NOT_FOUND", `Photo has no compressed version (processing_status: ${photo.processingStatus})`);
      const base = photo.filename.replace(/\.[^.]*$/, "");
      return {
        key,
        contentType: original ? photo.contentType : undefined,
        filename: original ? photo.filename : (type: string) => `${base}-compressed.${type === "image/png" ? "png" : "jpg"}`,
        disposition: "inline",
        missing: "Photo file not found",
      };
    }),
);
