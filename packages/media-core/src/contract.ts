/**
 * The Worker ↔ media service wire format, once: the Worker builds requests and checks answers with
 * these schemas, the media service (transcoder/) checks requests with the same ones, and the tests
 * use them for their doubles. Only zod; no Worker or Node APIs (both sides import this file).
 */
import { z } from "zod";

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const count = z.number().int().nonnegative();
const put = z.object({ put_url: httpUrl });

/** POST /v1/images/compress: one image too large for the Worker's photon budget. */
export const ImageCompressRequest = z.object({
  photo_id: z.number().int().positive(),
  source_url: httpUrl,
  put_url: httpUrl,
  max_long_edge: z.number().int().min(64).max(8192).optional(),
  jpeg_quality: z.number().int().min(1).max(100).optional(),
});
export type ImageCompressRequest = z.infer<typeof ImageCompressRequest>;

/** Its 200 answer; the result was PUT to put_url only when `outcome` is "compressed". */
export const ImageCompressAnswer = z.object({
  outcome: z.enum(["compressed", "original_kept"]),
  content_type: z.string().default("image/jpeg"),
  width: count,
  height: count,
  output_width: count,
  output_height: count,
  bytes_before: count.optional(),
  bytes_after: count,
});
export type ImageCompressAnswer = z.infer<typeof ImageCompressAnswer>;

/** Any non-2xx answer of the media service. */
export const MediaServiceError = z.object({ error: z.string().optional(), retryable: z.boolean().optional() });

/** POST /v1/videos/transcode: one attempt at a video, answered later through callback_url. */
export const TranscodeRequest = z.object({
  job_id: z.string().trim().min(1).max(256),
  attempt: count,
  source_url: httpUrl,
  outputs: z.object({ "1080p": put, "720p": put, thumbnail: put }),
  callback_url: httpUrl,
});
export type TranscodeRequest = z.infer<typeof TranscodeRequest>;

/** GET /v1/videos/status?job_id=: whether the service holds the job now (a restarted service holds none). */
export const VideoStatus = z.discriminatedUnion("running", [
  z.object({
    job_id: z.string(),
    running: z.literal(true),
    attempt: count,
    phase: z.enum(["running", "reporting"]),
    started_at: z.string(),
  }),
  z.object({ job_id: z.string(), running: z.literal(false) }),
]);
export type VideoStatus = z.infer<typeof VideoStatus>;

const Variant = z.object({ width: count, height: count, bitrate: count, size: count });

/** The transcoder's callback body (its JobResult); extra fields are ignored. */
export const TranscodeCallback = z.discriminatedUnion("status", [
  z.object({
    job_id: z.string(),
    attempt: count,
    status: z.literal("completed"),
    source: z.object({
      width: count,
      height: count,
      duration: z.number().nonnegative(),
      bitrate: count,
      size: count,
      has_audio: z.boolean(),
    }),
    variants: z.object({ "1080p": Variant.optional(), "720p": Variant.optional() }),
    thumbnail: z.object({ width: count, height: count, size: count }),
    skipped: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ job_id: z.string(), attempt: count, status: z.literal("failed"), error: z.string(), retryable: z.boolean() }),
]);
export type TranscodeCallback = z.infer<typeof TranscodeCallback>;

/** A failed validation as one line, for the media service's 400 answers. */
export const describeIssues = (error: z.ZodError) =>
  error.issues.map((i) => (i.path.length === 0 ? "body must be a JSON object" : `${i.path.join(".")}: ${i.message}`)).join("; ");
