// Failure paths: bad sources, limits, timeout, busy, bad requests, callback retries.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { Config } from "../src/config.ts";
import type { RunningServer } from "../src/server.ts";
import type { Sandbox, Storage } from "./helpers.ts";
import {
  ffmpegProcessesMentioning,
  jobBody,
  leftoverTempDirs,
  makeClip,
  pacedFfmpeg,
  processAlive,
  sandbox,
  startStorage,
  startTranscoder,
  submit,
  testConfig,
} from "./helpers.ts";

let sb: Sandbox;
let storage: Storage;
let hd: Buffer; // 1080p, 3 s, with audio
let small: Buffer; // 360p, 1 s — cheap to transcode
let long: Buffer; // 720p (so a 720p rung is encoded for its whole length), 30 s at 5 frames/s — paced, a run lasts well over the timeout test's limit
const servers: RunningServer[] = [];

before(async () => {
  sb = await sandbox();
  storage = await startStorage();
  hd = await readFile(await makeClip(sb.dir, "hd.mp4", { width: 1920, height: 1080, seconds: 3, audio: true }));
  small = await readFile(await makeClip(sb.dir, "small.mp4", { width: 640, height: 360, seconds: 1 }));
  long = await readFile(await makeClip(sb.dir, "long.mp4", { width: 1280, height: 720, seconds: 30, rate: 5, crf: 20 }));
});

after(async () => {
  for (const s of servers) await s.close();
  await storage?.close();
  await sb?.cleanup();
});

async function server(overrides: Partial<Config> = {}): Promise<RunningServer> {
  const s = await startTranscoder(testConfig(sb.tmp, overrides));
  servers.push(s);
  return s;
}

async function failedJob(srv: RunningServer, jobId: string, source: Buffer): Promise<Record<string, unknown>> {
  storage.sources.set(jobId, source);
  const r = await submit(srv.url, jobBody(storage, jobId, jobId));
  assert.equal(r.status, 202, JSON.stringify(r.json));
  const cb = await storage.waitForCallback(jobId);
  assert.equal(cb.status, "failed", JSON.stringify(cb));
  assert.equal(cb.job_id, jobId);
  assert.equal(cb.attempt, 1);
  assert.equal(typeof cb.error, "string");
  for (const n of ["1080p", "720p", "thumbnail"]) assert.equal(storage.received.puts.has(`${jobId}-${n}`), false, "nothing uploaded");
  assert.deepEqual(await leftoverTempDirs(sb.tmp), [], "temp dir removed");
  return cb;
}

describe("failures", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await server();
  });

  it("a text file named clip.mp4 → not a video, not retryable", async () => {
    const cb = await failedJob(srv, "text", Buffer.from("hello, this is not a video at all\n".repeat(50)));
    assert.equal(cb.retryable, false);
    assert.match(String(cb.error), /not a video/);
  });

  it("a truncated MP4 (first 60%) → clear reason, not retryable", async () => {
    const cb = await failedJob(srv, "trunc", hd.subarray(0, Math.floor(hd.length * 0.6)));
    assert.equal(cb.retryable, false);
    assert.match(String(cb.error), /truncated or corrupt/);
  });

  it("a truncated faststart MP4 (moov intact, media cut off) → failed, not a silently shortened variant", async () => {
    const fs = await readFile(await makeClip(sb.dir, "fs.mp4", { width: 1280, height: 720, seconds: 2, faststart: true }));
    const cb = await failedJob(srv, "truncfs", fs.subarray(0, Math.floor(fs.length * 0.6)));
    assert.equal(cb.retryable, false);
    assert.match(String(cb.error), /truncated or corrupt/);
  });

  it("source download 404 → not retryable; 500 → retryable", async () => {
    const r404 = await submit(srv.url, jobBody(storage, "missing", "no-such-file"));
    assert.equal(r404.status, 202);
    const cb404 = await storage.waitForCallback("missing");
    assert.equal(cb404.status, "failed");
    assert.equal(cb404.retryable, false);
    assert.match(String(cb404.error), /HTTP 404/);
    const r500 = await submit(srv.url, jobBody(storage, "err500", "fail500"));
    assert.equal(r500.status, 202);
    const cb500 = await storage.waitForCallback("err500");
    assert.equal(cb500.retryable, true);
    assert.match(String(cb500.error), /HTTP 500/);
  });

  it("the callback is retried on 5xx", async () => {
    storage.callbackStatuses = [503, 502, 200];
    const cb = await failedJob(srv, "cbretry", Buffer.from("nope"));
    assert.equal(cb.status, "failed");
    assert.deepEqual(storage.callbackStatuses, [200], "two 5xx answers were consumed before the 200");
  });

  it("over MAX_SOURCE_BYTES → failed, not retryable (enforced on bytes read, even without Content-Length)", async () => {
    const limited = await server({ maxSourceBytes: 100_000 });
    const cb = await failedJob(limited, "big", hd);
    assert.equal(cb.retryable, false);
    assert.match(String(cb.error), /too large: \d+ bytes exceeds the 100000-byte limit/);
    storage.sources.set("biglen", hd);
    const r = await submit(limited.url, jobBody(storage, "biglen", "biglen", { noLength: true }));
    assert.equal(r.status, 202);
    const cb2 = await storage.waitForCallback("biglen");
    assert.equal(cb2.status, "failed");
    assert.equal(cb2.retryable, false);
    assert.match(String(cb2.error), /too large: more than 100000 bytes/);
    assert.deepEqual(await leftoverTempDirs(sb.tmp), []);
  });

  it("over MAX_DURATION_SECONDS → failed, not retryable", async () => {
    const short = await server({ maxDurationSeconds: 2 });
    const cb = await failedJob(short, "long", hd);
    assert.equal(cb.retryable, false);
    assert.match(String(cb.error), /too long: 3\.0 s exceeds the 2 s limit/);
  });

  it("timeout → ffmpeg killed, failed + retryable, no ffmpeg left, temp dir gone", async () => {
    // Load-proof: the limit (8 s) leaves download + probe ample time on a crowded machine, and the
    // paced ffmpeg runs at least the clip's 30 s of wall clock, so the limit strikes while it runs.
    const ffmpeg = await pacedFfmpeg(sb.dir);
    const quick = await server({ jobTimeoutSeconds: 8, ffmpegPath: ffmpeg.path });
    storage.sources.set("slowjob", long);
    const r = await submit(quick.url, jobBody(storage, "slowjob", "slowjob"));
    assert.equal(r.status, 202);
    const cb = await storage.waitForCallback("slowjob");
    // The callback goes out only after ffmpeg has exited, so every run that started is recorded.
    const runs = await ffmpeg.started();
    assert.equal(runs.length, 1, "ffmpeg was running before the timeout (download + probe took under 8 s)");
    assert.equal(cb.status, "failed");
    assert.equal(cb.retryable, true);
    assert.match(String(cb.error), /timed out after 8 s/);
    assert.equal(await processAlive(runs[0] as number), false, "the ffmpeg that was running is gone");
    assert.deepEqual(await ffmpegProcessesMentioning(sb.tmp), [], "no ffmpeg left running");
    assert.deepEqual(await leftoverTempDirs(sb.tmp), []);
    for (const n of ["1080p", "720p", "thumbnail"]) assert.equal(storage.received.puts.has(`slowjob-${n}`), false, "nothing uploaded");
  });

  it("busy → 503 with Retry-After while MAX_CONCURRENT_JOBS jobs run", async () => {
    const one = await server({ maxConcurrentJobs: 1 });
    storage.sources.set("first", small);
    // The first job's download is held until released: it is still running whatever the load.
    const release = storage.holdSlow();
    const first = await submit(one.url, jobBody(storage, "first", "first", { slow: true }));
    assert.equal(first.status, 202);
    const health = (await (await fetch(`${one.url}/healthz`)).json()) as Record<string, unknown>;
    assert.equal(health.busy, 1);
    const second = await submit(one.url, jobBody(storage, "second", "first"));
    assert.equal(second.status, 503);
    assert.deepEqual(second.json, { error: "busy" });
    assert.equal(second.headers.get("retry-after"), "15");
    release();
    const cb = await storage.waitForCallback("first");
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    const third = await submit(one.url, jobBody(storage, "third", "first"));
    assert.equal(third.status, 202, "slot is free again after the job");
    await storage.waitForCallback("third");
  });

  it("bad request bodies → 400 with an error", async () => {
    const good = jobBody(storage, "x", "x");
    const cases: Array<[unknown, RegExp]> = [
      ["{not json", /not valid JSON/],
      [[], /JSON object/],
      [{ ...good, job_id: "" }, /job_id/],
      [{ ...good, job_id: undefined }, /job_id/],
      [{ ...good, attempt: "1" }, /attempt/],
      [{ ...good, attempt: 1.5 }, /attempt/],
      [{ ...good, source_url: "file:///etc/passwd" }, /source_url/],
      [{ ...good, source_url: "not a url" }, /source_url/],
      [{ ...good, callback_url: "ftp://x/y" }, /callback_url/],
      [{ ...good, outputs: undefined }, /outputs/],
      [{ ...good, outputs: { "1080p": { put_url: "http://a/b" }, "720p": { put_url: "http://a/c" } } }, /outputs\.thumbnail/],
      [{ ...good, outputs: { ...(good.outputs as object), "720p": { put_url: "javascript:alert(1)" } } }, /outputs\.720p/],
    ];
    for (const [body, re] of cases) {
      const r = await submit(srv.url, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status}`);
      assert.match(String(r.json.error), re);
    }
    const huge = await fetch(`${srv.url}/v1/videos/transcode`, { method: "POST", body: "x".repeat(100_000) });
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${srv.url}/v1/videos/transcode`)).status, 405);
    assert.equal((await fetch(`${srv.url}/nope`)).status, 404);
    assert.equal(
      storage.received.callbacks.some((c) => c.job_id === "x"),
      false,
      "no job was started",
    );
  });
});
