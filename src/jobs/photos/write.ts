import { z } from "@hono/zod-openapi";
import { zId } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, exDone } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { fileInput, zFile } from "../../media/upload";
import { PHOTO_TYPES } from "./schemas";
import { deletePhoto, uploadPhoto } from "./service";

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
  permission: uploadPhoto.admission.permission,
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
  handler: async (c, { body }) =>
    done(c, "Photo uploaded", await uploadPhoto(c.var.ctx, { ...body, file: await fileInput(body.file) }), 201),
  docs: {
    body: {
      upload: ex("Upload a photo (multipart/form-data)", {
        action: "upload",
        job_id: 1001,
        photo_type: "before",
        file: "(JPEG, PNG or MP4 bytes)",
      }),
    },
    responses: {
      201: {
        uploaded: ex("Stored; compression or transcoding follows", {
          success: true,
          photo_id: 301,
          photo_uuid: "550e8400-e29b-41d4-a716-446655440301",
          processing_status: "pending",
          message: "Photo uploaded successfully",
        }),
      },
    },
    unavailable: true,
  },
});

export const deletePhotos = operation({
  method: "delete",
  path: "/api/jobs/photos",
  operationId: "deletePhoto",
  summary: 'Delete a photo or video: JSON body {"id": <id>}',
  description: "Removes the row and every stored file of the photo (original, compressed version, video variants).",
  tag: "Photos",
  permission: deletePhoto.admission.permission,
  body: z.object({ id: zId() }),
  responses: { 200: jsonResponse("Deleted", MessageOnly.extend({ photo_uuid: z.string() })) },
  handler: async (c, { body }) => done(c, "Photo deleted", await deletePhoto(c.var.ctx, body)),
  docs: {
    body: { delete: ex("Send the photo ID as a JSON body", { id: 301 }) },
    responses: { 200: { deleted: exDone("Photo deleted", { photo_uuid: "550e8400-e29b-41d4-a716-446655440301" }) } },
  },
});
