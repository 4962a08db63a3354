/**
 * POST /internal/media/video-callback: the transcoder reports a job's result here (signed URL,
 * video-callback.ts). Authorised by the signature alone (no bearer token, no CSRF), so it is a
 * plain Hono route outside the OpenAPI document, like internal-routes.ts.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../http/operation";
import { CALLBACK_PATH, CallbackBody, MAX_CALLBACK_BYTES, verifyCallbackUrl } from "./video-callback";
import { recordTranscodeResult } from "./video-job";

const answer = (status: 200 | 400 | 403 | 409 | 410 | 413, body: Record<string, unknown>) =>
  new Response(JSON.stringify({ success: status === 200, ...body }), { status, headers: { "content-type": "application/json" } });

/** Mounts POST /internal/media/video-callback (call next to internalMediaRoutes, before the API routes). */
export function videoCallbackRoutes(app: Hono<AppEnv>) {
  app.post(CALLBACK_PATH, async (c) => {
    const checked = await verifyCallbackUrl(c.env.SIGNING_SECRET, new URL(c.req.url).searchParams);
    if (checked.verdict !== "ok") return answer(403, { message: `signed callback URL ${checked.verdict}` });
    const { target } = checked;

    const length = Number(c.req.header("content-length") ?? "0");
    if (length > MAX_CALLBACK_BYTES) return answer(413, { message: `callback body larger than ${MAX_CALLBACK_BYTES} bytes` });
    let json: unknown;
    try {
      const text = await c.req.text();
      if (text.length > MAX_CALLBACK_BYTES) return answer(413, { message: `callback body larger than ${MAX_CALLBACK_BYTES} bytes` });
      json = JSON.parse(text);
    } catch {
      return answer(400, { message: "callback body is not JSON" });
    }
    const parsed = CallbackBody.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return answer(400, { message: `callback body: ${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid"}` });
    }
    // The URL authorises one photo's attempt; a body about another job is not this URL's to report.
    if (parsed.data.job_id !== target.photoUuid || parsed.data.attempt !== target.attempt) {
      return answer(403, { message: "callback signed for another job or attempt" });
    }
    const outcome = await recordTranscodeResult(c.var.ctx.services, target, parsed.data);
    return answer(outcome.status, { outcome: outcome.outcome, message: outcome.message });
  });
}
