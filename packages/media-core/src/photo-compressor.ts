/**
 * The photo compressor (photon-wasm). Pure and self-contained: it imports only @cf-wasm/photon
 * (which resolves to its workerd build in the Worker and its Node build in the media container),
 * so the same code runs in both places. No relative imports: Node loads this file as it is.
 *
 * Pipeline: read the header (refuse pixel bombs before decoding) → decode → cap the long edge →
 * apply the EXIF orientation → re-encode (JPEG, or lossless PNG when the image has transparency).
 * Re-encoding drops every metadata segment (EXIF, GPS, XMP, IPTC, comments). An upright image is
 * also offered a lossless metadata strip of the original bytes; the smallest stripped candidate
 * wins, and the original is kept only when no candidate is smaller.
 *
 * Memory: photon's wasm memory grows to the peak of the largest image handled and never shrinks.
 * The whole photon section is synchronous, so two compressions in one isolate never overlap; the
 * peak of an isolate is that of its largest image, which the caller bounds (see photo-job.ts).
 */
import { initPhoton, PhotonImage, resize, SamplingFilter } from "@cf-wasm/photon";
import { concatBytes } from "./bytes.ts";

/** Pixel-bomb cap: 50 MP covers 48 MP phone sensors; anything larger is refused from the header. */
export const MAX_PIXELS = 50_000_000;
/** Long-edge cap of the compressed photo, in pixels. */
export const MAX_LONG_EDGE = 2048;
/** JPEG quality of re-encoded photos (photon's 1–100 scale). */
export const JPEG_QUALITY = 80;

export type ImageFormat = "jpeg" | "png";

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 = upright; PNG is always 1). */
  orientation: number;
  /** PNG with an alpha channel or a tRNS chunk: re-encoded losslessly. */
  hasAlpha: boolean;
  /** Bits per sample (8 for JPEG; 1–16 for PNG): 16-bit images take twice the decode memory. */
  bitDepth: number;
  /** Offset just past the image's last byte (JPEG EOI, PNG IEND); later bytes are a trailer. */
  end: number;
}

export type RejectReason = "unsupported" | "truncated" | "pixel_bomb";

/** An image the compressor refuses: retrying will not help. */
export class ImageRejected extends Error {
  // A declared field, not a parameter property: Node's type stripping accepts only erasable syntax.
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.name = "ImageRejected";
    this.reason = reason;
  }
}

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u32be = (b: Uint8Array, i: number) =>
  (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0;

export const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
export const isPng = (b: Uint8Array) => b.length >= 8 && PNG_SIG.every((v, i) => b[i] === v);

/**
 * Parses a JPEG or PNG header and walks its structure to the end marker, without decoding pixels.
 * Throws ImageRejected for anything else, a truncated file, or more than MAX_PIXELS pixels.
 */
export function readImageHeader(bytes: Uint8Array, maxPixels = MAX_PIXELS): ImageInfo {
  const info = isJpeg(bytes) ? readJpeg(bytes) : isPng(bytes) ? readPng(bytes) : undefined;
  if (!info) throw new ImageRejected("unsupported", "not a JPEG or PNG image");
  if (info.width < 1 || info.height < 1) throw new ImageRejected("unsupported", `${info.format.toUpperCase()} has no dimensions`);
  if (info.width * info.height > maxPixels) {
    throw new ImageRejected(
      "pixel_bomb",
      `image is ${info.width}×${info.height} (${mp(info.width * info.height)} MP), above the ${mp(maxPixels)} MP limit`,
    );
  }
  return info;
}

const mp = (pixels: number) => Math.round(pixels / 100_000) / 10;

function readJpeg(b: Uint8Array): ImageInfo {
  const truncated = () => new ImageRejected("truncated", "JPEG is truncated or malformed");
  let i = 2;
  let width = 0;
  let height = 0;
  let precision = 8;
  let orientation = 1;
  for (;;) {
    if (i + 4 > b.length) throw truncated();
    if (b[i] !== 0xff) throw truncated();
    const marker = b[i + 1] ?? 0;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9) throw truncated(); // EOI before any scan
    const len = u16be(b, i + 2);
    if (len < 2 || i + 2 + len > b.length) throw truncated();
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && len >= 8) {
      precision = b[i + 4] ?? 8;
      height = u16be(b, i + 5);
      width = u16be(b, i + 7);
    } else if (marker === 0xe1 && len >= 16 && ascii(b, i + 4, 6) === "Exif\0\0") {
      orientation = exifOrientation(b.subarray(i + 10, i + 2 + len)) ?? orientation;
    } else if (marker === 0xda) {
      if (width === 0) throw truncated(); // a scan before the frame header
      // Entropy-coded data stuffs 0xFF as FF 00 and uses FF D0–D7 for restarts: FF D9 is the end.
      let j = i + 2 + len;
      for (;;) {
        j = b.indexOf(0xff, j);
        if (j < 0 || j + 1 >= b.length) throw truncated();
        if (b[j + 1] === 0xd9) return { format: "jpeg", width, height, orientation, hasAlpha: false, bitDepth: precision, end: j + 2 };
        j += 1;
      }
    }
    i += 2 + len;
  }
}

function ascii(b: Uint8Array, start: number, n: number): string {
  let s = "";
  for (let k = start; k < start + n && k < b.length; k++) s += String.fromCharCode(b[k] ?? 0);
  return s;
}

/** The Orientation tag (0x0112) of IFD0 in a TIFF block, if present and valid. */
function exifOrientation(tiff: Uint8Array): number | undefined {
  if (tiff.length < 8) return undefined;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const u16 = (i: number) => (le ? (tiff[i] ?? 0) | ((tiff[i + 1] ?? 0) << 8) : u16be(tiff, i));
  const u32 = (i: number) => (le ? (u16(i) | (u16(i + 2) << 16)) >>> 0 : u32be(tiff, i));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const count = u16(ifd);
  for (let e = 0; e < count; e++) {
    const at = ifd + 2 + e * 12;
    if (at + 12 > tiff.length) return undefined;
    if (u16(at) === 0x0112 && u16(at + 2) === 3) {
      const v = u16(at + 8);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return undefined;
}

function readPng(b: Uint8Array): ImageInfo {
  const truncated = () => new ImageRejected("truncated", "PNG is truncated or malformed");
  if (b.length < 33 || u32be(b, 8) !== 13 || ascii(b, 12, 4) !== "IHDR") throw truncated();
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const bitDepth = b[24] ?? 8;
  const colorType = b[25] ?? 0;
  let hasAlpha = colorType === 4 || colorType === 6;
  let pos = 8;
  let sawData = false;
  while (pos + 12 <= b.length) {
    const len = u32be(b, pos);
    const type = ascii(b, pos + 4, 4);
    const next = pos + 12 + len;
    if (next > b.length) throw truncated();
    if (type === "tRNS") hasAlpha = true;
    if (type === "IDAT") sawData = true;
    if (type === "IEND") {
      if (!sawData) throw truncated();
      return { format: "png", width, height, orientation: 1, hasAlpha, bitDepth, end: next };
    }
    pos = next;
  }
  throw truncated();
}

// ── lossless metadata strip ─────────────────────────────────────────────────────

/** JPEG segments kept by the lossless strip: JFIF (APP0), ICC profile (APP2), Adobe colour transform (APP14). */
const KEEP_JPEG_APP = new Set([0xe0, 0xe2, 0xee]);
/** PNG chunks kept by the lossless strip: critical ones and those that affect how pixels look. */
const KEEP_PNG = new Set(["IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM", "sRGB", "iCCP", "sBIT", "pHYs", "bKGD"]);

/** The image's own bytes without metadata (EXIF/GPS, XMP, IPTC, comments, text chunks, trailers). */
export function stripMetadata(bytes: Uint8Array, info: ImageInfo): Uint8Array {
  const parts: Uint8Array[] = [];
  if (info.format === "jpeg") {
    parts.push(bytes.subarray(0, 2));
    let i = 2;
    for (;;) {
      const marker = bytes[i + 1] ?? 0;
      if (marker === 0xff) {
        i += 1;
        continue;
      }
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        i += 2;
        continue;
      }
      const len = u16be(bytes, i + 2);
      const isApp = marker >= 0xe0 && marker <= 0xef;
      if (marker === 0xda) {
        parts.push(bytes.subarray(i, info.end));
        break;
      }
      if ((!isApp || KEEP_JPEG_APP.has(marker)) && marker !== 0xfe) parts.push(bytes.subarray(i, i + 2 + len));
      i += 2 + len;
    }
  } else {
    parts.push(bytes.subarray(0, 8));
    let pos = 8;
    while (pos < info.end) {
      const next = pos + 12 + u32be(bytes, pos);
      if (KEEP_PNG.has(ascii(bytes, pos + 4, 4))) parts.push(bytes.subarray(pos, next));
      pos = next;
    }
  }
  return concatBytes(...parts);
}

// ── compression ────────────────────────────────────────────────────────────────

// Typed structurally: the Node build of this file has no WebAssembly lib types.
let wasmMemory: { buffer: ArrayBuffer } | undefined;
// Both photon builds initialise synchronously on import; this only captures the memory object.
void initPhoton.ensure().then((out) => {
  wasmMemory = out.memory;
});

/** photon's wasm memory size in bytes: its high-water mark so far (wasm memory never shrinks). */
export function photonMemoryBytes(): number {
  return wasmMemory?.buffer.byteLength ?? 0;
}

export interface CompressOptions {
  maxLongEdge?: number;
  jpegQuality?: number;
  maxPixels?: number;
}

export interface CompressResult {
  /** "compressed": `bytes` is a new, metadata-free image; "original_kept": nothing smaller was found. */
  outcome: "compressed" | "original_kept";
  bytes: Uint8Array;
  contentType: "image/jpeg" | "image/png";
  /** Upright dimensions of the source and of `bytes`. */
  width: number;
  height: number;
  outputWidth: number;
  outputHeight: number;
  bytesBefore: number;
  bytesAfter: number;
  /** photon's wasm memory after the run (its peak so far). */
  wasmMemoryBytes: number;
}

/** Compresses one JPEG or PNG. Synchronous on purpose (see the file comment). */
export function compressImage(input: Uint8Array, opts: CompressOptions = {}): CompressResult {
  const maxLongEdge = opts.maxLongEdge ?? MAX_LONG_EDGE;
  const quality = opts.jpegQuality ?? JPEG_QUALITY;
  const info = readImageHeader(input, opts.maxPixels ?? MAX_PIXELS);
  const swaps = info.orientation >= 5;
  const upright = swaps ? { width: info.height, height: info.width } : { width: info.width, height: info.height };

  let image: PhotonImage;
  try {
    image = PhotonImage.new_from_byteslice(input);
  } catch (err) {
    throw new ImageRejected("truncated", `image could not be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
  let encoded: Uint8Array;
  let outW: number;
  let outH: number;
  try {
    if (image.get_width() !== info.width || image.get_height() !== info.height) {
      throw new ImageRejected("truncated", "decoded dimensions differ from the header");
    }
    const scale = Math.min(1, maxLongEdge / Math.max(info.width, info.height));
    if (scale < 1) {
      const resized = resize(
        image,
        Math.max(1, Math.round(info.width * scale)),
        Math.max(1, Math.round(info.height * scale)),
        SamplingFilter.Triangle,
      );
      image.free();
      image = resized;
    }
    if (info.orientation !== 1) {
      const oriented = orient(image.get_raw_pixels(), image.get_width(), image.get_height(), info.orientation);
      image.free();
      image = new PhotonImage(oriented.pixels, oriented.width, oriented.height);
    }
    outW = image.get_width();
    outH = image.get_height();
    encoded = info.hasAlpha ? image.get_bytes() : image.get_bytes_jpeg(quality);
  } finally {
    image.free();
  }

  let best: { bytes: Uint8Array; contentType: "image/jpeg" | "image/png"; width: number; height: number } = {
    bytes: encoded,
    contentType: info.hasAlpha ? "image/png" : "image/jpeg",
    width: outW,
    height: outH,
  };
  // An upright image can also lose its metadata without re-encoding; keep whichever is smaller.
  if (info.orientation === 1) {
    const stripped = stripMetadata(input, info);
    if (stripped.length < best.bytes.length) {
      best = {
        bytes: stripped,
        contentType: mimeOf(info.format),
        width: info.width,
        height: info.height,
      };
    }
  }
  const kept = best.bytes.length >= input.length;
  return {
    outcome: kept ? "original_kept" : "compressed",
    bytes: kept ? input : best.bytes,
    contentType: kept ? mimeOf(info.format) : best.contentType,
    width: upright.width,
    height: upright.height,
    outputWidth: kept ? upright.width : best.width,
    outputHeight: kept ? upright.height : best.height,
    bytesBefore: input.length,
    bytesAfter: kept ? input.length : best.bytes.length,
    wasmMemoryBytes: photonMemoryBytes(),
  };
}

const mimeOf = (format: ImageFormat) => (format === "png" ? "image/png" : "image/jpeg") as "image/png" | "image/jpeg";

/**
 * EXIF orientation → [a, b, c, d, e, f] with the stored pixel at (a·x + b·y + c·(w−1), d·x + e·y + f·(h−1)):
 * 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° anticlockwise.
 */
type Orientation = readonly [number, number, number, number, number, number];
const AS_STORED: Orientation = [1, 0, 0, 0, 1, 0];
const ORIENTATIONS: Record<number, Orientation> = {
  1: AS_STORED,
  2: [-1, 0, 1, 0, 1, 0],
  3: [-1, 0, 1, 0, -1, 1],
  4: [1, 0, 0, 0, -1, 1],
  5: [0, 1, 0, 1, 0, 0],
  6: [0, 1, 0, -1, 0, 1],
  7: [0, -1, 1, -1, 0, 1],
  8: [0, -1, 1, 1, 0, 0],
};

/** Applies an EXIF orientation to RGBA pixels (1 = as stored; 5–8 swap width and height). */
export function orient(pixels: Uint8Array, w: number, h: number, orientation: number) {
  const src = new Uint32Array(pixels.buffer, pixels.byteOffset, w * h);
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint32Array(ow * oh);
  // The stored pixel shown at (x, y), as ORIENTATIONS says: each orientation is a
  // flip and/or a transpose, so its six coefficients say it all (and the loop stays arithmetic).
  const [a, b, c, d, e, f] = ORIENTATIONS[orientation] ?? AS_STORED;
  const cx = c * (w - 1);
  const fy = f * (h - 1);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) out[y * ow + x] = src[(d * x + e * y + fy) * w + a * x + b * y + cx] ?? 0;
  }
  return { pixels: new Uint8Array(out.buffer), width: ow, height: oh };
}
