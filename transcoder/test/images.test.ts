// The large-image path of the photo compressor: a real `node src/server.ts` process, photon's
// Node build, and a local server standing in for the Worker's signed GET/PUT URLs.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readImageHeader } from "@propops/media-core/photo-compressor";
import { ascii, contains, EXIF_MARKER, hasExif, makeJpeg, pngBomb, withExif } from "../../scripts/lib/media-fixtures.ts";
import type { Storage } from "./helpers.ts";
import { startStorage } from "./helpers.ts";

const SERVER = fileURLToPath(new URL("../src/server.ts", import.meta.url));
let child: ChildProcess;
let url = "";
let storage: Storage;

before(async () => {
  storage = await startStorage();
  child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_JOBS: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => {
      buf += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(buf);
      if (m?.[1]) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`server exited early: ${buf}`)));
  });
});

after(async () => {
  if (child.exitCode === null) child.kill("SIGTERM");
  await storage.close();
});

async function compress(body: unknown) {
  const res = await fetch(`${url}/v1/images/compress`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("POST /v1/images/compress (media container, Node)", () => {
  it("compresses a 12 MP camera JPEG: upright, long edge 2048, EXIF/GPS gone, smaller, PUT to the signed URL", async () => {
    const original = withExif(makeJpeg(4000, 3000, 95), 6);
    storage.sources.set("camera.jpg", Buffer.from(original));
    const { status, json } = await compress({
      photo_id: 1,
      source_url: `${storage.url}/src/camera.jpg`,
      put_url: `${storage.url}/put/camera`,
    });
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(
      {
        outcome: json.outcome,
        content_type: json.content_type,
        width: json.width,
        height: json.height,
        ow: json.output_width,
        oh: json.output_height,
      },
      { outcome: "compressed", content_type: "image/jpeg", width: 3000, height: 4000, ow: 1536, oh: 2048 },
    );
    const put = storage.received.puts.get("camera");
    assert.ok(put, "result was uploaded");
    assert.equal(put.contentType, "image/jpeg");
    assert.equal(put.body.length, json.bytes_after);
    assert.ok(put.body.length < original.length);
    const out = new Uint8Array(put.body);
    assert.equal(hasExif(out), false);
    assert.equal(contains(out, ascii(EXIF_MARKER)), false);
    assert.deepEqual([readImageHeader(out).width, readImageHeader(out).height], [1536, 2048]);
    // Why this runs here and not in the Worker: photon needs more than an isolate's 128 MB.
    assert.ok(Number(json.wasm_memory_bytes) > 128 * 2 ** 20);
  });

  it("refuses a pixel bomb with 422, not retryable, and uploads nothing", async () => {
    storage.sources.set("bomb.png", Buffer.from(pngBomb(30_000, 30_000)));
    const { status, json } = await compress({ photo_id: 2, source_url: `${storage.url}/src/bomb.png`, put_url: `${storage.url}/put/bomb` });
    assert.equal(status, 422);
    assert.deepEqual(json, { error: "image is 30000×30000 (900 MP), above the 50 MP limit", retryable: false });
    assert.equal(storage.received.puts.has("bomb"), false);
  });

  it("a source that fails with 5xx is a retryable 502", async () => {
    const { status, json } = await compress({ photo_id: 3, source_url: `${storage.url}/src/fail500`, put_url: `${storage.url}/put/x` });
    assert.equal(status, 502);
    assert.deepEqual(json, { error: "source download failed: HTTP 500", retryable: true });
  });

  it("validates the request", async () => {
    // The shared wire format (src/media/contract.ts) names each field that is wrong.
    const zero = await compress({ photo_id: 0 });
    assert.equal(zero.status, 400);
    assert.match(String(zero.json.error), /^photo_id: .*; source_url: must be an http\(s\) URL; put_url: must be an http\(s\) URL$/);
    assert.deepEqual(await compress({ photo_id: 4, source_url: "file:///etc/passwd", put_url: "http://x" }), {
      status: 400,
      json: { error: "source_url: must be an http(s) URL" },
    });
  });
});
