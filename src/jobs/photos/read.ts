import { z } from "@hono/zod-openapi";
import { zId, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, OK } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { rangeOf } from "../../media/range";
import { fileResponse } from "../../media/serve";
import { fileResponses } from "../../media/upload";
import { GroupedPhotos, PHOTO_FILE_PATH } from "./schemas";
import { downloadPhoto, listPhotos } from "./service";

export const getPhotos = operation({
  method: "get",
  path: "/api/jobs/photos",
  operationId: "listPhotos",
  summary: "List a job's photos grouped by type (job_id=…)",
  description:
    "Photos and videos of the job in `before`, `during`, `after` and `other`, oldest first; `count` is the total. " +
    "Photos are compressed on ingest (on the media queue): `url` serves the compressed copy once it exists and the original " +
    "until then (or when the original was already smaller); `original_url` always serves the upload as sent.",
  tag: "Photos",
  permission: listPhotos.admission.permission,
  query: z.object({ action: z.literal("list").optional(), job_id: zId() }),
  responses: {
    200: jsonResponse(
      "Photos by type",
      z.object({ success: z.literal(true), data: GroupedPhotos, count: z.number().int(), message: z.string() }),
    ),
  },
  handler: async (c, { query }) => {
    const { data, count } = await listPhotos(c.var.ctx, query);
    return ok(c, data, { count, message: "Photos retrieved successfully" });
  },
  docs: {
    query: { job_id: 1001 },
    responses: {
      200: {
        grouped: ex("Photos grouped by type", {
          success: true,
          data: {
            before: [
              {
                ID: 301,
                uuid: "550e8400-e29b-41d4-a716-446655440301",
                job_id: 1001,
                photo_type: "before",
                kind: "image",
                filename: "boiler.jpg",
                content_type: "image/jpeg",
                size: 2411520,
                width: 4032,
                height: 3024,
                compressed_size: 412000,
                processing_status: "completed",
                processing_error: null,
                url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=compressed",
                original_url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=original",
                compressed_url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=compressed",
                created_at: "2024-06-01T09:00:00Z",
              },
            ],
            during: [],
            after: [],
            other: [],
          },
          count: 1,
          message: OK,
        }),
      },
    },
  },
});

export const getPhotoFile = operation({
  method: "get",
  path: PHOTO_FILE_PATH,
  operationId: "getPhotoFile",
  summary: "A photo's bytes (uuid=…&variant=original|compressed)",
  description:
    "Streams the original upload or its compressed, metadata-free version, with the sniffed content type, " +
    "`X-Content-Type-Options: nosniff` and an inline Content-Disposition naming the file. Contractors reach only their jobs' photos.",
  tag: "Photos",
  permission: downloadPhoto.admission.permission,
  query: z.object({
    uuid: zUuid(),
    variant: z.enum(["original", "compressed"], { error: "must be original or compressed" }).default("original"),
  }),
  responses: fileResponses("The file's bytes", ["image/jpeg", "image/png", "video/mp4"]),
  handler: async (c, { query }) => fileResponse(await downloadPhoto(c.var.ctx, { ...query, range: rangeOf(c.req.raw) })),
  docs: {
    query: { uuid: "550e8400-e29b-41d4-a716-446655440301", variant: "compressed" },
    responses: {},
  },
});
