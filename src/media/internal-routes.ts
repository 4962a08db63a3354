/**
 * Routes the media container calls with signed URLs (signed-urls.ts): read a source object, write
 * a result object. Authorised by the signature alone (no bearer token, no CSRF), so they are plain
 * Hono routes, not operation()s, and absent from the OpenAPI document.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../http/operation";
import { OBJECT_URL_PATH, type SignedMethod, verifyObjectUrl } from "./signed-urls";

/** Largest object the container may PUT (video variants are bounded by their source, ≤ 20 MB). */
export const MAX_PUT_BYTES = 100 * 1024 * 1024;
/** Content types a PUT may declare; anything else is stored as application/octet-stream. */
const PUT_TYPES = new Set(["image/jpeg", "image/png", "video/mp4"]);

const deny = (status: number, error: string) =>
  new Response(JSON.stringify({ success: false, message: error }), { status, headers: { "content-type": "application/json" } });

/** Mounts GET/PUT /internal/media/object on the app (call before the API routes). */
export function internalMediaRoutes(app: Hono<AppEnv>) {
  app.get(OBJECT_URL_PATH, async (c) => {
    const params = await verified(c.env, "GET", c.req.url);
    if (typeof params === "string") return deny(403, `signed URL ${params}`);
    const object = await c.var.ctx.services.media.get(params.key);
    if (!object) return deny(404, "object not found");
    return new Response(object.body, {
      headers: {
        "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
        "content-length": String(object.size),
        "cache-control": "no-store",
      },
    });
  });

  app.put(OBJECT_URL_PATH, async (c) => {
    const params = await verified(c.env, "PUT", c.req.url);
    if (typeof params === "string") return deny(403, `signed URL ${params}`);
    const length = Number(c.req.header("content-length") ?? "NaN");
    if (!Number.isInteger(length) || length < 1) return deny(411, "Content-Length is required");
    if (length > MAX_PUT_BYTES) return deny(413, `object larger than ${MAX_PUT_BYTES} bytes`);
    const declared = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const body = c.req.raw.body;
    if (!body) return deny(411, "Content-Length is required");
    // R2 needs a known length; the fixed-length stream also fails if fewer/more bytes arrive.
    const sized = new FixedLengthStream(length);
    const [object] = await Promise.all([
      c.var.ctx.services.media.put(params.key, sized.readable, {
        httpMetadata: { contentType: PUT_TYPES.has(declared) ? declared : "application/octet-stream" },
      }),
      body.pipeTo(sized.writable),
    ]);
    return c.json({ success: true, key: object?.key, size: object?.size }, 201);
  });
}

/** The signed key, or why the URL is refused ("invalid" | "expired"). */
async function verified(env: Env, method: SignedMethod, href: string) {
  const q = new URL(href).searchParams;
  const params = { key: q.get("key") ?? undefined, exp: q.get("exp") ?? undefined, sig: q.get("sig") ?? undefined };
  const verdict = await verifyObjectUrl(env.SIGNING_SECRET, method, params);
  return verdict === "ok" && params.key ? { key: params.key } : verdict;
}
