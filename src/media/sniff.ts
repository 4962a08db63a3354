/**
 * Decides an upload's type from its bytes alone (magic numbers and structure); the file name and
 * the declared Content-Type are never consulted. JPEG/PNG headers are parsed by the compressor's
 * reader (one parser for upload checks and compression), MP4 by its box structure, PDF by its
 * header and trailer, DOCX by its ZIP central directory, without inflating anything.
 */
import { ImageRejected, readImageHeader } from "@propops/media-core/photo-compressor";

export type SniffedType = "jpeg" | "png" | "mp4" | "pdf" | "docx";

export const CONTENT_TYPES: Record<SniffedType, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  mp4: "video/mp4",
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
};

export const EXTENSIONS: Record<SniffedType, string> = { jpeg: "jpg", png: "png", mp4: "mp4", pdf: "pdf", docx: "docx" };

export interface Sniffed {
  type: SniffedType;
  contentType: string;
  /** Upright image dimensions. */
  width?: number;
  height?: number;
  /** 16-bit images decode to twice the memory: the compressor's budget counts their pixels twice. */
  bitDepth?: number;
}

/** Why a file was refused; every reason answers 415 with its message. */
export class SniffError extends Error {
  constructor(
    readonly reason: "unsupported" | "truncated" | "pixel_bomb" | "polyglot" | "zip_bomb" | "active_content",
    message: string,
  ) {
    super(message);
    this.name = "SniffError";
  }
}

/** ZIP limits for DOCX: far above any real document, far below a bomb. */
export const ZIP_LIMITS = {
  maxEntries: 2000,
  maxTotalUncompressed: 200 * 1024 * 1024,
  /** Ratio checked on entries above 1 MiB uncompressed; XML rarely passes 30:1. */
  maxRatio: 100,
} as const;

const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u32le = (b: Uint8Array, i: number) => (u16le(b, i) | (u16le(b, i + 2) << 16)) >>> 0;
const u32be = (b: Uint8Array, i: number) =>
  (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0;
const latin1 = (b: Uint8Array, start: number, end: number) => {
  let s = "";
  for (let i = Math.max(0, start); i < Math.min(end, b.length); i++) s += String.fromCharCode(b[i] ?? 0);
  return s;
};

/**
 * Identifies `bytes` as one of `accepted`, or throws SniffError with a message saying why not.
 * Images are walked to their end marker (truncation) and refused above the pixel cap (bombs).
 */
export function sniff(bytes: Uint8Array, accepted: readonly SniffedType[]): Sniffed {
  const names = accepted.map((t) => t.toUpperCase()).join(", ");
  if (bytes.length === 0) throw new SniffError("unsupported", "file is empty");
  const type = detect(bytes);
  if (!type || !accepted.includes(type)) {
    throw new SniffError(
      "unsupported",
      `file content is not an accepted format (${names}); the file name and declared type are not trusted`,
    );
  }
  refusePolyglot(bytes, type);
  const out: Sniffed = { type, contentType: CONTENT_TYPES[type] };
  if (type === "jpeg" || type === "png") {
    try {
      const info = readImageHeader(bytes);
      // Upright dimensions (EXIF orientations 5–8 swap them), as the compressor will record them.
      const swap = info.orientation >= 5;
      Object.assign(out, { width: swap ? info.height : info.width, height: swap ? info.width : info.height, bitDepth: info.bitDepth });
    } catch (err) {
      if (err instanceof ImageRejected) throw new SniffError(err.reason, err.message);
      throw err;
    }
  } else if (type === "mp4") checkMp4(bytes);
  else if (type === "pdf") checkPdf(bytes);
  else checkDocx(bytes);
  return out;
}

function detect(b: Uint8Array): SniffedType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (latin1(b, 0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (latin1(b, 4, 8) === "ftyp") return "mp4";
  if (latin1(b, 0, 5) === "%PDF-") return "pdf";
  if (latin1(b, 0, 4) === "PK\x03\x04") return "docx";
  return undefined;
}

/**
 * A polyglot is valid as its own type and as another that readers find elsewhere in the file:
 * a ZIP (readers start from the end-of-central-directory record), a PDF (readers accept %PDF- in
 * the first KiB) or HTML/script that a browser could be led to run.
 */
function refusePolyglot(b: Uint8Array, type: SniffedType) {
  const head = latin1(b, 0, 1024).toLowerCase();
  const other: string[] = [];
  if (type !== "pdf" && head.includes("%pdf-")) other.push("PDF");
  if (type !== "docx" && findEocd(b) !== undefined) other.push("ZIP");
  // Media files are scanned whole: markup hides in comments, metadata and trailers past any prefix.
  if (
    /<(script|html|svg|iframe|\?php|!doctype)/.test(head) ||
    ((type === "jpeg" || type === "png" || type === "mp4") && hasActiveMarkup(b))
  ) {
    other.push("HTML/script");
  }
  if (other.length > 0) {
    throw new SniffError("polyglot", `file is a polyglot: a ${type.toUpperCase()} that also carries ${other.join(" and ")} content`);
  }
}

/** The offset of a ZIP end-of-central-directory record whose comment ends exactly at the file's end. */
function findEocd(b: Uint8Array): number | undefined {
  const min = Math.max(0, b.length - 22 - 0xffff);
  for (let i = b.length - 22; i >= min; i--) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 0x05 && b[i + 3] === 0x06 && i + 22 + u16le(b, i + 20) === b.length) {
      return i;
    }
  }
  return undefined;
}

const MP4_BRANDS = new Set(["isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "mmp4", "MSNV", "dash"]);

/** ftyp with an MP4 brand, then top-level boxes that tile the file, including moov and mdat. */
function checkMp4(b: Uint8Array) {
  const ftypSize = u32be(b, 0);
  if (ftypSize < 16 || ftypSize > b.length) throw new SniffError("truncated", "MP4 ftyp box is malformed");
  const brands = [latin1(b, 8, 12)];
  for (let i = 16; i + 4 <= ftypSize; i += 4) brands.push(latin1(b, i, i + 4));
  if (!brands.some((x) => MP4_BRANDS.has(x))) throw new SniffError("unsupported", `video brand "${brands[0]}" is not MP4`);
  const seen = new Set<string>();
  let pos = 0;
  while (pos < b.length) {
    if (pos + 8 > b.length) throw new SniffError("truncated", "MP4 is truncated");
    let size = u32be(b, pos);
    const kind = latin1(b, pos + 4, pos + 8);
    if (size === 1) {
      if (pos + 16 > b.length) throw new SniffError("truncated", "MP4 is truncated");
      size = u32be(b, pos + 8) * 2 ** 32 + u32be(b, pos + 12);
    } else if (size === 0) size = b.length - pos;
    if (size < 8 || pos + size > b.length) throw new SniffError("truncated", "MP4 is truncated");
    seen.add(kind);
    pos += size;
  }
  if (!seen.has("moov") || !seen.has("mdat")) throw new SniffError("truncated", "MP4 has no moov/mdat box (incomplete file)");
}

function checkPdf(b: Uint8Array) {
  if (!latin1(b, b.length - 1024, b.length).includes("%%EOF")) throw new SniffError("truncated", "PDF is truncated (no %%EOF trailer)");
  refusePdfScript(wholeLatin1(b));
}

/**
 * Active-content signatures a browser (or a viewer sniffing HTML) would run. Each is long or
 * delimited enough that compressed image and video data match it by chance only rarely (a bare
 * `<svg` must be followed by a space, `/` or `>`, for example).
 */
const ACTIVE_MARKUP =
  /<(script|object|embed|iframe|svg|html|\?php|!doctype)[\s/>]|<(img|body|video|audio|input|details|image)\b[^<>]{0,400}?[\s/"']on[a-z]{3,20}\s*=|javascript:/i;

/** Bytes as latin1 text (one char per byte), fast enough for the whole of a 20 MB upload. */
const wholeLatin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/** True when the bytes anywhere carry markup or script a browser could be led to run. */
export function hasActiveMarkup(b: Uint8Array): boolean {
  return ACTIVE_MARKUP.test(wholeLatin1(b));
}

/**
 * PDF names may spell letters as #xx (`/J#61vaScript`); they are decoded before matching. A
 * JavaScript action (`/S /JavaScript` with `/JS`), also when `/OpenAction` or `/AA` runs it,
 * is refused: documents are for reading.
 */
function refusePdfScript(text: string) {
  const names = text.replace(/\/[^\s/<>[\]()%{}]+/g, (name) =>
    name.replace(/#([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
  );
  if (/\/(JavaScript|JS)(?![A-Za-z0-9])/.test(names)) {
    throw new SniffError("active_content", "PDF contains JavaScript (/JavaScript, /JS or an /OpenAction running it): not accepted");
  }
}

/**
 * DOCX: an OOXML zip with [Content_Types].xml and word/document.xml. Only the central directory is
 * read: entry count, declared sizes and ratios are capped, ZIP64 and overlapping entries (the
 * trick of bombs that reuse one compressed stream many times) are refused, nothing is inflated.
 */
function checkDocx(b: Uint8Array) {
  const eocd = findEocd(b);
  if (eocd === undefined) throw new SniffError("truncated", "ZIP end record not found (truncated or not a DOCX)");
  const entries = u16le(b, eocd + 10);
  const cdSize = u32le(b, eocd + 12);
  const cdOffset = u32le(b, eocd + 16);
  if (entries === 0xffff || cdOffset === 0xffffffff) throw new SniffError("zip_bomb", "ZIP64 archives are not accepted as DOCX");
  if (entries > ZIP_LIMITS.maxEntries) throw new SniffError("zip_bomb", `zip bomb: ${entries} entries (limit ${ZIP_LIMITS.maxEntries})`);
  if (cdOffset + cdSize > eocd) throw new SniffError("truncated", "ZIP central directory is out of range");

  const names = new Set<string>();
  const spans: [number, number][] = [];
  let total = 0;
  let p = cdOffset;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > eocd || u32le(b, p) !== 0x02014b50) throw new SniffError("truncated", "ZIP central directory is malformed");
    const csize = u32le(b, p + 20);
    const usize = u32le(b, p + 24);
    const nameLen = u16le(b, p + 28);
    const extraLen = u16le(b, p + 30);
    const commentLen = u16le(b, p + 32);
    const local = u32le(b, p + 42);
    const name = latin1(b, p + 46, p + 46 + nameLen);
    if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) {
      throw new SniffError("zip_bomb", "ZIP64 entries are not accepted in a DOCX");
    }
    total += usize;
    if (total > ZIP_LIMITS.maxTotalUncompressed) {
      throw new SniffError("zip_bomb", `zip bomb: entries expand to more than ${ZIP_LIMITS.maxTotalUncompressed / 2 ** 20} MiB`);
    }
    if (usize > 2 ** 20 && usize > Math.max(csize, 1) * ZIP_LIMITS.maxRatio) {
      throw new SniffError(
        "zip_bomb",
        `zip bomb: ${name} expands ${Math.round(usize / Math.max(csize, 1))}:1 (limit ${ZIP_LIMITS.maxRatio}:1)`,
      );
    }
    if (local + 30 > cdOffset || u32le(b, local) !== 0x04034b50) throw new SniffError("truncated", `ZIP entry ${name} has no local header`);
    const dataEnd = local + 30 + u16le(b, local + 26) + u16le(b, local + 28) + csize;
    if (dataEnd > cdOffset) throw new SniffError("truncated", `ZIP entry ${name} runs past the central directory`);
    spans.push([local, dataEnd]);
    names.add(name);
    p += 46 + nameLen + extraLen + commentLen;
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if ((spans[i]?.[0] ?? 0) < (spans[i - 1]?.[1] ?? 0)) throw new SniffError("zip_bomb", "zip bomb: entries overlap");
  }
  if (!names.has("[Content_Types].xml") || !names.has("word/document.xml")) {
    throw new SniffError("unsupported", "ZIP is not a Word document (no [Content_Types].xml and word/document.xml)");
  }
}

/**
 * Inflates a deflate stream, counting bytes; stops (ok: false) as soon as more than `cap` come
 * out. Corrupt data throws.
 */
async function inflatedWithin(
  data: Uint8Array,
  cap: number,
  opts: { keep?: boolean; format?: "deflate" | "deflate-raw" } = {},
): Promise<{ ok: boolean; size: number; bytes?: Uint8Array }> {
  const keep = opts.keep ?? false;
  const reader = new Blob([data])
    .stream()
    .pipeThrough(new DecompressionStream(opts.format ?? "deflate-raw"))
    .getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > cap) {
        await reader.cancel();
        return { ok: false, size };
      }
      if (keep) parts.push(value);
    }
  } catch {
    throw new SniffError("truncated", "compressed data is corrupt");
  }
  if (!keep) return { ok: true, size };
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return { ok: true, size, bytes };
}

/**
 * DOCX sizes from the data itself: each entry is inflated and counted (nothing kept), and the
 * archive refused as soon as an entry expands past the ratio cap or the total past the hard cap,
 * or an entry yields other than the size its central directory claims.
 */
async function checkDocxInflated(b: Uint8Array) {
  const eocd = findEocd(b);
  if (eocd === undefined) return;
  const entries = u16le(b, eocd + 10);
  let p = u32le(b, eocd + 16);
  let total = 0;
  for (let n = 0; n < entries; n++) {
    const method = u16le(b, p + 10);
    const csize = u32le(b, p + 20);
    const usize = u32le(b, p + 24);
    const nameLen = u16le(b, p + 28);
    const name = latin1(b, p + 46, p + 46 + nameLen);
    const local = u32le(b, p + 42);
    const start = local + 30 + u16le(b, local + 26) + u16le(b, local + 28);
    const data = b.subarray(start, start + csize);
    let actual: number;
    if (method === 0) actual = csize;
    else if (method === 8) {
      const remaining = ZIP_LIMITS.maxTotalUncompressed - total;
      const cap = Math.min(remaining, Math.max(2 ** 20, csize * ZIP_LIMITS.maxRatio));
      const res = await inflatedWithin(data, cap);
      if (!res.ok) {
        throw new SniffError(
          "zip_bomb",
          res.size > remaining
            ? `zip bomb: entries expand to more than ${ZIP_LIMITS.maxTotalUncompressed / 2 ** 20} MiB`
            : `zip bomb: ${name} expands more than ${ZIP_LIMITS.maxRatio}:1`,
        );
      }
      actual = res.size;
    } else throw new SniffError("unsupported", `ZIP entry ${name} uses compression method ${method} (only stored and deflate)`);
    if (actual !== usize)
      throw new SniffError("zip_bomb", `ZIP entry ${name} inflates to ${actual} bytes, not the ${usize} its directory claims`);
    total += actual;
    p += 46 + nameLen + u16le(b, p + 30) + u16le(b, p + 32);
  }
}

/** Object streams (PDF 1.5) can hold dictionaries compressed: their /JS keys are looked for too. */
async function checkPdfObjectStreams(b: Uint8Array) {
  const text = wholeLatin1(b);
  const re = /<<((?:(?!>>\s*stream)[\s\S]){0,2000}?)>>\s*stream\r?\n/g;
  let budget = ZIP_LIMITS.maxTotalUncompressed;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const dict = m[1] ?? "";
    if (!/\/Type\s*\/ObjStm/.test(dict) || !/\/FlateDecode/.test(dict)) continue;
    const start = m.index + m[0].length;
    let end = text.indexOf("endstream", start);
    if (end < 0) break;
    while (end > start && (b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
    // An object stream that does not inflate cleanly is refused: readers are lenient, so unread data could hide a script.
    const res = await inflatedWithin(b.subarray(start, end), budget, { keep: true, format: "deflate" }).catch((err: unknown) => {
      throw err instanceof SniffError ? new SniffError("truncated", "PDF object stream is corrupt") : err;
    });
    if (!res.ok) throw new SniffError("zip_bomb", "PDF object streams expand beyond the limit");
    budget -= res.size;
    if (res.bytes) refusePdfScript(wholeLatin1(res.bytes));
  }
}

/** Throws SniffError("active_content") when a PDF runs JavaScript, in its body or its object streams. */
export async function refusePdfJavaScript(b: Uint8Array): Promise<void> {
  refusePdfScript(wholeLatin1(b));
  await checkPdfObjectStreams(b);
}

/**
 * `sniff` plus the checks that must decompress: DOCX entries inflated and counted, PDF object
 * streams searched for JavaScript. Uploads go through this one.
 */
export async function sniffDeep(bytes: Uint8Array, accepted: readonly SniffedType[]): Promise<Sniffed> {
  const sniffed = sniff(bytes, accepted);
  if (sniffed.type === "docx") await checkDocxInflated(bytes);
  if (sniffed.type === "pdf") await checkPdfObjectStreams(bytes);
  return sniffed;
}
