/**
 * A media-service crash mid-transcode, end to end with real processes: the transcoder
 * (transcoder/src/server.ts, ffmpeg) and the Worker under `wrangler dev`, with the production
 * watchdog (VIDEO_WATCHDOG_SECONDS 900) and status checks (VIDEO_CHECK_SECONDS, wrangler.toml).
 * The transcoder is killed (SIGKILL, its ffmpeg with it) while it holds the video and restarted at
 * once: the Worker must notice that the restarted service lost the job and dispatch it again within
 * seconds, not at the 900 s watchdog. Prints the time from the kill to the re-dispatch and to
 * `completed`.
 *
 * Run: node --test test/e2e/media-crash.e2e.test.ts   (Node ≥ 22.12). About 1–2 min.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { freePort, type LocalApi, Logs, makeClip, sleep, startLocalApi, startTranscoder, stopGroup } from "../../scripts/lib/local-api.ts";

/** Far below the 900 s watchdog; generous for a loaded machine (the clip transcodes in seconds). */
const BOUND_MS = 150_000;

let tmp = "";
let port = 0;
let transcoder: ChildProcess | undefined;
let api: LocalApi | undefined;
let csrf = "";
let clip = "";
let job = { job_id: 0, job_uuid: "" };
const logs = new Logs();

const start = () => startTranscoder({ port, tmpdir: path.join(tmp, "transcoder-tmp"), logs, env: { MAX_CONCURRENT_JOBS: "1" } });

async function call(method: string, pathname: string, body?: FormData | Record<string, unknown>) {
  const headers: Record<string, string> = { Authorization: `Bearer ${api?.token}` };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${api?.url}${pathname}`, { method, headers, body: payload });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

type AuditEvent = { action: string; created_at: string; changes: { photo_uuid?: string; attempt?: number } };

async function eventsOf(uuid: string): Promise<AuditEvent[]> {
  const audit = await call("GET", `/api/jobs/audit?job_uuid=${job.job_uuid}&limit=100`);
  assert.equal(audit.status, 200, audit.text);
  return (audit.json.data as AuditEvent[]).filter((e) => e.changes.photo_uuid === uuid);
}

before(
  async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "propops-crash-e2e-"));
    await mkdir(path.join(tmp, "transcoder-tmp"));
    port = await freePort();
    clip = path.join(tmp, "clip.mp4");
    const made = makeClip(clip, 6, "1920x1080", 6000);
    transcoder = await start();
    // wrangler.toml's watchdog (900 s) and check interval: only the media service's address is set.
    api = await startLocalApi({ logs, vars: { TRANSCODER_URL: `http://127.0.0.1:${port}` } });
    const csrfRes = await call("GET", "/api/security/csrf-token");
    assert.equal(csrfRes.status, 200, `${csrfRes.text}${logs.tail()}`);
    csrf = String(csrfRes.json.csrf_token);
    const created = await call("POST", "/api/jobs/manage", {
      action: "create",
      job_title: "Leak investigation - Unit 007",
      job_description: "Walkthrough video.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
    });
    assert.equal(created.status, 201, `${created.text}${logs.tail()}`);
    job = { job_id: Number(created.json.job_id), job_uuid: String(created.json.job_uuid) };
    await made;
  },
  { timeout: 240_000 },
);

async function cleanup() {
  await Promise.all([api?.stop(), stopGroup(transcoder)]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
after(cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

test("a transcoder killed mid-job and restarted: the video is dispatched again within seconds and completes long before the 900 s watchdog", {
  timeout: BOUND_MS + 120_000,
}, async () => {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("photo_type", "during");
  form.append("file", new Blob([await readFile(clip)], { type: "video/mp4" }), "clip.mp4");
  const uploaded = await call("POST", "/api/jobs/photos", form);
  assert.equal(uploaded.status, 201, uploaded.text);
  const uuid = String(uploaded.json.photo_uuid);

  // Wait until the service holds the job, then kill it and its ffmpeg without a word.
  const holds = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/videos/status?job_id=${uuid}`).catch(() => undefined);
    const status = res?.ok ? ((await res.json()) as { running?: boolean; phase?: string }) : {};
    if (status.running && status.phase === "running") break;
    assert.ok(Date.now() < holds, `the transcoder never started the job${logs.tail()}`);
    await sleep(100);
  }
  await stopGroup(transcoder, "SIGKILL");
  const killedAt = Date.now();
  const during = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
  assert.equal(during.json.processing_status, "processing");
  transcoder = await start();

  // Bounded polls: the second dispatch, then completed.
  let redispatchedMs: number | undefined;
  let completedMs: number | undefined;
  let last = "";
  while (Date.now() - killedAt < BOUND_MS) {
    if (redispatchedMs === undefined) {
      const dispatches = (await eventsOf(uuid)).filter((e) => e.action === "photo.video_dispatched");
      if (dispatches.some((e) => (e.changes.attempt ?? 0) >= 2)) redispatchedMs = Date.now() - killedAt;
    }
    const v = await call("GET", `/api/jobs/video-variants?uuid=${uuid}`);
    last = v.text;
    assert.notEqual(v.json.processing_status, "failed", `${v.text}${logs.tail()}`);
    if (v.json.processing_status === "completed") {
      completedMs = Date.now() - killedAt;
      break;
    }
    await sleep(1000);
  }
  assert.ok(
    completedMs !== undefined,
    `not completed within ${BOUND_MS / 1000} s of the kill (watchdog: 900 s); last: ${last}${logs.tail()}`,
  );
  const events = await eventsOf(uuid);
  const processed = events.find((e) => e.action === "photo.video_processed");
  assert.ok(processed && (processed.changes.attempt ?? 0) === 2, `completed by attempt 2: ${JSON.stringify(events)}`);
  process.stdout.write(
    `# kill → re-dispatch ${((redispatchedMs ?? completedMs) / 1000).toFixed(1)} s, kill → completed ${(completedMs / 1000).toFixed(1)} s (watchdog 900 s)\n`,
  );
});
