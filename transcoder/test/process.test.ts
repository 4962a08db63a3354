// The server as a child process: killed mid-job (SIGKILL) and stopped gracefully (SIGTERM).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { readdir, readFile, utimes } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Sandbox, Storage } from "./helpers.ts";
import {
  ffmpegProcessesMentioning,
  jobBody,
  leftoverTempDirs,
  makeClip,
  must,
  pacedFfmpeg,
  processAlive,
  sandbox,
  startStorage,
  submit,
} from "./helpers.ts";

const SERVER = fileURLToPath(new URL("../src/server.ts", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let sb: Sandbox;
let storage: Storage;
const children: ChildProcess[] = [];

before(async () => {
  sb = await sandbox();
  storage = await startStorage();
  // 1080p (so the completed retry uploads every rung) at 5 frames/s: 50 frames are quick to make
  // and transcode, yet a paced ffmpeg (pacedFfmpeg) runs for at least its 10 s.
  storage.sources.set(
    "clip",
    await readFile(await makeClip(sb.dir, "hd.mp4", { width: 1920, height: 1080, seconds: 10, rate: 5, audio: true })),
  );
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const pid of await ffmpegProcessesMentioning(sb.tmp)) process.kill(pid, "SIGKILL");
  await storage?.close();
  await sb?.cleanup();
});

/** Spawn `node src/server.ts` on a free port with TMPDIR in the sandbox; resolves with its URL. */
async function spawnServer(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", TMPDIR: sb.tmp, CALLBACK_RETRY_BASE_MS: "50", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const stdout = must(child.stdout, "the server's piped stdout");
    stdout.setEncoding("utf8");
    stdout.on("data", (d: string) => {
      buf += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(buf);
      if (m?.[1]) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`server exited early: ${buf}`)));
  });
  return { child, url, exited };
}

/** GET /v1/videos/status?job_id= of a server. */
async function status(url: string, jobId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/videos/status?job_id=${encodeURIComponent(jobId)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

describe("server process lifecycle", () => {
  it("SIGKILL mid-job: no callback arrives; a new instance takes the same job and completes it", async () => {
    // Paced: its ffmpeg is known to have started (its pid recorded) and still runs when killed.
    const ffmpeg = await pacedFfmpeg(sb.dir);
    const a = await spawnServer({ FFMPEG_PATH: ffmpeg.path });
    const body = jobBody(storage, "crash", "clip");
    assert.equal((await submit(a.url, body)).status, 202);
    const orphans = [await ffmpeg.waitForStart()];
    // The Worker asks after the job it handed over: this process holds attempt 1.
    assert.deepEqual(
      { ...(await status(a.url, "crash")), started_at: "…" },
      { job_id: "crash", running: true, attempt: 1, phase: "running", started_at: "…" },
    );
    a.child.kill("SIGKILL");
    await a.exited;
    // The orphaned ffmpeg (in a container it dies with PID 1) — stop it here.
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await sleep(1000);
    assert.equal(storage.received.callbacks.filter((c) => c.job_id === "crash").length, 0, "a killed server sends no callback");
    assert.equal(storage.received.puts.size, 0, "nothing uploaded");

    // The dead server's temp dir is left behind; make it look old so the next start sweeps it.
    const stale = await leftoverTempDirs(sb.tmp);
    assert.equal(stale.length, 1, "SIGKILL leaves the temp dir behind");
    const old = new Date(Date.now() - 3600_000);
    await utimes(join(sb.tmp, must(stale[0], "the stale temp dir")), old, old);

    const b = await spawnServer({ JOB_TIMEOUT_SECONDS: "600" });
    assert.deepEqual(await leftoverTempDirs(sb.tmp), [], "stale temp dir swept at startup");
    // The restarted service does not hold the killed job: the Worker takes that as lost and re-dispatches.
    assert.deepEqual(await status(b.url, "crash"), { job_id: "crash", running: false });
    const retry = await submit(b.url, { ...body, attempt: 2 });
    assert.equal(retry.status, 202);
    const cb = await storage.waitForCallback("crash");
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    assert.equal(cb.attempt, 2);
    // Held until its callback was delivered, then forgotten.
    assert.deepEqual(await status(b.url, "crash"), { job_id: "crash", running: false });
    assert.ok(storage.received.puts.has("crash-1080p") && storage.received.puts.has("crash-thumbnail"));
    assert.deepEqual(await leftoverTempDirs(sb.tmp), []);
    b.child.kill("SIGTERM");
    assert.equal(await b.exited, 0);
  });

  it("SIGTERM mid-job: ffmpeg killed, temp dir removed, failed+retryable callback, clean exit", async () => {
    const ffmpeg = await pacedFfmpeg(sb.dir);
    const c = await spawnServer({ FFMPEG_PATH: ffmpeg.path });
    assert.equal((await submit(c.url, jobBody(storage, "term", "clip"))).status, 202);
    const running = await ffmpeg.waitForStart();
    c.child.kill("SIGTERM");
    assert.equal(await c.exited, 0, "exits 0 after cleaning up");
    assert.equal(await processAlive(running), false, "the job's ffmpeg was killed");
    assert.deepEqual(await ffmpegProcessesMentioning(sb.tmp), [], "no ffmpeg left");
    assert.deepEqual(await leftoverTempDirs(sb.tmp), [], "temp dir removed");
    const cbs = storage.received.callbacks.filter((cb) => cb.job_id === "term");
    assert.equal(cbs.length, 1);
    const termCb = must(cbs[0], "the term callback");
    assert.equal(termCb.status, "failed");
    assert.equal(termCb.retryable, true);
    assert.match(String(termCb.error), /shut down/);
    assert.deepEqual(
      (await readdir(sb.tmp)).filter((n) => n.startsWith("propops-")),
      [],
    );
  });
});
