// A fresh machine: no ffmpeg or ffprobe on PATH. The server (a real `node src/server.ts` process
// whose PATH holds only Node's own directory) falls back to the static binaries of
// @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe, and still probes, transcodes and
// compresses. The container image keeps Debian's ffmpeg on PATH, which wins when present.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readImageHeader } from "@propops/media-core/photo-compressor";
import { makeJpeg } from "../../scripts/lib/media-fixtures.ts";
import { resolveBinary } from "../src/config.ts";
import type { Sandbox, Storage } from "./helpers.ts";
import { jobBody, makeClip, must, probe, sandbox, startStorage, submit } from "./helpers.ts";

const SERVER = fileURLToPath(new URL("../src/server.ts", import.meta.url));
/** Node's own directory and nothing else: no /usr/bin, so no Debian ffmpeg. */
const BARE_PATH = dirname(process.execPath);

let sb: Sandbox;
let storage: Storage;
let child: ChildProcess | undefined;
let url = "";
let stdout = "";

before(async () => {
  assert.ok(!existsSync(join(BARE_PATH, "ffmpeg")) && !existsSync(join(BARE_PATH, "ffprobe")), `${BARE_PATH} must not hold ffmpeg`);
  sb = await sandbox();
  storage = await startStorage();
  storage.sources.set("clip", await readClip());
  const server = spawn(process.execPath, [SERVER], {
    env: { HOME: process.env.HOME ?? "/tmp", PATH: BARE_PATH, PORT: "0", HOST: "127.0.0.1", TMPDIR: sb.tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = server;
  let stderr = "";
  server.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  url = await new Promise<string>((resolve, reject) => {
    server.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(stdout);
      if (m?.[1]) resolve(m[1]);
    });
    server.on("exit", () => reject(new Error(`server exited early: ${stdout}${stderr}`)));
  });
  // The fallback is silent only when it works: no "ffmpeg not usable" warning at startup.
  assert.doesNotMatch(stderr, /not usable/);
});

async function readClip() {
  const { readFile } = await import("node:fs/promises");
  return readFile(await makeClip(sb.dir, "phone.mp4", { width: 1280, height: 720, seconds: 2, audio: true }));
}

after(async () => {
  if (child && child.exitCode === null) child.kill("SIGTERM");
  await storage?.close();
  await sb?.cleanup();
});

describe("media service with no ffmpeg on PATH (npm-installed static binaries)", () => {
  it("reports the npm-installed ffmpeg in its health check", async () => {
    const res = await fetch(`${url}/healthz`);
    const body = (await res.json()) as { ok: boolean; ffmpeg: string | null };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(String(body.ffmpeg), /^ffmpeg version /);
    // The installer's static build says so in its version line; Debian's would not.
    assert.match(String(body.ffmpeg), /-static\b/);
    const installed = resolveBinary("ffmpeg", "@ffmpeg-installer/ffmpeg", BARE_PATH);
    assert.match(installed, /@ffmpeg-installer/, "the resolver picks the installer's binary when PATH has none");
    assert.match(resolveBinary("ffprobe", "@ffprobe-installer/ffprobe", BARE_PATH), /@ffprobe-installer/);
  });

  it("probes and transcodes a phone clip into 720p H.264/AAC and a thumbnail", { timeout: 180_000 }, async () => {
    const res = await submit(url, jobBody(storage, "bare", "clip"));
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const cb = await storage.waitForCallback("bare", 170_000);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    const v720 = must(storage.received.puts.get("bare-720p"), "720p uploaded");
    assert.equal(v720.contentType, "video/mp4");
    const file = join(sb.dir, "bare-720p.mp4");
    await writeFile(file, v720.body);
    const streams = (await probe(file)).streams;
    const video = streams.find((s) => s.codec_type === "video");
    assert.equal(video?.codec_name, "h264");
    assert.deepEqual([video?.width, video?.height], [1280, 720]);
    assert.equal(streams.find((s) => s.codec_type === "audio")?.codec_name, "aac");
    const thumb = must(storage.received.puts.get("bare-thumbnail"), "thumbnail uploaded");
    assert.equal(thumb.contentType, "image/jpeg");
    // A 720p source has no 1080p rung.
    assert.equal(storage.received.puts.has("bare-1080p"), false);
  });

  it("compresses a large camera JPEG (photon needs no ffmpeg, but the same process serves it)", async () => {
    const original = makeJpeg(3000, 2000, 95);
    storage.sources.set("camera.jpg", Buffer.from(original));
    const res = await fetch(`${url}/v1/images/compress`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ photo_id: 9, source_url: `${storage.url}/src/camera.jpg`, put_url: `${storage.url}/put/camera-bare` }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.outcome, "compressed");
    const put = must(storage.received.puts.get("camera-bare"), "compressed image uploaded");
    assert.ok(put.body.length < original.length);
    assert.equal(readImageHeader(new Uint8Array(put.body)).width, 2048);
  });
});
