/**
 * Resumable uploads end to end (issue 22), with a client nobody here wrote: tus-js-client 4.3.1 in
 * Node uploads a 20 MB video through POST /api/uploads to the Worker under `wrangler dev` (its own
 * fresh state) with the transcoder process behind it, through a small TCP proxy of this file that
 * drops the connection (a TCP reset both ways) after chosen numbers of bytes (scripts/lib/cutting-proxy.ts), at a phone's pace.
 *
 * - Three cuts at random offsets: the upload resumes at the offset HEAD answers each time, the
 *   bytes the client sent in total (headers included) stay under 1.3× the file, and the video ends
 *   `completed` with its 1080p/720p variants, its original byte for byte the file.
 * - `wrangler dev` SIGKILLed between two chunks and started again on the same persisted state: the
 *   client's next HEAD answers the stored offset and the upload finishes from there.
 *
 * Run: node --test --test-force-exit test/e2e/uploads.e2e.test.ts   (Node ≥ 22.12; ffmpeg from PATH or the npm installer)
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash, randomInt } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Upload } from "tus-js-client";
import { CuttingProxy } from "../../scripts/lib/cutting-proxy.ts";
import { freePort, type LocalApi, Logs, makeClip, sleep, startLocalApi, startTranscoder, stopGroup } from "../../scripts/lib/local-api.ts";

const CLIP_SECONDS = 10;
/** 15 Mbit/s for 10 s of 1080p30 plus AAC: about 19 MB, under the 20 MB (20 MiB) photo/video limit. */
const CLIP_KBPS = 15_000;
const MAX_BYTES = 20 * 1024 * 1024;
/**
 * The client's bandwidth through the proxy (bytes/s), a good phone uplink: on bare loopback the
 * client would push megabytes into socket buffers before the Worker reads its first byte, and a cut
 * would lose all of them, which no real link does.
 */
const PHONE_UPLINK = 4_000_000;

let tmp = "";
let api: LocalApi | undefined;
let transcoder: ChildProcess | undefined;
let proxy: CuttingProxy | undefined;
let proxyUrl = "";
let csrf = "";
let job = { job_id: 0, job_uuid: "" };
let clip = new Uint8Array();
const logs = new Logs();

async function call(method: string, pathname: string, body?: Record<string, unknown>) {
  const headers: Record<string, string> = { Authorization: `Bearer ${api?.token}` };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body) headers["Content-Type"] = "application/json";
  // Straight to wrangler dev, not through the proxy: only the upload's bytes are counted.
  const res = await fetch(`${api?.url}${pathname}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

interface Variants {
  original: { url: string; size: number };
  variants: Record<string, { width: number; height: number }> | [];
  thumbnail: string | null;
  processing_status: string;
}

async function waitCompleted(uuid: string, timeoutMs = 240_000): Promise<Variants> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
    assert.equal(res.status, 200, res.text);
    const body = res.json as unknown as Variants;
    if (body.processing_status === "completed") return body;
    assert.notEqual(body.processing_status, "failed", `video failed: ${res.text}${logs.tail()}`);
    assert.ok(Date.now() < deadline, `video still ${body.processing_status}${logs.tail()}`);
    await sleep(2000);
  }
}

interface Run {
  body: Record<string, unknown>;
  url: string;
  heads: number[];
  creations: number;
}

/** tus-js-client's upload of `clip` as a during-works video of the job; `hooks` reach the upload as it goes. */
function tusUpload(opts: { chunkSize?: number; onChunkComplete?: (accepted: number) => void }): Promise<Run> {
  const heads: number[] = [];
  let creations = 0;
  const trace: string[] = [];
  const started = Date.now();
  let lastProgress = Date.now();
  return new Promise((resolve, reject) => {
    // tus-js-client has no request timeout: a stalled upload fails here, with what it did, instead of hanging the run.
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress < 60_000) return;
      clearInterval(watchdog);
      void upload.abort();
      reject(new Error(`no progress for 60 s; requests: ${trace.join(" | ")}${logs.tail(40)}`));
    }, 1000);
    const done = () => clearInterval(watchdog);
    const upload = new Upload(Buffer.from(clip), {
      endpoint: `${proxyUrl}/api/uploads`,
      headers: { Authorization: `Bearer ${api?.token}`, "X-CSRF-Token": csrf },
      metadata: {
        filename: "walkround.mp4",
        filetype: "video/mp4",
        job_id: String(job.job_id),
        target: "photo",
        photo_type: "during",
      },
      // undefined would override tus-js-client's default (one PATCH for the rest) and send empty chunks.
      chunkSize: opts.chunkSize ?? Number.POSITIVE_INFINITY,
      // Long enough for wrangler dev to come back after a kill.
      retryDelays: [0, 300, 1000, 2000, 3000, 5000, 8000, 10_000, 15_000, 20_000],
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => {
        trace.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${req.getMethod()} ${req.getHeader("Upload-Offset") ?? ""}`);
      },
      onProgress: () => {
        lastProgress = Date.now();
      },
      onAfterResponse: (req, res) => {
        trace.push(`→ ${res.getStatus()} ${res.getHeader("Upload-Offset") ?? ""}`);
        if (req.getMethod() === "HEAD") heads.push(Number(res.getHeader("Upload-Offset")));
        if (req.getMethod() === "POST") creations++;
      },
      onChunkComplete: (_size, accepted) => opts.onChunkComplete?.(accepted),
      onError: (err) => {
        done();
        reject(new Error(`${err.message}; requests: ${trace.join(" | ")}${logs.tail(40)}`));
      },
      onSuccess: ({ lastResponse }) => {
        done();
        process.stdout.write(`# requests: ${trace.join(" | ")}\n`);
        resolve({ body: JSON.parse(lastResponse.getBody() || "{}"), url: upload.url ?? "", heads, creations });
      },
    });
    upload.start();
  });
}

async function checkVideo(run: Run) {
  assert.equal(run.body.success, true, JSON.stringify(run.body));
  assert.equal(run.body.target, "photo");
  const uuid = String(run.body.photo_uuid);
  // Listed where the reference lists photos, under its stage, as the file it is.
  const list = await call("GET", `/api/jobs/photos?job_id=${job.job_id}`);
  const listed = (list.json.data as { during: { uuid: string; kind: string; size: number }[] }).during.find((p) => p.uuid === uuid);
  assert.ok(listed, `in the photos list: ${list.text}`);
  assert.equal(listed.kind, "video");
  assert.equal(listed.size, clip.length);
  const v = await waitCompleted(uuid);
  assert.ok(!Array.isArray(v.variants), "variants recorded");
  assert.deepEqual(Object.keys(v.variants).sort(), ["1080p", "720p"]);
  assert.deepEqual([v.variants["720p"]?.width, v.variants["720p"]?.height], [1280, 720]);
  assert.ok(v.thumbnail, "a thumbnail");
  const original = await fetch(`${api?.url}${v.original.url}`, { headers: { Authorization: `Bearer ${api?.token}` } });
  const bytes = new Uint8Array(await original.arrayBuffer());
  assert.equal(createHash("sha256").update(bytes).digest("hex"), createHash("sha256").update(clip).digest("hex"), "original intact");
}

before(
  async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "propops-uploads-e2e-"));
    await mkdir(path.join(tmp, "transcoder-tmp"));
    const file = path.join(tmp, "walkround.mp4");
    const made = makeClip(file, CLIP_SECONDS, "1920x1080", CLIP_KBPS);
    const tport = await freePort();
    transcoder = await startTranscoder({ port: tport, tmpdir: path.join(tmp, "transcoder-tmp"), logs, env: { MAX_CONCURRENT_JOBS: "2" } });
    api = await startLocalApi({ logs, vars: { TRANSCODER_URL: `http://127.0.0.1:${tport}` } });
    proxy = new CuttingProxy(() => Number(new URL(api?.url ?? "").port));
    proxyUrl = await proxy.listen();
    const csrfRes = await call("GET", "/api/security/csrf-token");
    assert.equal(csrfRes.status, 200, `${csrfRes.text}${logs.tail()}`);
    csrf = String(csrfRes.json.csrf_token);
    const created = await call("POST", "/api/jobs/manage", {
      action: "create",
      job_title: "Leak investigation - Unit 004",
      job_description: "Walkround video of the plant room.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
    });
    assert.equal(created.status, 201, `${created.text}${logs.tail()}`);
    job = { job_id: Number(created.json.job_id), job_uuid: String(created.json.job_uuid) };
    await made;
    clip = new Uint8Array(await readFile(file));
    assert.ok(clip.length > 15_000_000 && clip.length <= MAX_BYTES, `clip is ${clip.length} B`);
  },
  { timeout: 300_000 },
);

async function cleanup() {
  await proxy?.close();
  await Promise.all([api?.stop(), stopGroup(transcoder)]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
after(cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

describe("resumable uploads end to end (tus-js-client → proxy → wrangler dev → transcoder)", () => {
  test("a 20 MB video survives three dropped connections at random offsets, sending < 1.3× the file, and completes with its variants", {
    timeout: 420_000,
  }, async () => {
    if (!proxy) throw new Error("no proxy");
    // Three cut points spread over the file (at least 1 MB apart), chosen afresh each run and printed.
    const size = clip.length;
    let cuts: number[] = [];
    do cuts = [0, 1, 2].map(() => randomInt(Math.floor(size * 0.05), Math.floor(size * 0.95))).sort((a, b) => a - b);
    while (cuts.some((c, i) => i > 0 && c - (cuts[i - 1] ?? 0) < 1_000_000));
    process.stdout.write(`# file ${size} B; connection cut after ${cuts.join(", ")} client bytes\n`);
    proxy.fromClient = 0;
    proxy.cutsDone = 0;
    proxy.cutAt = [...cuts];
    proxy.rate = PHONE_UPLINK;
    const run = await tusUpload({});
    const ratio = proxy.fromClient / size;
    process.stdout.write(`# sent ${proxy.fromClient} B = ${ratio.toFixed(3)}× the file; HEAD offsets ${run.heads.join(", ")}\n`);
    assert.equal(proxy.cutsDone, 3, "three cuts happened");
    assert.equal(run.creations, 1, "one upload, resumed (never started again)");
    assert.ok(run.heads.length >= 3, `a HEAD after each cut: ${run.heads}`);
    // Each resume went on from (about) where its cut fell, not from zero.
    for (const [i, cut] of cuts.entries()) {
      const head = run.heads[i] ?? 0;
      assert.ok(head > 0 && head <= cut && cut - head < 1_000_000, `resume ${i + 1} at ${head}, cut at ${cut}`);
    }
    assert.ok(ratio < 1.3, `sent ${ratio.toFixed(3)}× the file`);
    await checkVideo(run);
  });

  test("wrangler dev killed (SIGKILL) and started again between two chunks: the upload continues at the stored offset", {
    timeout: 420_000,
  }, async () => {
    if (!proxy || !api) throw new Error("no proxy");
    proxy.fromClient = 0;
    proxy.cutAt = [];
    proxy.rate = PHONE_UPLINK;
    const chunkSize = 4 * 1024 * 1024;
    let restarted = false;
    let restartedAt = 0;
    const run = await tusUpload({
      chunkSize,
      onChunkComplete: (accepted) => {
        if (restarted || accepted < 2 * chunkSize) return;
        restarted = true;
        restartedAt = accepted;
        // Synchronously, before the next chunk leaves: new connections wait, the open ones drop.
        const server = api;
        const restart = (async () => {
          await stopGroup(server?.wrangler, "SIGKILL");
          await server?.restart?.();
        })();
        if (proxy) proxy.hold = restart;
        proxy?.dropAll();
        void restart.finally(() => {
          if (proxy) proxy.hold = undefined;
        });
      },
    });
    assert.ok(restarted, "the server was restarted mid-upload");
    process.stdout.write(
      `# restarted after ${restartedAt} B; HEAD offsets ${run.heads.join(", ")}; sent ${(proxy.fromClient / clip.length).toFixed(3)}×\n`,
    );
    assert.equal(run.creations, 1, "one upload, resumed after the restart");
    assert.ok(run.heads.includes(restartedAt), `the restarted server answered the stored offset ${restartedAt}: ${run.heads}`);
    assert.ok(proxy.fromClient / clip.length < 1.3);
    await checkVideo(run);
  });
});
