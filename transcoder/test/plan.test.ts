// Unit tests: ladder planning, ffmpeg arguments, request validation, source description.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import { JobError } from "../src/errors.ts";
import { buildFfmpegArgs, describeSource, planOutputs, validateTranscodeRequest } from "../src/transcode.ts";
import { must } from "./helpers.ts";

describe("planOutputs", () => {
  const dims = (w: number, h: number): Record<string, [number, number]> =>
    Object.fromEntries(planOutputs(w, h, 10).rungs.map((r) => [r.name, [r.width, r.outHeight]]));

  it("never upscales and caps at 1080p", () => {
    assert.deepEqual(dims(3840, 2160), { "1080p": [1920, 1080], "720p": [1280, 720] });
    assert.deepEqual(dims(1920, 1080), { "1080p": [1920, 1080], "720p": [1280, 720] });
    assert.deepEqual(dims(1280, 720), { "720p": [1280, 720] });
    assert.deepEqual(dims(640, 360), {});
  });

  it("uses the short side for portrait and keeps dimensions even", () => {
    assert.deepEqual(dims(1080, 1920), { "1080p": [1080, 1920], "720p": [720, 1280] });
    assert.deepEqual(dims(1281, 721), { "720p": [1280, 720] });
    for (const r of planOutputs(2001, 1131, 5).rungs) {
      assert.equal(r.width % 2, 0);
      assert.equal(r.outHeight % 2, 0);
    }
  });

  it("thumbnail ≤ 640 wide, even, at min(1 s, 10% of duration)", () => {
    assert.deepEqual(planOutputs(1920, 1080, 30).thumb, { width: 640, height: 360, at: 1 });
    assert.deepEqual(planOutputs(853, 481, 3).thumb, { width: 640, height: 360, at: 0.30000000000000004 });
    assert.deepEqual(planOutputs(321, 241, 3).thumb.width % 2, 0);
  });
});

describe("buildFfmpegArgs", () => {
  it("decodes once: one input, split feeding every rung and the thumbnail", () => {
    const args = buildFfmpegArgs("/t/source", "/t", planOutputs(1920, 1080, 10), true);
    assert.equal(args.filter((a) => a === "-i").length, 1);
    const graph = must(args[args.indexOf("-filter_complex") + 1], "a -filter_complex graph");
    assert.match(graph, /^\[0:v:0\]split=3\[s0\]\[s1\]\[st\];/);
    assert.equal(args.filter((a) => a === "libx264").length, 2);
    assert.equal(args.filter((a) => a === "+faststart").length, 2);
    assert.deepEqual(
      args.filter((a) => a.endsWith("k") && /^\d+k$/.test(a)),
      ["128k", "4000k", "8000k", "128k", "2500k", "5000k"],
    );
    const noAudio = buildFfmpegArgs("/t/source", "/t", planOutputs(1920, 1080, 10), false);
    assert.ok(!noAudio.includes("0:a:0"));
  });
});

describe("validateTranscodeRequest", () => {
  const good = {
    job_id: "abc",
    attempt: 0,
    source_url: "https://r2.example/src",
    callback_url: "http://worker/cb",
    outputs: { "1080p": { put_url: "https://a/1" }, "720p": { put_url: "https://a/2" }, thumbnail: { put_url: "https://a/3" } },
  };
  it("accepts the contract and drops unknown fields", () => {
    const r = validateTranscodeRequest({ ...good, extra: 1 });
    assert.ok(r.ok);
    assert.deepEqual(r.value, good);
  });
  it("rejects non-http(s) URLs and bad attempts", () => {
    assert.equal(validateTranscodeRequest({ ...good, source_url: "file:///x" }).ok, false);
    assert.equal(validateTranscodeRequest({ ...good, attempt: -1 }).ok, false);
    assert.equal(validateTranscodeRequest(null).ok, false);
  });
});

describe("describeSource", () => {
  const config = loadConfig({});
  const v = { codec_type: "video", width: 1920, height: 1080 };
  it("swaps dimensions for 90° rotation metadata", () => {
    const s = describeSource(
      { streams: [{ ...v, side_data_list: [{ rotation: -90 }] }], format: { duration: "4", format_name: "mov,mp4" } },
      1000,
      config,
    );
    assert.deepEqual([s.width, s.height], [1080, 1920]);
  });
  it("rejects still images, audio-only files and oversize dimensions", () => {
    const bad = (p: Parameters<typeof describeSource>[0], re: RegExp): void => {
      assert.throws(
        () => describeSource(p, 1, config),
        (e: unknown) => e instanceof JobError && !e.retryable && re.test(e.message),
      );
    };
    bad({ streams: [{ ...v }], format: { format_name: "png_pipe", duration: "0.04" } }, /still-image/);
    bad({ streams: [{ codec_type: "audio" }], format: { format_name: "mp3", duration: "3" } }, /no video stream/);
    bad(
      { streams: [{ ...v, disposition: { attached_pic: 1 } }, { codec_type: "audio" }], format: { format_name: "mp3", duration: "3" } },
      /no video stream/,
    );
    bad({ streams: [{ ...v, width: 9000 }], format: { format_name: "mov,mp4", duration: "3" } }, /too large/);
  });
});
