// POST /v1/images/compress — photos too large for the Worker's photon budget, compressed here by the
// same photon code (src/media/photo-compressor.ts) without the isolate's 128 MB limit. The request
// and answer are the shared wire format (src/media/contract.ts).
//
// Request:  { photo_id, source_url, put_url, max_long_edge?, jpeg_quality? }  (signed Worker URLs)
// Answer (synchronous, one image takes seconds):
//   200 { outcome, content_type, width, height, output_width, output_height, bytes_before, bytes_after, wasm_memory_bytes, ms }
//   400 invalid request · 409 same photo already running · 422 image refused (not retryable)
//   502 source or upload failed (retryable) · 503 busy (Retry-After)
// The result is PUT to put_url only when it is smaller than the original (outcome "compressed").
import { describeIssues, ImageCompressRequest } from "@propops/media-core/contract";
import { compressImage, ImageRejected } from "@propops/media-core/photo-compressor";
import { errorMessage, JobError } from "./errors.ts";
import { jsonBody, type RouteHandler, type RouteResult } from "./http-io.ts";

/** The Worker accepts uploads up to 20 MB; a little slack for nothing else. */
export const MAX_IMAGE_SOURCE_BYTES = 20 * 1024 * 1024;
const PUT_ATTEMPTS = 3;

export type ImageRequest = ImageCompressRequest;

/** The request, checked with the wire format the Worker builds it from (src/media/contract.ts). */
export function validateImageRequest(body: unknown): { ok: true; value: ImageRequest } | { ok: false; error: string } {
  const parsed = ImageCompressRequest.safeParse(body);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: describeIssues(parsed.error) };
}

/** GET into memory, stopping as soon as more than `maxBytes` arrive (whatever Content-Length says). */
async function download(url: string, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    throw new JobError(`source download failed: ${errorMessage(e)}`, true);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new JobError(`source download failed: HTTP ${res.status}`, res.status >= 500 || res.status === 429);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new JobError(`source larger than ${maxBytes} bytes`, false);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function put(url: string, bytes: Uint8Array, contentType: string, signal: AbortSignal): Promise<void> {
  let last = "";
  for (let i = 0; i < PUT_ATTEMPTS; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** (i - 1)));
    try {
      const res = await fetch(url, { method: "PUT", body: bytes, headers: { "content-type": contentType }, signal });
      await res.body?.cancel().catch(() => {});
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      if (res.status < 500) break;
    } catch (e) {
      last = errorMessage(e);
    }
  }
  throw new JobError(`upload failed: ${last}`, true);
}

/** Download → compress (photon, synchronous) → upload the result if it is smaller → figures. */
export async function runImageJob(req: ImageRequest, signal: AbortSignal): Promise<RouteResult> {
  const started = Date.now();
  try {
    const source = await download(req.source_url, MAX_IMAGE_SOURCE_BYTES, signal);
    const r = compressImage(source, { maxLongEdge: req.max_long_edge, jpegQuality: req.jpeg_quality });
    if (r.outcome === "compressed") await put(req.put_url, r.bytes, r.contentType, signal);
    return {
      status: 200,
      body: {
        outcome: r.outcome,
        content_type: r.contentType,
        width: r.width,
        height: r.height,
        output_width: r.outputWidth,
        output_height: r.outputHeight,
        bytes_before: r.bytesBefore,
        bytes_after: r.bytesAfter,
        wasm_memory_bytes: r.wasmMemoryBytes,
        ms: Date.now() - started,
      },
    };
  } catch (e) {
    if (e instanceof ImageRejected) return { status: 422, body: { error: e.message, retryable: false } };
    if (e instanceof JobError) return { status: e.retryable ? 502 : 422, body: { error: e.message, retryable: e.retryable } };
    return { status: 500, body: { error: `internal error: ${errorMessage(e)}`, retryable: true } };
  }
}

export const compressImageRoute: RouteHandler = async (ctx, req) => {
  const body = jsonBody(req, validateImageRequest);
  if (!body.ok) return body.answer;
  const job = body.value;
  // Shares the server's job slots with videos: photon needs hundreds of MB for a 48 MP photo.
  let answer: (r: RouteResult) => void = () => {};
  const done = new Promise<RouteResult>((resolve) => {
    answer = resolve;
  });
  const outcome = ctx.slots.tryStart(`image:${job.photo_id}`, async () => answer(await runImageJob(job, ctx.shutdownSignal)));
  if (outcome === "busy")
    return { status: 503, body: { error: "busy", retryable: true }, headers: { "retry-after": String(ctx.config.retryAfterSeconds) } };
  if (outcome === "duplicate") return { status: 409, body: { error: "image already being compressed", photo_id: job.photo_id } };
  return done;
};
