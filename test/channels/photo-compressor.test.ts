import { env } from "cloudflare:test";
import {
  compressImage,
  ImageRejected,
  JPEG_QUALITY,
  MAX_LONG_EDGE,
  orient,
  photonMemoryBytes,
  readImageHeader,
} from "@propops/media-core/photo-compressor";
import { describe, expect, it } from "vitest";
import { ascii, contains, EXIF_MARKER, hasExif, makeJpeg, makePng, pngBomb, withExif } from "../../scripts/lib/media-fixtures";
import { fitsWorkerBudget, WORKER_MAX_SOURCE_BYTES } from "../../src/media/photo-job";

const MB = 2 ** 20;
/** The production isolate limit, and what photon may take of it: the rest is the JS heap (the source ≤ 8 MB, the result, the runtime). */
const ISOLATE_LIMIT = 128 * MB;
const WASM_SHARE = 64 * MB;

// Runs first in this file's isolate: photon's memory only grows, so sizes go in ascending order
// and each figure is the high-water mark after generating and compressing that size (an upper bound).
describe("photon wasm memory inside workerd (the Worker budget is measured, not hoped for)", () => {
  const table: { size: string; mp: number; peakMb: number; ms: number }[] = [];
  const budget = Number(env.PHOTON_WORKER_MAX_PIXELS);

  it("keeps every shape at the chosen budget (PHOTON_WORKER_MAX_PIXELS) under the wasm share of 128 MB", () => {
    // Worst shapes at the budget: square-ish (no resize), wider than the long-edge cap (resize), a PNG with alpha.
    const atBudget: [number, number, "jpeg" | "png"][] = [
      [Math.floor(Math.sqrt((budget * 4) / 3)), Math.floor(Math.sqrt((budget * 3) / 4)), "jpeg"],
      [Math.floor(Math.sqrt(budget * 3)), Math.floor(Math.sqrt(budget / 3)), "jpeg"],
      [Math.floor(Math.sqrt(budget * 2)), Math.floor(Math.sqrt(budget / 2)), "png"],
    ];
    for (const [w, h, kind] of atBudget) {
      expect(w * h).toBeLessThanOrEqual(budget);
      const bytes = kind === "png" ? makePng(w, h, { alpha: true }) : withExif(makeJpeg(w, h, 95), 6);
      expect(fitsWorkerBudget(env, w * h, 8, bytes.length)).toBe(true);
      const t = Date.now();
      const r = compressImage(bytes);
      table.push({ size: `${w}×${h} ${kind}`, mp: (w * h) / 1e6, peakMb: r.wasmMemoryBytes / MB, ms: Date.now() - t });
    }
    const peak = photonMemoryBytes();
    expect(peak, `photon peaked at ${peak / MB} MB at the budget`).toBeLessThan(WASM_SHARE);
    expect(peak + WORKER_MAX_SOURCE_BYTES * 2).toBeLessThan(ISOLATE_LIMIT);
  }, 60_000);

  it("a sequence of in-budget images reuses that memory (no growth per image)", () => {
    const before = photonMemoryBytes();
    for (let i = 0; i < 4; i++) compressImage(makeJpeg(1600, 1200, 90, i + 7));
    expect(photonMemoryBytes()).toBe(before);
  }, 60_000);

  it("measures larger images (the reason they go to the container)", () => {
    for (const [w, h] of [
      [2449, 1633],
      [3000, 2000],
      [4000, 3000],
    ] as const) {
      const t = Date.now();
      const r = compressImage(makeJpeg(w, h, 92));
      table.push({ size: `${w}×${h} jpeg`, mp: (w * h) / 1e6, peakMb: r.wasmMemoryBytes / MB, ms: Date.now() - t });
      expect(fitsWorkerBudget(env, w * h, 8, 1000)).toBe(false);
    }
    // 12 MP takes far more than an isolate has: this is why the budget exists.
    expect(photonMemoryBytes()).toBeGreaterThan(ISOLATE_LIMIT);
    console.log(
      `photon wasm peak by image size (budget ${budget} px):\n${table.map((r) => `  ${r.size.padEnd(16)} ${r.mp.toFixed(2).padStart(5)} MP → ${r.peakMb.toFixed(1).padStart(6)} MB  (${r.ms} ms)`).join("\n")}`,
    );
  }, 120_000);
});

describe("fitsWorkerBudget", () => {
  it("counts 16-bit images double and sends padded files to the container whatever their pixels", () => {
    expect(fitsWorkerBudget(env, 1_500_000, 8, 1000)).toBe(true);
    expect(fitsWorkerBudget(env, 1_500_000, 16, 1000)).toBe(false);
    expect(fitsWorkerBudget(env, 1_000_000, 8, WORKER_MAX_SOURCE_BYTES + 1)).toBe(false);
    expect(fitsWorkerBudget({ PHOTON_WORKER_MAX_PIXELS: "not a number" } as unknown as Env, 10, 8, 10)).toBe(false);
  });
});

describe("compressImage", () => {
  it("re-encodes, strips EXIF/GPS, applies the orientation and caps the long edge", () => {
    const src = withExif(makeJpeg(3000, 2000, 95), 6);
    expect(readImageHeader(src)).toMatchObject({ format: "jpeg", width: 3000, height: 2000, orientation: 6 });
    const r = compressImage(src);
    expect(r.outcome).toBe("compressed");
    expect(r).toMatchObject({ width: 2000, height: 3000, contentType: "image/jpeg", bytesBefore: src.length });
    expect(Math.max(r.outputWidth, r.outputHeight)).toBe(MAX_LONG_EDGE);
    expect(r.outputWidth).toBeLessThan(r.outputHeight);
    expect(r.bytesAfter).toBeLessThan(src.length);
    expect(hasExif(r.bytes)).toBe(false);
    expect(contains(r.bytes, ascii(EXIF_MARKER))).toBe(false);
    expect(readImageHeader(r.bytes)).toMatchObject({ width: r.outputWidth, height: r.outputHeight, orientation: 1 });
  });

  it("an upright small JPEG loses its metadata losslessly when that is smaller than re-encoding", () => {
    const src = withExif(makeJpeg(600, 400, 60), 1);
    const r = compressImage(src);
    expect(r.outcome).toBe("compressed");
    expect(hasExif(r.bytes)).toBe(false);
    expect(r.bytesAfter).toBeLessThan(src.length);
  });

  it(`keeps the original when nothing is smaller (q${JPEG_QUALITY} re-encode of a tiny, already lean image)`, () => {
    const src = makeJpeg(64, 48, 30);
    const r = compressImage(src);
    expect(r.outcome).toBe("original_kept");
    expect(r.bytes).toBe(src);
    expect(r.bytesAfter).toBe(src.length);
  });

  it("keeps transparency lossless: PNG with alpha in, PNG out", () => {
    const r = compressImage(makePng(2400, 1200, { alpha: true }));
    expect(r.contentType).toBe("image/png");
    expect([r.outputWidth, r.outputHeight]).toEqual([2048, 1024]);
  });

  it("refuses pixel bombs from the header, before decoding", () => {
    const before = photonMemoryBytes();
    expect(() => compressImage(pngBomb(30_000, 30_000))).toThrow(ImageRejected);
    expect(() => compressImage(pngBomb(30_000, 30_000))).toThrow("image is 30000×30000 (900 MP), above the 50 MP limit");
    expect(photonMemoryBytes()).toBe(before);
  });

  it("refuses truncated and non-image input", () => {
    const jpeg = makeJpeg(300, 200);
    expect(() => compressImage(jpeg.subarray(0, 400))).toThrow("JPEG is truncated or malformed");
    expect(() => compressImage(ascii("GIF89a"))).toThrow("not a JPEG or PNG image");
  });

  it("orient() maps all eight EXIF orientations", () => {
    // 2×1 image: pixel values 1, 2 (as little-endian u32 in RGBA).
    const px = new Uint8Array(new Uint32Array([1, 2]).buffer);
    const read = (o: number) => {
      const r = orient(px, 2, 1, o);
      return { w: r.width, h: r.height, v: Array.from(new Uint32Array(r.pixels.buffer)) };
    };
    expect(read(1)).toEqual({ w: 2, h: 1, v: [1, 2] });
    expect(read(2)).toEqual({ w: 2, h: 1, v: [2, 1] });
    expect(read(3)).toEqual({ w: 2, h: 1, v: [2, 1] });
    expect(read(4)).toEqual({ w: 2, h: 1, v: [1, 2] });
    expect(read(5)).toEqual({ w: 1, h: 2, v: [1, 2] });
    expect(read(6)).toEqual({ w: 1, h: 2, v: [1, 2] });
    expect(read(7)).toEqual({ w: 1, h: 2, v: [2, 1] });
    expect(read(8)).toEqual({ w: 1, h: 2, v: [2, 1] });
  });
});
