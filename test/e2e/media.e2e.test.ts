/**
 * End to end, with real processes: the transcoder (transcoder/src/server.ts, Debian's ffmpeg) and
 * the Worker under `wrangler dev` (local mode, its own fresh state in a temp dir). A video goes in
 * through POST /api/jobs/photos and comes out as 1080p/720p H.264/AAC variants and a thumbnail
 * through GET /api/jobs/video-variants, checked with ffprobe. A second video loses its transcoder
 * mid-job (SIGKILL, then a restart) and still completes through the watchdog. A 12 MP camera JPEG
 * (over the Worker's pixel budget) is compressed by the same process's photon path.
 *
 * Run: node --test test/e2e/media.e2e.test.ts   (Node ≥ 22.12; ffmpeg/ffprobe from PATH or the npm installers; Node 22 takes
 * files or globs, not a directory). About 2–3 min: most of it waits for the watchdog.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  freePort,
  type LocalApi,
  Logs,
  makeClip,
  sleep,
  startLocalApi,
  startTranscoder as startMediaService,
  stopGroup as stop,
} from "../../scripts/lib/local-api.ts";
import { resolveBinary } from "../../transcoder/src/config.ts";

const exec = promisify(execFile);
// ffprobe as the transcoder resolves it: PATH, else the npm-installed static build.
const FFPROBE = resolveBinary("ffprobe", "@ffprobe-installer/ffprobe");
/**
 * The watchdog must outlast the transcoder's own time limit (else it supersedes a live job):
 * short here so the kill test takes minutes, not the production 900 s.
 */
const JOB_TIMEOUT_SECONDS = 90;
const WATCHDOG_SECONDS = 100;
const MAIN_CLIP_SECONDS = 10;
const KILL_CLIP_SECONDS = 4;

let tmp = "";
let wranglerUrl = "";
let transcoderPort = 0;
let transcoder: ChildProcess | undefined;
let api: LocalApi | undefined;
let token = "";
let csrf = "";
let job = { job_id: 0, job_uuid: "" };
let mainClip = "";
let killClip = "";
/** Resolved once the kill test has restarted the transcoder (the main video must not be killed). */
let restarted: () => void = () => {};
const transcoderRestarted = new Promise<void>((r) => {
  restarted = r;
});

/** The last lines of the transcoder's and wrangler's output, printed when a test fails. */
const logs = new Logs();
const diagnostics = () => logs.tail(80);

/** The transcoder on its fixed port (the Worker's TRANSCODER_URL), killed jobs' temp dirs in the test's. */
const startTranscoder = () =>
  startMediaService({
    port: transcoderPort,
    tmpdir: path.join(tmp, "transcoder-tmp"),
    logs,
    env: { JOB_TIMEOUT_SECONDS: String(JOB_TIMEOUT_SECONDS), MAX_CONCURRENT_JOBS: "2" },
  });

async function call(method: string, pathname: string, body?: FormData | Record<string, unknown>) {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${wranglerUrl}${pathname}`, { method, headers, body: payload });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

async function upload(file: string) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("photo_type", "during");
  form.append("file", new Blob([await readFile(file)], { type: "video/mp4" }), path.basename(file));
  const res = await call("POST", "/api/jobs/photos", form);
  assert.equal(res.status, 201, res.text);
  return String(res.json.photo_uuid);
}

interface Variants {
  original: { url: string; size: number; path: string };
  variants: Record<string, { url: string; width: number; height: number; bitrate: number; size: number }> | [];
  thumbnail: string | null;
  processing_status: string;
  processed: boolean;
  processed_at: string | null;
}

async function waitProcessed(uuid: string, timeoutMs: number): Promise<Variants> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const res = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
    assert.equal(res.status, 200, res.text);
    last = res.text;
    const body = res.json as unknown as Variants;
    if (body.processing_status === "completed") return body;
    if (body.processing_status === "failed") {
      const list = await call("GET", `/api/jobs/photos?job_id=${job.job_id}`);
      assert.fail(`video ${uuid} failed: ${list.text}${diagnostics()}`);
    }
    await sleep(2000);
  }
  assert.fail(`video ${uuid} not processed within ${timeoutMs / 1000} s; last: ${last}${diagnostics()}`);
}

async function download(url: string, name: string) {
  const res = await fetch(`${wranglerUrl}${url}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const file = path.join(tmp, name);
  await writeFile(file, bytes);
  return { file, bytes, type: res.headers.get("content-type") };
}

interface Probe {
  streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
}

async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await exec(FFPROBE, ["-v", "error", "-show_streams", "-of", "json", file]);
  return JSON.parse(stdout) as Probe;
}

/** Top-level MP4 box types in file order (for +faststart: moov before mdat). */
function topLevelBoxes(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: string[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (size === 1) size = Number(view.getBigUint64(at + 8));
    else if (size === 0) size = bytes.length - at;
    types.push(type);
    if (size < 8) break;
    at += size;
  }
  return types;
}

async function checkVariant(v: Variants, name: "1080p" | "720p", width: number, height: number, sourceSize: number) {
  assert.ok(!Array.isArray(v.variants), "variants recorded");
  const meta = v.variants[name];
  assert.ok(meta, `${name} produced`);
  assert.deepEqual([meta.width, meta.height], [width, height]);
  const got = await download(meta.url, `${name}.mp4`);
  assert.equal(got.type, "video/mp4");
  assert.equal(got.bytes.length, meta.size);
  assert.ok(got.bytes.length <= sourceSize, `${name} (${got.bytes.length} B) is no larger than the source (${sourceSize} B)`);
  const probe = await ffprobe(got.file);
  const video = probe.streams.find((s) => s.codec_type === "video");
  const audio = probe.streams.find((s) => s.codec_type === "audio");
  assert.equal(video?.codec_name, "h264");
  assert.equal(audio?.codec_name, "aac");
  assert.deepEqual([video?.width, video?.height], [width, height]);
  const boxes = topLevelBoxes(got.bytes);
  assert.ok(
    boxes.indexOf("moov") >= 0 && boxes.indexOf("moov") < boxes.indexOf("mdat"),
    `moov before mdat (+faststart): ${boxes.join(",")}`,
  );
}

before(
  async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "propops-media-e2e-"));
    await mkdir(path.join(tmp, "transcoder-tmp"));
    const tport = await freePort();
    transcoderPort = tport;
    mainClip = path.join(tmp, "walkthrough.mp4");
    killClip = path.join(tmp, "short.mp4");
    const clips = Promise.all([
      makeClip(mainClip, MAIN_CLIP_SECONDS, "1920x1080", 6000),
      makeClip(killClip, KILL_CLIP_SECONDS, "1280x720", 3000),
    ]);

    transcoder = await startTranscoder();
    // Its own API (fresh state, a staff token), pointed at this transcoder with a short watchdog.
    api = await startLocalApi({
      logs,
      vars: { TRANSCODER_URL: `http://127.0.0.1:${tport}`, VIDEO_WATCHDOG_SECONDS: String(WATCHDOG_SECONDS) },
    });
    wranglerUrl = api.url;
    token = api.token;

    const csrfRes = await call("GET", "/api/security/csrf-token");
    assert.equal(csrfRes.status, 200, `${csrfRes.text}${diagnostics()}`);
    csrf = String(csrfRes.json.csrf_token);
    const created = await call("POST", "/api/jobs/manage", {
      action: "create",
      job_title: "Leak investigation - Unit 004",
      job_description: "Walkthrough video of the ceiling stain.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
    });
    assert.equal(created.status, 201, `${created.text}${diagnostics()}`);
    job = { job_id: Number(created.json.job_id), job_uuid: String(created.json.job_uuid) };
    await clips;
  },
  { timeout: 240_000 },
);

async function cleanup() {
  await Promise.all([api?.stop(), stop(transcoder)]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}

after(cleanup);
// Interrupted (Ctrl-C, a CI timeout): still stop the processes and remove the temp dir.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

describe("video pipeline end to end (transcoder process + wrangler dev)", { concurrency: 2 }, () => {
  test(`a ${MAIN_CLIP_SECONDS} s 1080p30 upload comes out as h264/aac 1080p + 720p variants (faststart, ≤ source) and a thumbnail`, {
    timeout: 300_000,
  }, async () => {
    await transcoderRestarted;
    const uuid = await upload(mainClip);
    const sourceSize = (await readFile(mainClip)).length;
    const pending = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
    assert.deepEqual((pending.json as unknown as Variants).variants, []);

    const started = Date.now();
    const v = await waitProcessed(uuid, 180_000);
    process.stdout.write(`# main video processed in ${((Date.now() - started) / 1000).toFixed(1)} s after upload\n`);
    assert.equal(v.processed, true);
    assert.match(String(v.processed_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(v.original.size, sourceSize);
    assert.equal(v.original.path, `jobs/${job.job_uuid}/photos/${uuid}/original.mp4`);
    await checkVariant(v, "1080p", 1920, 1080, sourceSize);
    await checkVariant(v, "720p", 1280, 720, sourceSize);

    assert.ok(v.thumbnail, "thumbnail URL");
    const thumb = await download(v.thumbnail, "thumbnail.jpg");
    assert.equal(thumb.type, "image/jpeg");
    const tprobe = await ffprobe(thumb.file);
    assert.equal(tprobe.streams[0]?.codec_name, "mjpeg");
    assert.deepEqual([tprobe.streams[0]?.width, tprobe.streams[0]?.height], [640, 360]);

    const original = await download(v.original.url, "original.mp4");
    assert.equal(original.bytes.length, sourceSize);
  });

  test("a transcoder killed mid-job (SIGKILL) and restarted: the watchdog re-dispatches and the video still completes", {
    timeout: 300_000,
  }, async () => {
    try {
      const uuid = await upload(killClip);
      // Wait until the transcoder holds the job, then kill it and its ffmpeg without a word.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const health = (await (await fetch(`http://127.0.0.1:${transcoderPort}/healthz`)).json()) as { busy?: number };
        if ((health.busy ?? 0) > 0) break;
        assert.ok(Date.now() < deadline, `the transcoder never started the job${diagnostics()}`);
        await sleep(100);
      }
      await stop(transcoder, "SIGKILL");
      const during = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
      assert.equal((during.json as unknown as Variants).processing_status, "processing");
      transcoder = await startTranscoder();
      restarted();

      const v = await waitProcessed(uuid, (WATCHDOG_SECONDS + 120) * 1000);
      assert.ok(!Array.isArray(v.variants), "variants recorded");
      assert.deepEqual(Object.keys(v.variants), ["720p"]);
      assert.deepEqual([v.variants["720p"]?.width, v.variants["720p"]?.height], [1280, 720]);

      const audit = await call("GET", `/api/jobs/audit?job_uuid=${job.job_uuid}&limit=100`);
      assert.equal(audit.status, 200, audit.text);
      const mine = (audit.json.data as { action: string; changes: { photo_uuid?: string; attempt?: number } }[]).filter(
        (e) => e.changes.photo_uuid === uuid,
      );
      const dispatches = mine.filter((e) => e.action === "photo.video_dispatched").map((e) => e.changes.attempt);
      assert.ok(dispatches.length >= 2, `re-dispatched after the kill: ${JSON.stringify(mine)}`);
      const processed = mine.find((e) => e.action === "photo.video_processed");
      assert.ok(processed && (processed.changes.attempt ?? 0) >= 2, "completed by a later attempt");
    } finally {
      restarted();
    }
  });
});

// Runs after the video suite (top-level suites run one after another), so the transcoder is idle.
describe("photo compression end to end (the media container's photon path)", () => {
  test("a 4000×3000 camera JPEG with EXIF/GPS comes back smaller, upright, capped at 2048 px and stripped of metadata", {
    timeout: 180_000,
  }, async () => {
    const { makeJpeg, withExif, hasExif } = await import("../../scripts/lib/media-fixtures.ts");
    // Orientation 6: the camera held upright; the stored pixels are landscape.
    const original = withExif(makeJpeg(4000, 3000, 95), 6);
    assert.ok(hasExif(original));
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(job.job_id));
    form.append("photo_type", "before");
    form.append("file", new Blob([original], { type: "image/jpeg" }), "IMG_0001.jpg");
    const res = await call("POST", "/api/jobs/photos", form);
    assert.equal(res.status, 201, res.text);
    const uuid = String(res.json.photo_uuid);

    type Photo = {
      uuid: string;
      processing_status: string;
      processing_error: string | null;
      size: number;
      compressed_size: number | null;
      compressed_url: string | null;
    };
    let photo: Photo | undefined;
    const deadline = Date.now() + 150_000;
    for (;;) {
      const list = await call("GET", `/api/jobs/photos?job_id=${job.job_id}`);
      photo = ((list.json.data as { before: Photo[] }).before ?? []).find((p) => p.uuid === uuid);
      if (photo && ["completed", "failed"].includes(photo.processing_status)) break;
      assert.ok(Date.now() < deadline, `photo still ${photo?.processing_status}${diagnostics()}`);
      await sleep(500);
    }
    assert.equal(photo.processing_status, "completed", String(photo.processing_error));
    assert.equal(photo.size, original.length);
    assert.ok(photo.compressed_url, "a compressed version");
    assert.ok((photo.compressed_size ?? Infinity) < original.length / 4, `${photo.compressed_size} vs ${original.length}`);

    const compressed = await download(photo.compressed_url, "compressed.jpg");
    assert.equal(compressed.type, "image/jpeg");
    assert.equal(compressed.bytes.length, photo.compressed_size);
    assert.equal(hasExif(compressed.bytes), false, "EXIF/GPS stripped");
    const probe = await ffprobe(compressed.file);
    // Rotated upright (portrait) and the long edge capped at 2048.
    assert.deepEqual([probe.streams[0]?.width, probe.streams[0]?.height], [1536, 2048]);
  });
});
