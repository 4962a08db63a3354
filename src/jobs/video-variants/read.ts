import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { ex, VIDEO_UUID } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { rangeOf } from "../../media/range";
import { fileResponse } from "../../media/serve";
import { fileResponses } from "../../media/upload";
import { downloadVideoVariant, FILE_KINDS, listVideoVariants, VARIANT_FILE_PATH } from "./service";

const Variant = z.object({
  url: z.string().openapi({ description: "The variant's bytes (GET, same bearer token)" }),
  width: z.number().int(),
  height: z.number().int(),
  bitrate: z.number().int().openapi({ description: "Bits per second" }),
  size: z.number().int().openapi({ description: "Bytes" }),
});

const VideoVariants = z
  .object({
    success: z.literal(true),
    uuid: z.string(),
    original: z.object({
      url: z.string().openapi({ description: "The uploaded file's bytes (GET, same bearer token)" }),
      size: z.number().int(),
      path: z.string().openapi({ description: "Storage key of the original" }),
    }),
    variants: z
      .union([z.object({ "1080p": Variant.optional(), "720p": Variant.optional() }), z.array(z.unknown()).max(0)])
      .openapi({ description: "Keyed by rung; an empty array when the original is the only source (not processed yet, or too small)" }),
    thumbnail: z.string().nullable().openapi({ description: "JPEG thumbnail URL; null until processed" }),
    processing_status: z.enum(["pending", "processing", "completed", "failed"]),
    processed: z.boolean(),
    processed_at: z.string().nullable(),
  })
  .openapi("VideoVariants");

/** The example video's original, as both examples answer it. */
const ORIGINAL = { url: "/attachment/a1b2c3d4-e5f6-7890-abcd-ef0123456789", size: 15728640, path: "uploads/jobs/videos/a1b2c3d4.mp4" };

export const getVideoVariants = operation({
  method: "get",
  path: "/api/jobs/video-variants",
  operationId: "getVideoVariants",
  summary: "Resolution variants of a job photo or video (uuid=…)",
  description:
    "The original upload and, once the transcoder has processed the video, its H.264/AAC variants (`1080p`, `720p`; a rung is " +
    "produced only when the source is at least that size and the result is no larger than the source) and a JPEG thumbnail. " +
    "Before processing (or when no rung applies) `variants` is an empty array: the original is the only source. URLs are API " +
    "paths answering with the bytes under the same permission. A photo (image) record answers the same shape as a video not " +
    "transcoded: its original, `variants: []`, `thumbnail: null`, and `processed: true` once its compression has completed " +
    "(the compressed copy is listed by GET /api/jobs/photos). 404 for an unknown uuid or a job the caller may not see.",
  tag: "Video Variants",
  permission: listVideoVariants.admission.permission,
  query: z.object({ uuid: zUuid() }),
  responses: { 200: jsonResponse("The video's sources", VideoVariants) },
  // The reference's shape: fields at the top level, no data envelope.
  handler: async (c, { query }) => c.json({ success: true as const, ...(await listVideoVariants(c.var.ctx, query)) }),
  docs: {
    query: { uuid: VIDEO_UUID },
    responses: {
      200: {
        processed: ex("A processed video", {
          success: true,
          uuid: VIDEO_UUID,
          original: ORIGINAL,
          variants: {
            "1080p": {
              url: "/uploads/jobs/videos/variants/a1b2c3d4_1080p.mp4",
              width: 1920,
              height: 1080,
              bitrate: 4000000,
              size: 12582912,
            },
            "720p": { url: "/uploads/jobs/videos/variants/a1b2c3d4_720p.mp4", width: 1280, height: 720, bitrate: 2500000, size: 6291456 },
          },
          thumbnail: "/uploads/jobs/videos/thumbnails/a1b2c3d4_thumb.jpg",
          processing_status: "completed",
          processed: true,
          processed_at: "2024-06-01T14:05:00Z",
        }),
        pending: ex("Not processed yet: the original is the only source", {
          success: true,
          uuid: VIDEO_UUID,
          original: ORIGINAL,
          variants: [],
          thumbnail: null,
          processing_status: "pending",
          processed: false,
          processed_at: null,
        }),
      },
    },
  },
});

export const getVideoVariantFile = operation({
  method: "get",
  path: VARIANT_FILE_PATH,
  operationId: "getVideoVariantFile",
  summary: "A video variant's or thumbnail's bytes (uuid=…&variant=1080p|720p|thumbnail)",
  description:
    "Streams a processed video's variant (video/mp4, moov first for progressive playback) or its JPEG thumbnail, with " +
    "`X-Content-Type-Options: nosniff`. 404 when the video has no such variant (not processed yet, or not produced). " +
    "Contractors reach only their jobs' videos.",
  tag: "Video Variants",
  permission: downloadVideoVariant.admission.permission,
  query: z.object({ uuid: zUuid(), variant: z.enum(FILE_KINDS, { error: `must be one of: ${FILE_KINDS.join(", ")}` }) }),
  responses: fileResponses("The file's bytes", ["video/mp4", "image/jpeg"]),
  handler: async (c, { query }) => fileResponse(await downloadVideoVariant(c.var.ctx, { ...query, range: rangeOf(c.req.raw) })),
  docs: {
    query: { uuid: VIDEO_UUID, variant: "720p" },
    responses: {},
  },
});
