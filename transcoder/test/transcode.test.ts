// End-to-end: real ffmpeg, real HTTP storage/callback server, real transcoder server.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RunningServer } from "../src/server.ts";
import type { Sandbox, Storage } from "./helpers.ts";
import {
  jobBody,
  leftoverTempDirs,
  makeClip,
  must,
  probe,
  sandbox,
  startStorage,
  startTranscoder,
  submit,
  testConfig,
  topLevelBoxes,
} from "./helpers.ts";

let sb: Sandbox;
let storage: Storage;
let server: RunningServer;

before(async () => {
  sb = await sandbox();
  storage = await startStorage();
  server = await startTranscoder(testConfig(sb.tmp));
});

after(async () => {
  await server?.close();
  await storage?.close();
  await sb?.cleanup();
});

/** Serve `file`, submit a job, wait for its callback; also checks no temp dir is left. */
async function transcode(jobId: string, file: string): Promise<Record<string, unknown>> {
  storage.sources.set(jobId, await readFile(file));
  const r = await submit(server.url, jobBody(storage, jobId, jobId));
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.deepEqual(r.json, { accepted: true, job_id: jobId });
  const cb = await storage.waitForCallback(jobId);
  assert.deepEqual(await leftoverTempDirs(sb.tmp), [], "temp dir removed after the job");
  return cb;
}

async function savedPut(name: string): Promise<string> {
  const put = storage.received.puts.get(name);
  assert.ok(put, `${name} was uploaded`);
  const p = join(sb.dir, `${name}.out`);
  await writeFile(p, put.body);
  return p;
}

type Variant = { width: number; height: number; bitrate: number; size: number };

describe("transcode success paths", () => {
  it("1080p source with audio → 1080p + 720p H.264/AAC faststart variants and a JPEG thumbnail", async () => {
    const src = await makeClip(sb.dir, "hd.mp4", { width: 1920, height: 1080, seconds: 3, audio: true });
    const srcSize = (await readFile(src)).length;
    const cb = await transcode("hd", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    assert.equal(cb.attempt, 1);
    const source = cb.source as Record<string, unknown>;
    assert.equal(source.width, 1920);
    assert.equal(source.height, 1080);
    assert.equal(source.size, srcSize);
    assert.equal(source.has_audio, true);
    assert.ok(Math.abs((source.duration as number) - 3) < 0.2, `duration ${source.duration}`);
    assert.ok((source.bitrate as number) > 0);
    const variants = cb.variants as Record<string, Variant>;
    assert.deepEqual(Object.keys(variants).sort(), ["1080p", "720p"]);
    const expected: Record<string, [number, number]> = { "1080p": [1920, 1080], "720p": [1280, 720] };
    for (const [name, [w, h]] of Object.entries(expected)) {
      const v = must(variants[name], `the ${name} variant`);
      assert.equal(v.width, w);
      assert.equal(v.height, h);
      assert.ok(v.size <= srcSize, `${name} ${v.size} <= source ${srcSize}`);
      assert.ok(v.bitrate > 0);
      const put = must(storage.received.puts.get(`hd-${name}`), `the hd-${name} upload`);
      assert.equal(put.contentType, "video/mp4");
      assert.equal(put.body.length, v.size, "uploaded bytes match the reported size");
      const p = await probe(await savedPut(`hd-${name}`));
      const video = must(
        p.streams.find((s) => s.codec_type === "video"),
        `a video stream in hd-${name}`,
      );
      const audio = p.streams.find((s) => s.codec_type === "audio");
      assert.equal(video.codec_name, "h264");
      assert.equal(video.profile, "High");
      assert.equal(video.pix_fmt, "yuv420p");
      assert.equal(video.width, w);
      assert.equal(video.height, h);
      assert.equal(audio?.codec_name, "aac");
      const boxes = topLevelBoxes(put.body);
      assert.ok(boxes.includes("moov") && boxes.includes("mdat"), boxes.join(","));
      assert.ok(boxes.indexOf("moov") < boxes.indexOf("mdat"), `faststart: moov before mdat (${boxes.join(",")})`);
    }
    const thumb = cb.thumbnail as { width: number; height: number; size: number };
    assert.deepEqual([thumb.width, thumb.height], [640, 360]);
    const tput = must(storage.received.puts.get("hd-thumbnail"), "the hd-thumbnail upload");
    assert.equal(tput.contentType, "image/jpeg");
    assert.equal(tput.body.length, thumb.size);
    assert.equal(tput.body.readUInt16BE(0), 0xffd8, "JPEG SOI marker");
    const timings = cb.timings as Record<string, number>;
    for (const k of ["download_ms", "transcode_ms", "upload_ms"]) assert.equal(typeof timings[k], "number");
  });

  it("4K source → variants capped at 1080p, nothing at 2160p", async () => {
    const src = await makeClip(sb.dir, "uhd.mp4", { width: 3840, height: 2160, seconds: 1, rate: 10 });
    const cb = await transcode("uhd", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    const variants = cb.variants as Record<string, Variant>;
    assert.deepEqual(Object.keys(variants).sort(), ["1080p", "720p"]);
    const v1080 = must(variants["1080p"], "the 1080p variant");
    const v720 = must(variants["720p"], "the 720p variant");
    assert.deepEqual([v1080.width, v1080.height], [1920, 1080]);
    assert.deepEqual([v720.width, v720.height], [1280, 720]);
    for (const name of ["1080p", "720p"]) {
      const p = await probe(await savedPut(`uhd-${name}`));
      assert.ok(p.streams.every((s) => s.codec_type !== "video" || (s.height ?? 0) <= 1080));
    }
    assert.equal((cb.source as Record<string, unknown>).has_audio, false);
  });

  it("360p source → no variants (never upscaled), thumbnail still produced", async () => {
    const src = await makeClip(sb.dir, "small.mp4", { width: 640, height: 360, seconds: 2, audio: true });
    const cb = await transcode("small", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    assert.deepEqual(cb.variants, {});
    assert.ok(!storage.received.puts.has("small-1080p") && !storage.received.puts.has("small-720p"), "no variant uploaded");
    const skipped = cb.skipped as Record<string, string>;
    assert.match(must(skipped["1080p"], "a 1080p skip reason"), /smaller than 1080p/);
    assert.match(must(skipped["720p"], "a 720p skip reason"), /smaller than 720p/);
    const thumb = cb.thumbnail as { width: number; height: number; size: number };
    assert.deepEqual([thumb.width, thumb.height], [640, 360]);
    assert.ok(must(storage.received.puts.get("small-thumbnail"), "the small-thumbnail upload").body.length > 0);
  });

  it("odd dimensions (1281x721 and 853x481) → even-dimension outputs", async () => {
    const a = await makeClip(sb.dir, "odd1.mp4", { width: 1281, height: 721, seconds: 2, audio: true });
    const cbA = await transcode("odd1", a);
    assert.equal(cbA.status, "completed", JSON.stringify(cbA));
    const v = must((cbA.variants as Record<string, Variant>)["720p"], "the odd1 720p variant");
    assert.deepEqual([v.width, v.height], [1280, 720]);
    assert.equal((cbA.variants as Record<string, Variant>)["1080p"], undefined);
    const p = await probe(await savedPut("odd1-720p"));
    const video = must(
      p.streams.find((s) => s.codec_type === "video"),
      "a video stream in odd1-720p",
    );
    assert.deepEqual([video.width, video.height], [1280, 720]);

    const b = await makeClip(sb.dir, "odd2.mp4", { width: 853, height: 481, seconds: 2 });
    const cbB = await transcode("odd2", b);
    assert.equal(cbB.status, "completed", JSON.stringify(cbB));
    const thumb = cbB.thumbnail as { width: number; height: number; size: number };
    assert.equal(thumb.width % 2, 0);
    assert.equal(thumb.height % 2, 0);
    assert.deepEqual([thumb.width, thumb.height], [640, 360]);
  });

  it("portrait 1080x1920 → short side scaled: 1080x1920 and 720x1280", async () => {
    const src = await makeClip(sb.dir, "portrait.mp4", { width: 1080, height: 1920, seconds: 1, rate: 15 });
    const cb = await transcode("portrait", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    const variants = cb.variants as Record<string, Variant>;
    const v1080 = must(variants["1080p"], "the 1080p variant");
    const v720 = must(variants["720p"], "the 720p variant");
    assert.deepEqual([v1080.width, v1080.height], [1080, 1920]);
    assert.deepEqual([v720.width, v720.height], [720, 1280]);
    const thumb = cb.thumbnail as { width: number; height: number; size: number };
    assert.deepEqual([thumb.width, thumb.height], [640, 1138]);
  });

  it("video without audio → variants have no audio stream", async () => {
    const src = await makeClip(sb.dir, "silent.mp4", { width: 1280, height: 720, seconds: 2 });
    const cb = await transcode("silent", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    assert.equal((cb.source as Record<string, unknown>).has_audio, false);
    assert.deepEqual(Object.keys(cb.variants as object), ["720p"]);
    const p = await probe(await savedPut("silent-720p"));
    assert.deepEqual(
      p.streams.map((s) => s.codec_type),
      ["video"],
    );
  });

  it("a variant larger than the source is dropped, not uploaded, and reported in skipped", async () => {
    // A very low quality source: re-encoding it at CRF 23 makes bigger files.
    const src = await makeClip(sb.dir, "tiny.mp4", { width: 1280, height: 720, seconds: 2, crf: 51 });
    const cb = await transcode("tiny", src);
    assert.equal(cb.status, "completed", JSON.stringify(cb));
    assert.deepEqual(cb.variants, {});
    assert.match(must((cb.skipped as Record<string, string>)["720p"], "a 720p skip reason"), /larger than source/);
    assert.equal(storage.received.puts.has("tiny-720p"), false);
    assert.ok(storage.received.puts.has("tiny-thumbnail"));
  });

  it("healthz reports ffmpeg and busy count", async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    const j = (await res.json()) as Record<string, unknown>;
    assert.equal(j.ok, true);
    assert.match(String(j.ffmpeg), /^ffmpeg version /);
    assert.equal(j.busy, 0);
  });
});
