/**
 * Photo compressor: time per megapixel and bytes saved on a generated set of camera-like JPEGs
 * (with EXIF, some rotated) and a transparent PNG, against a baseline measured in the same run:
 * a plain photon decode + JPEG re-encode at the same quality, without the compressor's long-edge
 * cap, orientation or metadata handling. Runs photon's Node build (the media container's path).
 * Native baseline beside it: sharp (libvips, a devDependency for this benchmark only) doing the same
 * job (orientation, long-edge cap, JPEG at the same quality, metadata dropped), time per megapixel and
 * its peak memory (the process's max RSS growth, measured before photon's wasm memory exists).
 *   npm run bench -- photos        (BENCH_MAX_MP=12 to skip the 24/48 MP images)
 */
import { PhotonImage } from "@cf-wasm/photon";
import { compressImage, JPEG_QUALITY, MAX_LONG_EDGE, photonMemoryBytes } from "@propops/media-core/photo-compressor";
import sharp from "sharp";
import { makeJpeg, makePng, withExif } from "../scripts/lib/media-fixtures";

const MAX_MP = Number(process.env.BENCH_MAX_MP ?? 48);
const set: { name: string; w: number; h: number; png?: boolean; orientation?: number }[] = [
  { name: "1 MP", w: 1224, h: 816 },
  { name: "2 MP (Worker budget)", w: 1632, h: 1224, orientation: 6 },
  { name: "4 MP", w: 2449, h: 1633 },
  { name: "12 MP phone", w: 4000, h: 3000, orientation: 6 },
  { name: "12 MP phone", w: 4032, h: 3024, orientation: 1 },
  { name: "24 MP", w: 6000, h: 4000, orientation: 8 },
  { name: "48 MP", w: 8000, h: 6000, orientation: 6 },
  { name: "PNG+alpha 2 MP", w: 1632, h: 1224, png: true },
].filter((i) => (i.w * i.h) / 1e6 <= MAX_MP + 0.5);

/** The baseline: decode → re-encode in the same format (PNG stays PNG: JPEG would drop its alpha). */
function baseline(bytes: Uint8Array, png: boolean): { ms: number; size: number } {
  const t = performance.now();
  const img = PhotonImage.new_from_byteslice(bytes);
  try {
    const out = png ? img.get_bytes() : img.get_bytes_jpeg(JPEG_QUALITY);
    return { ms: performance.now() - t, size: out.length };
  } finally {
    img.free();
  }
}

// sharp first, while no photon memory exists: max RSS growth is then sharp's (libvips) own.
sharp.cache(false);
sharp.concurrency(1); // one thread, like photon in the isolate
const sources = set.map((item) =>
  item.png ? makePng(item.w, item.h, { alpha: true, seed: 5 }) : withExif(makeJpeg(item.w, item.h, 95, item.w), item.orientation ?? 1),
);
const rssBefore = process.resourceUsage().maxRSS * 1024;
const sharpMs: number[] = [];
const sharpSize: number[] = [];
for (const [i, item] of set.entries()) {
  const src = sources[i] ?? new Uint8Array();
  const t = performance.now();
  const pipeline = sharp(src).rotate().resize({ width: MAX_LONG_EDGE, height: MAX_LONG_EDGE, fit: "inside", withoutEnlargement: true });
  const out = await (item.png ? pipeline.png() : pipeline.jpeg({ quality: JPEG_QUALITY })).toBuffer();
  sharpMs.push(performance.now() - t);
  sharpSize.push(out.length);
}
const sharpPeak = process.resourceUsage().maxRSS * 1024 - rssBefore;
// libvips's own high-water mark of the memory it allocated (MB): generating the 48 MP sources
// already raised the process's max RSS, so the RSS growth above can read 0.
const sharpTrackedPeakMb = sharp.cache().memory.high;

// photon's memory grows once to the largest image's peak and stays: grow it before timing, so no
// row (baseline or compressor) pays for growth, and let the compressor capture its memory object.
await new Promise((r) => setTimeout(r, 0));
const largest = set.reduce((a, b) => (a.w * a.h >= b.w * b.h ? a : b));
compressImage(makeJpeg(largest.w, largest.h, 95));

const rows: string[] = [];
let totalMp = 0;
let totalMs = 0;
let totalBaseMs = 0;
let totalBefore = 0;
let totalAfter = 0;
let totalSharpMs = 0;
for (const [i, item] of set.entries()) {
  const src = sources[i] ?? new Uint8Array();
  const mp = (item.w * item.h) / 1e6;
  const base = baseline(src, item.png === true);
  const t = performance.now();
  const r = compressImage(src);
  const ms = performance.now() - t;
  totalMp += mp;
  totalMs += ms;
  totalBaseMs += base.ms;
  const sMs = sharpMs[i] ?? 0;
  totalSharpMs += sMs;
  totalBefore += r.bytesBefore;
  totalAfter += r.bytesAfter;
  rows.push(
    [
      `${item.name} ${item.w}×${item.h}`.padEnd(34),
      `${mp.toFixed(1).padStart(5)} MP`,
      `${(ms / mp).toFixed(0).padStart(5)} ms/MP`,
      `${(ms / base.ms).toFixed(2).padStart(5)}× base time`,
      `sharp ${(sMs / mp).toFixed(0).padStart(4)} ms/MP ${kb(sharpSize[i] ?? 0).padStart(7)}`,
      `${kb(r.bytesBefore).padStart(8)} → ${kb(r.bytesAfter).padStart(7)}`,
      `saved ${pct(1 - r.bytesAfter / r.bytesBefore).padStart(4)}`,
      `(base ${kb(base.size).padStart(8)}, saved ${pct(1 - base.size / r.bytesBefore).padStart(4)})`,
      `${r.outputWidth}×${r.outputHeight} ${r.outcome}`,
    ].join("  "),
  );
}

function kb(n: number) {
  return `${(n / 1024).toFixed(0)} KiB`;
}
function pct(x: number) {
  return `${Math.round(x * 100)}%`;
}

console.log(`photo compressor (photon, Node ${process.version}): long edge ≤ ${MAX_LONG_EDGE}px, JPEG q${JPEG_QUALITY}`);
console.log("baseline = photon decode + re-encode (JPEG q80; PNG for PNG), same run: no resize, no orientation, no strip\n");
for (const r of rows) console.log(`  ${r}`);
console.log(
  `\n  all: ${(totalMs / totalMp).toFixed(0)} ms/MP (baseline ${(totalBaseMs / totalMp).toFixed(0)} ms/MP, ${(totalMs / totalBaseMs).toFixed(2)}×); ` +
    `${kb(totalBefore)} → ${kb(totalAfter)}, saved ${pct(1 - totalAfter / totalBefore)}; photon wasm peak ${(photonMemoryBytes() / 2 ** 20).toFixed(0)} MB`,
);
console.log(
  `  sharp (libvips ${sharp.versions.vips}, 1 thread): ${(totalSharpMs / totalMp).toFixed(0)} ms/MP, ` +
    `${(totalMs / totalSharpMs).toFixed(1)}× faster than photon; peak memory: libvips ${sharpTrackedPeakMb} MB tracked, max RSS growth ${(sharpPeak / 2 ** 20).toFixed(0)} MB`,
);
