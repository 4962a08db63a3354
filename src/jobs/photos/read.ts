import { z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { jobs, photos } from "../../db/schema";
import { ApiError, notFound } from "../../domain/errors";
import { zId, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { jsonResponse, operation } from "../../http/operation";
import { serveObject } from "../../media/upload";
import { readVisiblePhoto } from "./visible";
import { PHOTO_TYPES } from "./write";

const FILE_PATH = "/api/jobs/photos/file";
const fileUrl = (uuid: string, variant: "original" | "compressed") => `${FILE_PATH}?uuid=${uuid}&variant=${variant}`;

const PhotoItem = z.object({
  ID: z.number().int(),
  uuid: z.string(),
  job_id: z.number().int(),
  photo_type: z.enum(PHOTO_TYPES),
  kind: z.enum(["image", "video"]),
  filename: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  compressed_size: z
    .number()
    .int()
    .nullable()
    .openapi({ description: "Bytes after compression (equal to size when the original was kept)" }),
  processing_status: z.enum(["pending", "processing", "completed", "failed"]),
  processing_error: z.string().nullable(),
  url: z.string().openapi({
    description:
      "The photo to show (GET, same bearer token): the compressed, metadata-free image once compression has produced one, " +
      "else the original (before compression, when the original was already the smallest, and for videos)",
  }),
  original_url: z.string().openapi({ description: "The original upload's bytes, always (GET, same bearer token)" }),
  compressed_url: z.string().nullable().openapi({ description: "The compressed, metadata-free image; null until there is one" }),
  created_at: z.string(),
});

const Grouped = z.object(
  Object.fromEntries(PHOTO_TYPES.map((t) => [t, z.array(PhotoItem)])) as Record<(typeof PHOTO_TYPES)[number], z.ZodArray<typeof PhotoItem>>,
);

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
  permission: "api.jobs.photos.manage",
  query: z.object({ action: z.literal("list").optional(), job_id: zId() }),
  responses: {
    200: jsonResponse(
      "Photos by type",
      z.object({ success: z.literal(true), data: Grouped, count: z.number().int(), message: z.string() }),
    ),
  },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const visible = await ctx.jobVisible();
    const [jobRows, rows] = await ctx.read([
      ctx.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.id, query.job_id), visible)),
      ctx.db
        .select({ photo: photos })
        .from(photos)
        .innerJoin(jobs, eq(jobs.id, photos.jobId))
        .where(and(eq(jobs.id, query.job_id), visible))
        .orderBy(asc(photos.id)),
    ]);
    if (jobRows.length === 0) throw notFound("Job");
    const data: z.infer<typeof Grouped> = { before: [], during: [], after: [], other: [] };
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
        url: fileUrl(p.uuid, p.compressedKey ? "compressed" : "original"),
        original_url: fileUrl(p.uuid, "original"),
        compressed_url: p.compressedKey ? fileUrl(p.uuid, "compressed") : null,
        created_at: p.createdAt,
      });
    }
    return ok(c, data, { count: rows.length, message: "Photos retrieved successfully" });
  },
});

export const getPhotoFile = operation({
  method: "get",
  path: FILE_PATH,
  operationId: "getPhotoFile",
  summary: "A photo's bytes (uuid=…&variant=original|compressed)",
  description:
    "Streams the original upload or its compressed, metadata-free version, with the sniffed content type, " +
    "`X-Content-Type-Options: nosniff` and an inline Content-Disposition naming the file. Contractors reach only their jobs' photos.",
  tag: "Photos",
  permission: "api.jobs.photos.view",
  query: z.object({
    uuid: zUuid(),
    variant: z.enum(["original", "compressed"], { error: "must be original or compressed" }).default("original"),
  }),
  responses: {
    200: {
      description: "The file's bytes",
      content: {
        "image/jpeg": { schema: z.string().openapi({ format: "binary" }) },
        "image/png": { schema: z.string().openapi({ format: "binary" }) },
        "video/mp4": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
  },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const photo = await readVisiblePhoto(ctx, query.uuid);
    if (!photo) throw notFound("Photo");
    const key = query.variant === "original" ? photo.r2Key : photo.compressedKey;
    if (!key) throw new ApiError("NOT_FOUND", `Photo has no compressed version (processing_status: ${photo.processingStatus})`);
    const base = photo.filename.replace(/\.[^.]*$/, "");
    return serveObject(c.env, c.req.raw, key, {
      contentType: query.variant === "original" ? photo.contentType : undefined,
      filename: query.variant === "original" ? photo.filename : (type) => `${base}-compressed.${type === "image/png" ? "png" : "jpg"}`,
      disposition: "inline",
      missing: "Photo file not found",
    });
  },
});
