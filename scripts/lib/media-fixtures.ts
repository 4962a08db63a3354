// Real test images, generated with photon itself (no binary fixtures in the repo), plus the
// hand-built pieces the bad-input tests need (EXIF segments, bomb headers, zips).
import { PhotonImage } from "@cf-wasm/photon";
import { concatBytes } from "@propops/media-core/bytes";

/**
 * Camera-like RGBA pixels: smooth gradients and shapes with a little per-pixel noise, so the JPEG
 * sizes resemble a phone photo's rather than a flat colour's.
 */
export function photoPixels(width: number, height: number, opts: { seed?: number; alpha?: boolean } = {}): Uint8Array {
  const px = new Uint8Array(width * height * 4);
  let s = (opts.seed ?? 1) >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const noise = (s & 15) - 8;
      const i = (y * width + x) * 4;
      const fx = x / width;
      const fy = y / height;
      const ring = Math.sin((fx * 7 + fy * 5) * Math.PI) * 40;
      px[i] = clamp(90 + fx * 120 + ring + noise);
      px[i + 1] = clamp(70 + fy * 140 - ring / 2 + noise);
      px[i + 2] = clamp(160 - fx * 60 + ((x >> 6) & 1) * 25 + noise);
      px[i + 3] = opts.alpha ? clamp(255 * fy) : 255;
    }
  }
  return px;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v | 0);

export function makeJpeg(width: number, height: number, quality = 92, seed = 1): Uint8Array {
  const img = new PhotonImage(photoPixels(width, height, { seed }), width, height);
  try {
    return img.get_bytes_jpeg(quality);
  } finally {
    img.free();
  }
}

export function makePng(width: number, height: number, opts: { alpha?: boolean; seed?: number } = {}): Uint8Array {
  const img = new PhotonImage(photoPixels(width, height, opts), width, height);
  try {
    return img.get_bytes();
  } finally {
    img.free();
  }
}

export const concat = concatBytes;

export const ascii = (s: string) => new TextEncoder().encode(s);

/** A marker string written into the EXIF Make tag, to prove it is gone after compression. */
export const EXIF_MARKER = "SECRETCAM-GPS-51.5074N";

/**
 * An APP1 Exif segment (big-endian TIFF) with Orientation, Make and a GPS IFD holding a latitude,
 * spliced in right after SOI the way cameras write it.
 */
export function withExif(jpeg: Uint8Array, orientation = 1): Uint8Array {
  const make = ascii(`${EXIF_MARKER}\0`);
  const tiff: number[] = [];
  const u16 = (v: number) => tiff.push((v >> 8) & 255, v & 255);
  const u32 = (v: number) => tiff.push((v >>> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255);
  // Layout: header(8) IFD0(2 + 3×12 + 4 = 42) → 50; GPS IFD(2 + 2×12 + 4 = 30) → 80; rationals(24) → 104; make.
  const gpsIfd = 50;
  const rationals = 80;
  const makeAt = 104;
  tiff.push(0x4d, 0x4d);
  u16(42);
  u32(8);
  u16(3);
  u16(0x010f); // Make
  u16(2);
  u32(make.length);
  u32(makeAt);
  u16(0x0112); // Orientation
  u16(3);
  u32(1);
  u16(orientation);
  u16(0);
  u16(0x8825); // GPS IFD pointer
  u16(4);
  u32(1);
  u32(gpsIfd);
  u32(0);
  u16(2);
  u16(0x0001); // GPSLatitudeRef "N"
  u16(2);
  u32(2);
  tiff.push(0x4e, 0, 0, 0);
  u16(0x0002); // GPSLatitude 51/1 30/1 2664/100
  u16(5);
  u32(3);
  u32(rationals);
  u32(0);
  for (const [n, d] of [
    [51, 1],
    [30, 1],
    [2664, 100],
  ] as const) {
    u32(n);
    u32(d);
  }
  tiff.push(...make);
  const body = concat(ascii("Exif\0\0"), new Uint8Array(tiff));
  const len = body.length + 2;
  return concat(jpeg.subarray(0, 2), new Uint8Array([0xff, 0xe1, len >> 8, len & 255]), body, jpeg.subarray(2));
}

/** True if the JPEG still carries an APP1 "Exif" segment anywhere. */
export function hasExif(bytes: Uint8Array): boolean {
  for (let i = 0; i + 10 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xe1 && String.fromCharCode(...bytes.subarray(i + 4, i + 8)) === "Exif") return true;
  }
  return false;
}

export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(ascii(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A structurally complete PNG claiming width×height, with a token IDAT: a pixel bomb's header. */
export function pngBomb(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk("IEND", new Uint8Array()),
  );
}

export interface ZipEntry {
  name: string;
  data?: Uint8Array;
  /** Claimed sizes (for bombs): the central directory says so, the data need not match. */
  compressedSize?: number;
  uncompressedSize?: number;
  method?: number;
}

/** A ZIP with stored entries (or claimed sizes), enough for the central-directory checks. */
export function makeZip(entries: ZipEntry[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = ascii(e.name);
    const data = e.data ?? new Uint8Array();
    const csize = e.compressedSize ?? data.length;
    const usize = e.uncompressedSize ?? data.length;
    const local = new Uint8Array(30 + name.length + data.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.method ?? 0, true);
    lv.setUint32(18, csize, true);
    lv.setUint32(22, usize, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(data, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.method ?? 0, true);
    cv.setUint32(20, csize, true);
    cv.setUint32(24, usize, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cd = concat(...centrals);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, offset, true);
  return concat(...locals, cd, eocd);
}

/** A minimal DOCX: the two parts Word needs to recognise it. */
export function makeDocx(): Uint8Array {
  return makeZip([
    {
      name: "[Content_Types].xml",
      data: ascii(
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    { name: "_rels/.rels", data: ascii('<?xml version="1.0"?><Relationships/>') },
    { name: "word/document.xml", data: ascii('<?xml version="1.0"?><w:document><w:body><w:p/></w:body></w:document>') },
  ]);
}

/** A minimal PDF that ends with %%EOF. */
export function makePdf(): Uint8Array {
  return ascii(
    "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
  );
}

/** A minimal MP4: ftyp (isom) + moov + mdat boxes. */
export function makeMp4(): Uint8Array {
  const box = (type: string, payload: Uint8Array) => {
    const out = new Uint8Array(8 + payload.length);
    new DataView(out.buffer).setUint32(0, out.length);
    out.set(ascii(type), 4);
    out.set(payload, 8);
    return out;
  };
  return concat(
    box("ftyp", concat(ascii("isom"), new Uint8Array([0, 0, 2, 0]), ascii("isomiso2avc1mp41"))),
    box("moov", new Uint8Array(64)),
    box("mdat", new Uint8Array(256).fill(7)),
  );
}

/**
 * The transcoder's completion callback for one dispatched attempt (its wire format,
 * packages/media-core/src/contract.ts), given the sizes of the outputs it uploaded.
 */
export function transcoderCompleted(
  req: { job_id: string; attempt: number },
  sizes: { "1080p": number; "720p": number; thumbnail: number },
) {
  return {
    job_id: req.job_id,
    attempt: req.attempt,
    status: "completed",
    source: { width: 1920, height: 1080, duration: 10.02, bitrate: 8_100_000, size: 10_150_000, has_audio: true },
    variants: {
      "1080p": { width: 1920, height: 1080, bitrate: 3_900_000, size: sizes["1080p"] },
      "720p": { width: 1280, height: 720, bitrate: 2_400_000, size: sizes["720p"] },
    },
    skipped: {},
    thumbnail: { width: 640, height: 360, size: sizes.thumbnail },
    timings: { download_ms: 40, transcode_ms: 9100, upload_ms: 120 },
  };
}
