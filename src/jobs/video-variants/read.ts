import { z } from "@hono/zod-openapi";
import { ApiError, notFound } from "../../domain/errors";
import { zUuid } from "../../domain/values";
import { jsonResponse, operation } from "../../http/operation";
import { serveObject } from "../../media/upload";
import { type StoredVariants, VARIANT_NAMES, type VariantName } from "../../media/video-job";
import { readVisiblePhoto } from "../photos/visible";

/** The photos endpoint streams a video's or image's original upload (same permission and job confinement). */
const originalUrl = (uuid: string) => `/api/jobs/photos/file?uuid=${uuid}&variant=original`;
const FILE_PATH = "/api/jobs/video-variants/file";
const FILE_KINDS = [...VARIANT_NAMES, "thumbnail"] as const;
type FileKind = (typeof FILE_KINDS)[number];
const fileUrl = (uuid: string, kind: FileKind) => `${FILE_PATH}?uuid=${uuid}&variant=${kind}`;

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

/** Reads the stored variants JSON, keeping only well-formed rungs (never trusts it blindly). */
function storedVariants(json: string | null): StoredVariants {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  const out: StoredVariants = {};
  if (typeof parsed !== "object" || parsed === null) return out;
  for (const name of VARIANT_NAMES) {
    const v: unknown = (parsed as Record<string, unknown>)[name];
    if (typeof v !== "object" || v === null) continue;
    const r = v as Record<string, unknown>;
    const { key, width, height, bitrate, size } = r;
    if (
      typeof key === "string" &&
      typeof width === "number" &&
      typeof height === "number" &&
      typeof bitrate === "number" &&
      typeof size === "number"
    ) {
      out[name] = { key, width, height, bitrate, size };
    }
  }
  return out;
}

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
  tag: "Photos",
  permission: "api.jobs.photos.view",
  query: z.object({ uuid: zUuid() }),
  responses: { 200: jsonResponse("The video's sources", VideoVariants) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const photo = await readVisiblePhoto(ctx, query.uuid);
    if (!photo) throw notFound("Video");
    const processed = photo.processingStatus === "completed";
    // An image has no resolution rungs: the original is its only source, as for a video not transcoded.
    const stored = processed && photo.kind === "video" ? storedVariants(photo.variants) : {};
    const variants: Partial<Record<VariantName, z.infer<typeof Variant>>> = {};
    for (const name of VARIANT_NAMES) {
      const v = stored[name];
      if (v) variants[name] = { url: fileUrl(photo.uuid, name), width: v.width, height: v.height, bitrate: v.bitrate, size: v.size };
    }
    const body: z.infer<typeof VideoVariants> = {
      success: true,
      uuid: photo.uuid,
      original: { url: originalUrl(photo.uuid), size: photo.size, path: photo.r2Key },
      variants: Object.keys(variants).length > 0 ? variants : [],
      thumbnail: processed && photo.kind === "video" && photo.thumbnailKey ? fileUrl(photo.uuid, "thumbnail") : null,
      processing_status: photo.processingStatus,
      processed,
      processed_at: processed ? photo.processedAt : null,
    };
    // The reference's shape: fields at the top level, no data envelope.
    return c.json(body);
  },
});

export const getVideoVariantFile = operation({
  method: "get",
  path: FILE_PATH,
  operationId: "getVideoVariantFile",
  summary: "A video variant's or thumbnail's bytes (uuid=…&variant=1080p|720p|thumbnail)",
  description:
    "Streams a processed video's variant (video/mp4, moov first for progressive playback) or its JPEG thumbnail, with " +
    "`X-Content-Type-Options: nosniff`. 404 when the video has no such variant (not processed yet, or not produced). " +
    "Contractors reach only their jobs' videos.",
  tag: "Photos",
  permission: "api.jobs.photos.view",
  query: z.object({ uuid: zUuid(), variant: z.enum(FILE_KINDS, { error: `must be one of: ${FILE_KINDS.join(", ")}` }) }),
  responses: {
    200: {
      description: "The file's bytes",
      content: {
        "video/mp4": { schema: z.string().openapi({ format: "binary" }) },
        "image/jpeg": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
  },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const photo = await readVisiblePhoto(ctx, query.uuid);
    if (photo?.kind !== "video") throw notFound("Video");
    const processed = photo.processingStatus === "completed";
    const key =
      query.variant === "thumbnail"
        ? processed
          ? photo.thumbnailKey
          : null
        : processed
          ? (storedVariants(photo.variants)[query.variant]?.key ?? null)
          : null;
    if (!key) throw new ApiError("NOT_FOUND", `Video has no ${query.variant} (processing_status: ${photo.processingStatus})`);
    const base = photo.filename.replace(/\.[^.]*$/, "");
    const thumbnail = query.variant === "thumbnail";
    return serveObject(c.env, c.req.raw, key, {
      contentType: thumbnail ? "image/jpeg" : "video/mp4",
      filename: thumbnail ? `${base}-thumbnail.jpg` : `${base}-${query.variant}.mp4`,
      disposition: "inline",
      missing: `Video ${query.variant} file not found`,
    });
  },
});
