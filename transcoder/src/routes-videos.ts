// POST /v1/videos/transcode — validate, take a slot, answer 202, run the job in the background.
// GET /v1/videos/status?job_id= — whether this process holds that job (and which attempt).

import type { VideoStatus } from "@propops/media-core/contract";
import { jsonBody, type RouteHandler } from "./http-io.ts";
import { runTranscodeJob, validateTranscodeRequest } from "./transcode.ts";

export const transcodeVideo: RouteHandler = (ctx, req) => {
  const body = jsonBody(req, validateTranscodeRequest);
  if (!body.ok) return body.answer;
  const job = body.value;
  const outcome = ctx.slots.tryStart(
    `video:${job.job_id}`,
    (release) => runTranscodeJob(job, ctx.config, ctx.shutdownSignal, release),
    job.attempt,
  );
  if (outcome === "busy") return { status: 503, body: { error: "busy" }, headers: { "retry-after": String(ctx.config.retryAfterSeconds) } };
  if (outcome === "duplicate") return { status: 409, body: { error: "job already running", job_id: job.job_id } };
  return { status: 202, body: { accepted: true, job_id: job.job_id } };
};

/**
 * The Worker asks after a job it handed over (src/media/video-job.ts, `video.check`): a job this
 * process does not hold was lost (the process restarted, or the job ended without reporting), so
 * the Worker re-dispatches it at once instead of waiting for its watchdog.
 */
export const videoStatus: RouteHandler = (ctx, req) => {
  const jobId = req.url.searchParams.get("job_id")?.trim() ?? "";
  if (jobId === "" || jobId.length > 256) return { status: 400, body: { error: "job_id is required (at most 256 characters)" } };
  const job = ctx.slots.job(`video:${jobId}`);
  const body: VideoStatus = job ? { job_id: jobId, running: true, ...job } : { job_id: jobId, running: false };
  return { status: 200, body };
};
