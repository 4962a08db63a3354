/**
 * The video pipeline inside workerd: dispatch to the real transcoder process (started by
 * test/support/transcoder-global-setup.ts), the watchdog, the signed completion callback and
 * GET /api/jobs/video-variants. The Worker under vitest has no HTTP port, so the transcoder's own
 * callbacks cannot arrive here: the test plays the transcoder's side of the storage and callback
 * protocol through the Worker's fetch, with the URLs the dispatch handed out.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { makeJpeg, makeMp4, transcoderCompleted } from "../../../../scripts/lib/media-fixtures";
import worker from "../../../../src/index";
import type { MediaMessage } from "../../../../src/media/messages";
import { consumeDeadLetters } from "../../../../src/media/queue";
import { signCallbackUrl } from "../../../../src/media/video-callback";
import { MAX_VIDEO_ATTEMPTS } from "../../../../src/media/video-job";
import { createServices } from "../../../../src/platform/services";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, makeUser, seedFixtures } from "../../../support/helpers";

const BASE = "https://propops.test";
let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let otherContractor: Actor;
let job: { job_id: number; job_uuid: string };
let otherJob: { job_id: number; job_uuid: string };

/** What the Worker queued (recorded, not delivered: each test drives the consumer itself). */
let sent: { body: MediaMessage; delaySeconds?: number }[] = [];

interface DispatchBody {
  job_id: string;
  attempt: number;
  source_url: string;
  outputs: Record<"1080p" | "720p" | "thumbnail", { put_url: string }>;
  callback_url: string;
}

beforeAll(async () => {
  Object.assign(env, {
    MEDIA_SERVICE: "process",
    TRANSCODER_URL: inject("transcoderUrl"),
    // Nothing listens here: the real transcoder's download of the source fails fast and its
    // callback goes nowhere, instead of reaching whatever runs on the default port.
    PUBLIC_URL: "http://127.0.0.1:9",
    VIDEO_WATCHDOG_SECONDS: "900",
  });
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId });
  job = await createJob(staff, fx, { contractor_id: fx.contractorId });
  otherJob = await createJob(staff, fx, { contractor_id: fx.otherContractorId, job_title: "Roof repair - other contractor" });
});

beforeEach(() => {
  sent = [];
  vi.spyOn(env.MEDIA_QUEUE, "send").mockImplementation(async (body: unknown, options?: QueueSendOptions) => {
    sent.push({ body: body as MediaMessage, delaySeconds: options?.delaySeconds });
    return { metadata: { metrics: { backlogCount: sent.length, backlogBytes: 0 } } };
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

async function uploadVideo(who: Actor = staff, jobId = job.job_id) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(jobId));
  form.append("file", new Blob([makeMp4()], { type: "video/mp4" }), "walkthrough.mp4");
  const res = await api("POST", "/api/jobs/photos", { token: who.token, csrf: who.csrf, body: form });
  expectStatus(res, 201);
  return { id: res.body.photo_id as number, uuid: res.body.photo_uuid as string };
}

async function photoRow(id: number) {
  return env.DB.prepare("SELECT * FROM photos WHERE id = ?").bind(id).first<Record<string, string | number | null>>();
}

async function auditActions(photoUuid: string) {
  const { results } = await env.DB.prepare("SELECT action, changes FROM audit_events WHERE instr(changes, ?) > 0 ORDER BY id")
    .bind(photoUuid)
    .all<{ action: string; changes: string }>();
  return results.map((r) => r.action);
}

/** Records what reaches the transcoder, passing it through to the real process. */
function watchTranscoder() {
  const realFetch = globalThis.fetch;
  const calls: { status: number; body: DispatchBody }[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await realFetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin === new URL(env.TRANSCODER_URL).origin && url.pathname === "/v1/videos/transcode") {
      calls.push({ status: res.status, body: JSON.parse(String(init?.body)) as DispatchBody });
    }
    return res;
  });
  return calls;
}

/** Delivers one message to the media consumer, as the queue would. */
async function deliver(body: MediaMessage, attempts = 1) {
  const batch = createMessageBatch<MediaMessage>("propops-media", [{ id: `m${Math.random()}`, timestamp: new Date(), attempts, body }]);
  const message = batch.messages[0];
  if (!message) throw new Error("empty batch");
  const retry = vi.spyOn(message, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return { ...(await getQueueResult(batch, ctx)), retryOptions: retry.mock.calls.map((c) => c[0]) };
}

/** Upload + dispatch through the consumer; answers the photo and what the transcoder was sent. */
async function dispatched(who: Actor = staff, jobId = job.job_id) {
  const video = await uploadVideo(who, jobId);
  sent = [];
  const calls = watchTranscoder();
  const result = await deliver({ type: "video.transcode", photoId: video.id });
  expect(result.explicitAcks).toHaveLength(1);
  const call = calls.at(-1);
  if (!call) throw new Error("nothing reached the transcoder");
  vi.unstubAllGlobals();
  return { ...video, request: call.body, status: call.status };
}

const post = (url: string, body: unknown) =>
  exports.default.fetch(new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));

async function putOutput(url: string, bytes: Uint8Array, contentType: string) {
  const res = await exports.default.fetch(
    new Request(url, { method: "PUT", body: bytes, headers: { "content-type": contentType, "content-length": String(bytes.length) } }),
  );
  expect(res.status, await res.clone().text()).toBe(201);
}

const VARIANT_BYTES = { "1080p": makeMp4(), "720p": makeMp4().subarray(0, 300) };
const THUMB_BYTES = makeJpeg(64, 36);

/** The transcoder's side: upload the outputs with the signed PUT URLs, then the result body. */
async function transcoderWork(req: DispatchBody) {
  await putOutput(req.outputs["1080p"].put_url, VARIANT_BYTES["1080p"], "video/mp4");
  await putOutput(req.outputs["720p"].put_url, VARIANT_BYTES["720p"], "video/mp4");
  await putOutput(req.outputs.thumbnail.put_url, THUMB_BYTES, "image/jpeg");
  return completedBody(req);
}

const completedBody = (req: Pick<DispatchBody, "job_id" | "attempt">) =>
  transcoderCompleted(req, {
    "1080p": VARIANT_BYTES["1080p"].length,
    "720p": VARIANT_BYTES["720p"].length,
    thumbnail: THUMB_BYTES.length,
  });

const failedBody = (req: Pick<DispatchBody, "job_id" | "attempt">, retryable: boolean, error: string) => ({
  job_id: req.job_id,
  attempt: req.attempt,
  status: "failed",
  error,
  retryable,
});

const variantsOf = (who: { token: string }, uuid: string) => api("GET", `/api/jobs/video-variants?uuid=${uuid}`, { token: who.token });

describe("dispatch (video.transcode)", () => {
  it("hands the video to the real transcoder (202) with signed URLs for this attempt, then arms the watchdog", async () => {
    // Times below are bracketed between before the dispatch and now: however long it took.
    const before = Date.now();
    const v = await dispatched();
    expect(v.status).toBe(202);
    const req = v.request;
    expect(req).toMatchObject({ job_id: v.uuid, attempt: 1 });
    const prefix = `jobs/${job.job_uuid}/photos/${v.uuid}/`;
    expect(new URL(req.source_url).searchParams.get("key")).toBe(`${prefix}original.mp4`);
    expect(new URL(req.outputs["1080p"].put_url).searchParams.get("key")).toBe(`${prefix}1080p.mp4`);
    expect(new URL(req.outputs["720p"].put_url).searchParams.get("key")).toBe(`${prefix}720p.mp4`);
    expect(new URL(req.outputs.thumbnail.put_url).searchParams.get("key")).toBe(`${prefix}thumbnail.jpg`);
    const cb = new URL(req.callback_url);
    expect(cb.pathname).toBe("/internal/media/video-callback");
    expect(Object.fromEntries(cb.searchParams)).toMatchObject({ job: job.job_uuid, photo: v.uuid, attempt: "1" });
    // Short-lived: 30 minutes.
    expect(Number(cb.searchParams.get("exp"))).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 1800);
    expect(Number(cb.searchParams.get("exp"))).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1800);

    expect(await photoRow(v.id)).toMatchObject({ processing_status: "processing", processing_attempts: 1 });
    // The watchdog first, then (once the transcoder has it) the first status check, 10 s on.
    expect(sent).toEqual([
      { body: { type: "video.watchdog", photoId: v.id, attempt: 1 }, delaySeconds: 900 },
      { body: { type: "video.check", photoId: v.id, attempt: 1, until: expect.any(Number) }, delaySeconds: 10 },
    ]);
    const until = Number((sent[1]?.body as { until?: number } | undefined)?.until);
    expect(until).toBeGreaterThanOrEqual(before + 900_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(await auditActions(v.uuid)).toEqual(["photo.uploaded", "photo.video_dispatched"]);
    // The signed source URL serves the original, and only with GET.
    const src = await exports.default.fetch(new Request(req.source_url));
    expect(src.status).toBe(200);
    expect(new Uint8Array(await src.arrayBuffer())).toEqual(makeMp4());
  });

  it("a duplicate delivery while the attempt runs is acked without a second dispatch; settled videos are left alone", async () => {
    const v = await dispatched();
    const calls = watchTranscoder();
    const again = await deliver({ type: "video.transcode", photoId: v.id });
    expect(again.explicitAcks).toHaveLength(1);
    expect(calls).toEqual([]);
    expect(await photoRow(v.id)).toMatchObject({ processing_status: "processing", processing_attempts: 1 });

    await env.DB.prepare("UPDATE photos SET processing_status = 'completed' WHERE id = ?").bind(v.id).run();
    const done = await deliver({ type: "video.transcode", photoId: v.id });
    expect(done.explicitAcks).toHaveLength(1);
    expect(calls).toEqual([]);
  });

  it("an unreachable transcoder: the message is retried with backoff, the video goes back to pending (not lost); the dead letter records failed", async () => {
    const video = await uploadVideo();
    const url = env.TRANSCODER_URL;
    Object.assign(env, { TRANSCODER_URL: "http://127.0.0.1:9" });
    try {
      const result = await deliver({ type: "video.transcode", photoId: video.id }, 3);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      // The consumer's backoff: 2 ** attempts seconds.
      expect(result.retryOptions).toEqual([{ delaySeconds: 8 }]);
    } finally {
      Object.assign(env, { TRANSCODER_URL: url });
    }
    const row = await photoRow(video.id);
    expect(row).toMatchObject({ processing_status: "pending", processing_attempts: 1 });
    expect(String(row?.processing_error)).toMatch(/^retrying: transcoder unreachable/);

    // The next delivery reaches the (running) transcoder: attempt 2.
    const calls = watchTranscoder();
    expect((await deliver({ type: "video.transcode", photoId: video.id }, 4)).explicitAcks).toHaveLength(1);
    expect(calls.map((c) => [c.status, c.body.attempt])).toEqual([[202, 2]]);

    // Had every retry failed: the dead-letter consumer records the reason.
    const other = await uploadVideo();
    Object.assign(env, { TRANSCODER_URL: "http://127.0.0.1:9" });
    try {
      await deliver({ type: "video.transcode", photoId: other.id }, 6);
    } finally {
      Object.assign(env, { TRANSCODER_URL: url });
    }
    const dead = createMessageBatch<MediaMessage>("propops-media-dlq", [
      { id: "d1", timestamp: new Date(), attempts: 6, body: { type: "video.transcode", photoId: other.id } },
    ]);
    await consumeDeadLetters(dead, createServices(env));
    const failed = await photoRow(other.id);
    expect(failed?.processing_status).toBe("failed");
    expect(String(failed?.processing_error)).toMatch(/^gave up after 1 attempts: transcoder unreachable/);
  });
});

describe("completion callback", () => {
  it("records the variants, thumbnail, source size and audit event; video-variants then answers the reference's shape", async () => {
    const v = await dispatched(contractor);
    const before = await variantsOf(staff, v.uuid);
    expectStatus(before, 200);
    expect(before.body).toEqual({
      success: true,
      uuid: v.uuid,
      original: {
        url: `/api/jobs/photos/file?uuid=${v.uuid}&variant=original`,
        size: makeMp4().length,
        path: `jobs/${job.job_uuid}/photos/${v.uuid}/original.mp4`,
      },
      variants: [],
      thumbnail: null,
      processing_status: "processing",
      processed: false,
      processed_at: null,
    });

    const res = await post(v.request.callback_url, await transcoderWork(v.request));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ success: true, outcome: "completed" });

    const row = await photoRow(v.id);
    expect(row).toMatchObject({
      processing_status: "completed",
      processing_error: null,
      width: 1920,
      height: 1080,
      thumbnail_key: `jobs/${job.job_uuid}/photos/${v.uuid}/thumbnail.jpg`,
    });
    expect(String(row?.processed_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(JSON.parse(String(row?.variants))).toEqual({
      "1080p": {
        key: `jobs/${job.job_uuid}/photos/${v.uuid}/1080p.mp4`,
        width: 1920,
        height: 1080,
        bitrate: 3_900_000,
        size: VARIANT_BYTES["1080p"].length,
      },
      "720p": {
        key: `jobs/${job.job_uuid}/photos/${v.uuid}/720p.mp4`,
        width: 1280,
        height: 720,
        bitrate: 2_400_000,
        size: VARIANT_BYTES["720p"].length,
      },
    });
    expect(await auditActions(v.uuid)).toEqual(["photo.uploaded", "photo.video_dispatched", "photo.video_processed"]);

    const after = await variantsOf(contractor, v.uuid);
    expectStatus(after, 200);
    expect(Object.keys(after.body)).toEqual([
      "success",
      "uuid",
      "original",
      "variants",
      "thumbnail",
      "processing_status",
      "processed",
      "processed_at",
    ]);
    expect(after.body).toMatchObject({
      success: true,
      uuid: v.uuid,
      variants: {
        "1080p": {
          url: `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=1080p`,
          width: 1920,
          height: 1080,
          bitrate: 3_900_000,
          size: VARIANT_BYTES["1080p"].length,
        },
        "720p": {
          url: `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=720p`,
          width: 1280,
          height: 720,
          bitrate: 2_400_000,
          size: VARIANT_BYTES["720p"].length,
        },
      },
      thumbnail: `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=thumbnail`,
      processing_status: "completed",
      processed: true,
      processed_at: row?.processed_at,
    });
    expect(Object.keys(after.body.variants)).toEqual(["1080p", "720p"]);

    // Every URL serves its bytes under the same bearer token.
    const bytes = async (who: { token: string }, url: string) => {
      const r = await exports.default.fetch(new Request(`${BASE}${url}`, { headers: { Authorization: `Bearer ${who.token}` } }));
      return { status: r.status, type: r.headers.get("content-type"), bytes: new Uint8Array(await r.arrayBuffer()) };
    };
    expect(await bytes(contractor, after.body.variants["1080p"].url)).toEqual({
      status: 200,
      type: "video/mp4",
      bytes: VARIANT_BYTES["1080p"],
    });
    expect(await bytes(contractor, after.body.variants["720p"].url)).toEqual({
      status: 200,
      type: "video/mp4",
      bytes: VARIANT_BYTES["720p"],
    });
    expect(await bytes(contractor, after.body.thumbnail)).toEqual({ status: 200, type: "image/jpeg", bytes: THUMB_BYTES });
    expect((await bytes(contractor, after.body.original.url)).bytes).toEqual(makeMp4());
    // The other contractor reaches none of them.
    expect((await bytes(otherContractor, after.body.variants["1080p"].url)).status).toBe(404);
    expect((await bytes(otherContractor, after.body.thumbnail)).status).toBe(404);

    // The transcoder retries a callback whose answer it lost: the repeat changes nothing.
    const again = await post(v.request.callback_url, completedBody(v.request));
    expect(again.status).toBe(200);
    expect(await photoRow(v.id)).toEqual(row);
  });

  it("only produced rungs are recorded; none produced → variants stays [] (the original is the only source)", async () => {
    const v = await dispatched();
    await putOutput(v.request.outputs.thumbnail.put_url, THUMB_BYTES, "image/jpeg");
    const body = {
      ...completedBody(v.request),
      source: { width: 640, height: 360, duration: 4, bitrate: 900_000, size: 450_000, has_audio: false },
      variants: {},
      skipped: {
        "1080p": "source is smaller than 1080p (640x360); not upscaled",
        "720p": "source is smaller than 720p (640x360); not upscaled",
      },
    };
    expect((await post(v.request.callback_url, body)).status).toBe(200);
    const res = await variantsOf(staff, v.uuid);
    expect(res.body).toMatchObject({ variants: [], processing_status: "completed", processed: true });
    expect(res.body.thumbnail).toMatch(/variant=thumbnail$/);
    const missing = await api("GET", `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=720p`, { token: staff.token });
    expectStatus(missing, 404);
  });

  it("refuses a forged signature, an expired one, and a URL or body for another video or attempt (403), changing nothing", async () => {
    const a = await dispatched();
    const b = await dispatched();
    const body = await transcoderWork(a.request);
    const snapshot = await photoRow(a.id);

    const forged = new URL(a.request.callback_url);
    forged.searchParams.set("sig", `${forged.searchParams.get("sig")?.slice(0, -2)}AA`);
    const refused = async (url: string, payload: unknown, message: RegExp) => {
      const res = await post(url, payload);
      expect(res.status).toBe(403);
      expect(String(((await res.json()) as { message: string }).message)).toMatch(message);
    };
    await refused(forged.toString(), body, /invalid/);

    // A valid signature over other values: change any signed field and it no longer verifies.
    for (const [param, value] of [
      ["photo", b.uuid],
      ["attempt", "2"],
      ["job", otherJob.job_uuid],
      ["exp", String(Number(forged.searchParams.get("exp")) + 3600)],
    ] as const) {
      const moved = new URL(a.request.callback_url);
      moved.searchParams.set(param, value);
      await refused(moved.toString(), { ...body, job_id: param === "photo" ? b.uuid : body.job_id }, /invalid/);
    }

    const expired = await signCallbackUrl(env, { jobUuid: job.job_uuid, photoUuid: a.uuid, attempt: 1 }, 600, Date.now() - 3600_000);
    await refused(expired, body, /expired/);

    // B's genuine URL cannot report about A, nor about another attempt of B.
    await refused(b.request.callback_url, body, /another job or attempt/);
    await refused(b.request.callback_url, { ...completedBody(b.request), attempt: 2 }, /another job or attempt/);
    await refused(`${BASE}/internal/media/video-callback?photo=${a.uuid}&attempt=1`, body, /invalid/);

    expect(await photoRow(a.id)).toEqual(snapshot);
    expect(await photoRow(b.id)).toMatchObject({ processing_status: "processing", variants: null });
  });

  it("a stale attempt is refused (409) and does not overwrite the current one", async () => {
    const v = await dispatched();
    const body = await transcoderWork(v.request);
    // The watchdog superseded attempt 1 meanwhile: attempt 2 is running.
    await env.DB.prepare("UPDATE photos SET processing_attempts = 2 WHERE id = ?").bind(v.id).run();
    const res = await post(v.request.callback_url, body);
    expect(res.status).toBe(409);
    expect(String(((await res.json()) as { message: string }).message)).toMatch(/^stale attempt 1: the video is processing at attempt 2/);
    expect(await photoRow(v.id)).toMatchObject({ processing_status: "processing", processing_attempts: 2, variants: null });
  });

  it("a malformed body is a 400; outputs missing from storage are retried, not recorded", async () => {
    const v = await dispatched();
    expect((await post(v.request.callback_url, { job_id: v.uuid, attempt: 1, status: "completed" })).status).toBe(400);
    const res = await post(v.request.callback_url, completedBody(v.request));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "retrying" });
    const row = await photoRow(v.id);
    expect(row).toMatchObject({ processing_status: "processing", variants: null });
    expect(String(row?.processing_error)).toMatch(/^retrying: the transcoder reported 1080p but it is not in storage/);
    expect(sent).toContainEqual({ body: { type: "video.transcode", photoId: v.id, supersedes: 1 }, delaySeconds: 2 });
  });

  it("a retryable failure queues a superseding attempt with backoff, which is then dispatched as attempt 2", async () => {
    const v = await dispatched();
    sent = [];
    const res = await post(v.request.callback_url, failedBody(v.request, true, "ffmpeg was killed by SIGKILL"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "retrying" });
    expect(await photoRow(v.id)).toMatchObject({
      processing_status: "processing",
      processing_attempts: 1,
      processing_error: "retrying: ffmpeg was killed by SIGKILL",
    });
    expect(sent).toEqual([{ body: { type: "video.transcode", photoId: v.id, supersedes: 1 }, delaySeconds: 2 }]);

    const calls = watchTranscoder();
    const next = sent[0]?.body;
    if (!next) throw new Error("no retry queued");
    expect((await deliver(next)).explicitAcks).toHaveLength(1);
    expect(calls.map((c) => [c.status, c.body.attempt])).toEqual([[202, 2]]);
    expect(await photoRow(v.id)).toMatchObject({ processing_status: "processing", processing_attempts: 2 });
    // Attempt 1's URL is now stale.
    expect((await post(v.request.callback_url, completedBody(v.request))).status).toBe(409);
  });

  it("a non-retryable failure is recorded as failed at once, with the reason", async () => {
    const v = await dispatched();
    sent = [];
    const res = await post(v.request.callback_url, failedBody(v.request, false, "not a video: no video stream"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "failed" });
    expect(await photoRow(v.id)).toMatchObject({ processing_status: "failed", processing_error: "not a video: no video stream" });
    expect(sent).toEqual([]);
    expect((await auditActions(v.uuid)).at(-1)).toBe("photo.video_failed");
    expect(await variantsOf(staff, v.uuid)).toMatchObject({ body: { processing_status: "failed", processed: false, variants: [] } });
  });

  it("a retryable failure on the last attempt is recorded as failed", async () => {
    const v = await dispatched();
    await env.DB.prepare("UPDATE photos SET processing_attempts = ? WHERE id = ?").bind(MAX_VIDEO_ATTEMPTS, v.id).run();
    const url = await signCallbackUrl(env, { jobUuid: job.job_uuid, photoUuid: v.uuid, attempt: MAX_VIDEO_ATTEMPTS }, 600);
    const res = await post(url, failedBody({ job_id: v.uuid, attempt: MAX_VIDEO_ATTEMPTS }, true, "job timed out after 600 s"));
    expect(await res.json()).toMatchObject({ outcome: "failed" });
    expect(await photoRow(v.id)).toMatchObject({
      processing_status: "failed",
      processing_error: `gave up after ${MAX_VIDEO_ATTEMPTS} attempts: job timed out after 600 s`,
    });
  });

  it("a callback for a deleted video is 410 and its late outputs are removed", async () => {
    const v = await dispatched();
    const body = await transcoderWork(v.request);
    const del = await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id: v.id } });
    expectStatus(del, 200);
    // The transcoder uploads after the delete removed the files.
    await putOutput(v.request.outputs["720p"].put_url, VARIANT_BYTES["720p"], "video/mp4");
    const res = await post(v.request.callback_url, body);
    expect(res.status).toBe(410);
    const left = await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/photos/${v.uuid}/` });
    expect(left.objects).toEqual([]);
  });
});

describe("watchdog (video.watchdog)", () => {
  it("an attempt that never reported back is superseded; one that did is left alone", async () => {
    const v = await dispatched();
    sent = [];
    expect((await deliver({ type: "video.watchdog", photoId: v.id, attempt: 1 })).explicitAcks).toHaveLength(1);
    expect(sent).toEqual([{ body: { type: "video.transcode", photoId: v.id, supersedes: 1 }, delaySeconds: 2 }]);
    expect(String((await photoRow(v.id))?.processing_error)).toMatch(
      /^retrying: the transcoder did not report back on attempt 1 within 900 s/,
    );

    // A watchdog for an attempt that has been superseded or completed does nothing.
    sent = [];
    expect((await post(v.request.callback_url, await transcoderWork(v.request))).status).toBe(200);
    await deliver({ type: "video.watchdog", photoId: v.id, attempt: 1 });
    expect(sent).toEqual([]);
    expect((await photoRow(v.id))?.processing_status).toBe("completed");
  });

  it("an attempt whose watchdog was lost is taken over by the next delivery once it is older than the watchdog delay", async () => {
    const v = await dispatched();
    await env.DB.prepare(
      "UPDATE audit_events SET created_at = '2020-01-01T00:00:00Z' WHERE action = 'photo.video_dispatched' AND instr(changes, ?) > 0",
    )
      .bind(v.uuid)
      .run();
    const calls = watchTranscoder();
    expect((await deliver({ type: "video.transcode", photoId: v.id })).explicitAcks).toHaveLength(1);
    expect(calls.map((c) => c.body.attempt)).toEqual([2]);
  });
});

describe("status check (video.check): a job the media service lost is dispatched again at once", () => {
  /** The real transcoder's answer about a job (it holds a job from its start until its callback is done). */
  const transcoderStatus = async (jobId: string) =>
    (await (await fetch(`${env.TRANSCODER_URL}/v1/videos/status?job_id=${jobId}`)).json()) as { running: boolean; attempt?: number };

  it("the real transcoder no longer holds the attempt (it ended, its callback never got through): superseded now, not at the watchdog", async () => {
    const v = await dispatched();
    const check = sent.find((m) => m.body.type === "video.check")?.body;
    if (check?.type !== "video.check") throw new Error("no status check armed");
    // Its source download fails at once (PUBLIC_URL is port 9) and so does its callback: the job ends
    // unreported, as after a crash. Bounded wait for the process to let go of it.
    const deadline = Date.now() + 20_000;
    while ((await transcoderStatus(v.uuid)).running) {
      expect(Date.now(), "the transcoder still holds the job after 20 s").toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    sent = [];
    expect((await deliver(check)).explicitAcks).toHaveLength(1);
    expect(sent).toEqual([{ body: { type: "video.transcode", photoId: v.id, supersedes: 1 }, delaySeconds: 2 }]);
    expect(String((await photoRow(v.id))?.processing_error)).toMatch(/^retrying: the media service lost attempt 1/);
    // The superseding message starts attempt 2 on the transcoder.
    const calls = watchTranscoder();
    expect((await deliver({ type: "video.transcode", photoId: v.id, supersedes: 1 })).explicitAcks).toHaveLength(1);
    expect(calls.map((c) => [c.status, c.body.attempt])).toEqual([[202, 2]]);
    // A check of the superseded attempt does nothing.
    sent = [];
    await deliver(check);
    expect(sent.filter((m) => m.body.type !== "video.check" || m.body.attempt !== 2)).toEqual([]);
  });

  it("while the service holds the attempt, or cannot be reached, it is asked again later; never past the watchdog's time; a settled video is left alone", async () => {
    const v = await dispatched();
    const check = { type: "video.check" as const, photoId: v.id, attempt: 1, until: Date.now() + 600_000 };
    // Held: what the transcoder answers while it transcodes (the real one's job here ends too fast to ask).
    const realFetch = globalThis.fetch;
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === "/v1/videos/status") {
        return Response.json({ job_id: url.searchParams.get("job_id"), running: true, attempt: 1, phase: "running", started_at: "x" });
      }
      return realFetch(input, init);
    });
    sent = [];
    await deliver(check);
    expect(sent).toEqual([{ body: check, delaySeconds: 10 }]);
    vi.unstubAllGlobals();

    // Unreachable (down, or restarting): asked again, not superseded.
    const url = env.TRANSCODER_URL;
    Object.assign(env, { TRANSCODER_URL: "http://127.0.0.1:9" });
    try {
      sent = [];
      await deliver(check);
      expect(sent).toEqual([{ body: check, delaySeconds: 10 }]);
      // The watchdog is due before another check would run: it takes over.
      sent = [];
      await deliver({ ...check, until: Date.now() + 5_000 });
      expect(sent).toEqual([]);
    } finally {
      Object.assign(env, { TRANSCODER_URL: url });
    }
    expect(await photoRow(v.id)).toMatchObject({ processing_status: "processing", processing_attempts: 1 });

    await env.DB.prepare("UPDATE photos SET processing_status = 'completed' WHERE id = ?").bind(v.id).run();
    sent = [];
    await deliver(check);
    expect(sent).toEqual([]);
  });
});

describe("GET /api/jobs/video-variants: validation and permissions", () => {
  it("before processing: the original only, variants []", async () => {
    const v = await uploadVideo();
    const res = await variantsOf(staff, v.uuid);
    expectStatus(res, 200);
    expect(res.body).toMatchObject({ variants: [], thumbnail: null, processing_status: "pending", processed: false, processed_at: null });
    const file = await api("GET", `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=1080p`, { token: staff.token });
    expectStatus(file, 404);
    expect(file.body.message).toMatch(/no 1080p \(processing_status: pending\)/);
  });

  it("a photo (image) record: its original and no variants, processed once its compression is done, as the reference's shape", async () => {
    const original = makeJpeg(1200, 900, 97, 3);
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(job.job_id));
    form.append("file", new Blob([original], { type: "image/jpeg" }), "boiler.jpg");
    const image = await api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form });
    expectStatus(image, 201);
    const uuid = image.body.photo_uuid as string;
    expect(sent).toEqual([{ body: { type: "photo.compress", photoId: image.body.photo_id }, delaySeconds: undefined }]);
    const path = String((await photoRow(image.body.photo_id))?.r2_key);

    const before = await variantsOf(contractor, uuid);
    expectStatus(before, 200);
    expect(before.body).toEqual({
      success: true,
      uuid,
      original: { url: `/api/jobs/photos/file?uuid=${uuid}&variant=original`, size: original.length, path },
      variants: [],
      thumbnail: null,
      processing_status: "pending",
      processed: false,
      processed_at: null,
    });

    // The compression message the upload queued, through the real consumer.
    expect((await deliver({ type: "photo.compress", photoId: image.body.photo_id })).explicitAcks).toHaveLength(1);
    const after = await variantsOf(contractor, uuid);
    expectStatus(after, 200);
    expect(after.body).toEqual({
      ...before.body,
      processing_status: "completed",
      processed: true,
      processed_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
    });
    const file = await exports.default.fetch(
      new Request(`${BASE}${after.body.original.url}`, { headers: { Authorization: `Bearer ${contractor.token}` } }),
    );
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(original);
    // An image has no variant files.
    expectStatus(await api("GET", `/api/jobs/video-variants/file?uuid=${uuid}&variant=720p`, { token: staff.token }), 404);
    expectStatus(await api("GET", `/api/jobs/video-variants/file?uuid=${uuid}&variant=thumbnail`, { token: staff.token }), 404);
  });

  it("the OpenAPI document says how a photo record answers", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expectStatus(doc, 200);
    const op = doc.body.paths["/api/jobs/video-variants"].get;
    expect(op.summary).toBe("Resolution variants of a job photo or video (uuid=…)");
    expect(op.description).toMatch(/A photo \(image\) record answers the same shape as a video not transcoded/);
    expect(op.description).not.toMatch(/400 when the uuid is an image/);
  });

  it("400 for a malformed uuid, 404 for an unknown one or another contractor's job, 401/403 without the right token", async () => {
    const v = await uploadVideo(staff, otherJob.job_id);
    expectStatus(await variantsOf(staff, "not-a-uuid"), 400);
    expectStatus(await api("GET", "/api/jobs/video-variants", { token: staff.token }), 400);
    expectStatus(await variantsOf(staff, crypto.randomUUID()), 404);

    expectStatus(await variantsOf(otherContractor, v.uuid), 200);
    const hidden = await variantsOf(contractor, v.uuid);
    expectStatus(hidden, 404);
    expect(hidden.body.message).toBe("Video not found");
    expectStatus(await api("GET", `/api/jobs/video-variants?uuid=${v.uuid}`), 401);
    const narrowed = await makeUser("staff", { permissions: ["api.jobs.manage.list"] });
    expectStatus(await variantsOf(narrowed, v.uuid), 403);
    const viewer = await makeUser("staff", { permissions: ["api.jobs.photos.view"] });
    expectStatus(await variantsOf(viewer, v.uuid), 200);
    expectStatus(await api("GET", `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=thumbnail`, { token: narrowed.token }), 403);
    expectStatus(await api("GET", `/api/jobs/video-variants/file?uuid=${v.uuid}&variant=4k`, { token: staff.token }), 400);
  });
});
