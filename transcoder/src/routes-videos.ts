// POST /v1/videos/transcode — validate, take a slot, answer 202, run the job in the background.
import type { RouteHandler } from "./server.ts";
import { runTranscodeJob, validateTranscodeRequest } from "./transcode.ts";

export const transcodeVideo: RouteHandler = (ctx, req) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString("utf8"));
  } catch {
    return { status: 400, body: { error: "body is not valid JSON" } };
  }
  const v = validateTranscodeRequest(parsed);
  if (!v.ok) return { status: 400, body: { error: v.error } };
  const job = v.value;
  const outcome = ctx.slots.tryStart(`video:${job.job_id}`, (release) => runTranscodeJob(job, ctx.config, ctx.shutdownSignal, release));
  if (outcome === "busy") return { status: 503, body: { error: "busy" }, headers: { "retry-after": String(ctx.config.retryAfterSeconds) } };
  if (outcome === "duplicate") return { status: 409, body: { error: "job already running", job_id: job.job_id } };
  return { status: 202, body: { accepted: true, job_id: job.job_id } };
};
