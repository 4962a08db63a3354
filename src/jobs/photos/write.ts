import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { jobs, photos } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { jobForChange } from "../../domain/job-access";
import { zId } from "../../domain/values";
import { done } from "../../http/envelope";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { removeStored } from "../../media/cleanup";
import { objectKey } from "../../media/keys";
import type { MediaMessage } from "../../media/messages";
import { EXTENSIONS } from "../../media/sniff";
import { readUpload, storeRecordEnqueue, zFile } from "../../media/upload";

export const PHOTO_TYPES = ["before", "during", "after", "other"] as const;

/** Where a photo's files live: its original, compressed version and (videos) variants. */
export const photoPrefix = (jobUuid: string, photoUuid: string) => objectKey(jobUuid, "photos", photoUuid, "");

const uploadBody = z.object({
  action: z.literal("upload"),
  job_id: zId(),
  photo_type: z.enum(PHOTO_TYPES, { error: `must be one of: ${PHOTO_TYPES.join(", ")}` }).default("other"),
  file: zFile(),
});

export const postPhotos = operation({
  method: "post",
  path: "/api/jobs/photos",
  operationId: "uploadPhoto",
  summary: "Upload a photo or video (action=upload, multipart/form-data)",
  description:
    "JPEG, PNG or MP4 up to 20 MB, recognised by its bytes (the name and declared type are ignored). " +
    "Answers 201 with `processing_status: pending`; images are then compressed on the media queue (metadata stripped, " +
    "long edge capped at 2048 px), videos wait for the video pipeline. 413 over 20 MB; 415 for content that is not an " +
    "accepted format, truncated, a polyglot or a pixel bomb (over 50 MP).",
  tag: "Photos",
  permission: "api.jobs.photos.manage",
  body: uploadBody,
  actions: ["upload"],
  responses: {
    201: jsonResponse(
      "Stored and queued",
      z.object({
        success: z.literal(true),
        photo_id: z.number().int(),
        photo_uuid: z.string(),
        processing_status: z.literal("pending"),
        message: z.string(),
      }),
    ),
  },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const { job } = await jobForChange(ctx, { id: body.job_id });
    const file = await readUpload(body.file, ["jpeg", "png", "mp4"]);
    const kind = file.sniffed.type === "mp4" ? "video" : "image";
    const uuid = crypto.randomUUID();
    const key = objectKey(job.uuid, "photos", uuid, `original.${EXTENSIONS[file.sniffed.type]}`);
    const id = await storeRecordEnqueue(ctx.services, {
      key,
      bytes: file.bytes,
      contentType: file.sniffed.contentType,
      table: photos,
      values: {
        uuid,
        jobId: job.id,
        photoType: body.photo_type,
        kind,
        r2Key: key,
        filename: file.filename,
        contentType: file.sniffed.contentType,
        size: file.bytes.length,
        width: file.sniffed.width ?? null,
        height: file.sniffed.height ?? null,
        uploadedBy: ctx.caller.userId,
      },
      audit: {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: ctx.caller,
        action: "photo.uploaded",
        changes: { photo_uuid: uuid, photo_type: body.photo_type, kind, filename: file.filename, size: file.bytes.length },
      },
      after: (photoId) => {
        // Videos go to the transcoder (src/media/video-job.ts), images to the photon compressor.
        const message: MediaMessage = kind === "video" ? { type: "video.transcode", photoId } : { type: "photo.compress", photoId };
        return c.env.MEDIA_QUEUE.send(message);
      },
    });
    return done(c, "Photo uploaded", { photo_id: id, photo_uuid: uuid, processing_status: "pending" }, 201);
  },
});

export const deletePhotos = operation({
  method: "delete",
  path: "/api/jobs/photos",
  operationId: "deletePhoto",
  summary: 'Delete a photo or video: JSON body {"id": <id>}',
  description: "Removes the row and every stored file of the photo (original, compressed version, video variants).",
  tag: "Photos",
  permission: "api.jobs.photos.manage",
  body: z.object({ id: zId() }),
  responses: { 200: jsonResponse("Deleted", MessageOnly.extend({ photo_uuid: z.string() })) },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    await ctx.principal();
    const photo = await ctx.db
      .select({ id: photos.id, uuid: photos.uuid, jobId: photos.jobId, filename: photos.filename, photoType: photos.photoType })
      .from(photos)
      .innerJoin(jobs, eq(jobs.id, photos.jobId))
      .where(and(eq(photos.id, body.id), await ctx.jobVisible()))
      .get();
    if (!photo) throw notFound("Photo");
    const { job } = await jobForChange(ctx, { id: photo.jobId });
    const db = ctx.db;
    await db.batch([
      db.delete(photos).where(eq(photos.id, photo.id)),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: ctx.caller,
        action: "photo.deleted",
        changes: { photo_uuid: photo.uuid, photo_type: photo.photoType, filename: photo.filename },
      }),
    ]);
    await removeStored(c.var.ctx.services, photoPrefix(job.uuid, photo.uuid));
    return done(c, "Photo deleted", { photo_uuid: photo.uuid });
  },
});
