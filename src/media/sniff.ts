/**
 * Decides an upload's type from its bytes alone (magic numbers and structure); the file name and
 * the declared Content-Type are never consulted. JPEG/PNG headers are parsed by the compressor's
 * reader (one parser for upload checks and compression), MP4 by its box structure, PDF by its
 * header and trailer, DOCX by its ZIP central directory, without inflating anything.
 */
import { ImageRejected, readImageHeader } from "@propops/media-core/photo-compressor";
import { Inflate } from "fflate";
import { readCapped } from "../lib/read-limited";

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
  scanPdf(b);
}

/**
 * Active-content signatures a browser (or a viewer sniffing HTML) would run. Each is long or
 * delimited enough that compressed image and video data match it by chance only rarely: a tag
 * must be followed by a space, `/` or `>`, and an event-handler attribute (`on…=` on any tag) must
 * be reached through printable ASCII only, which binary data rarely runs to.
 */
const ACTIVE_MARKUP =
  /<(script|object|embed|iframe|frame|frameset|svg|html|meta|style|link|base|applet|\?php|!doctype)[\s/>]|<[a-z][a-z0-9:._-]{0,40}[\s/][\x20-\x3b\x3d\x3f-\x7e\t\n\r\f]{0,2000}?(?<=[\s/"'`])on[a-z]{3,40}\s*=|@import/i;

/**
 * `javascript:` (and `vbscript:`, `data:text/html`) as a browser reads it in an attribute: any letter
 * may be an HTML character reference (`&#106;`, `&#x6A;`, leading zeros, no `;`), and tabs and
 * line breaks (or their references) may sit between letters, since URL parsing drops them.
 */
const SCRIPT_SCHEME = (() => {
  const hex = (c: number) => c.toString(16);
  const letter = (ch: string) => {
    const codes = [...new Set([ch.toLowerCase().charCodeAt(0), ch.toUpperCase().charCodeAt(0)])];
    const refs = codes.flatMap((c) => [`&#0*${c};?`, `&#x0*${hex(c)};?`]);
    const named = ch === ":" ? ["&colon;"] : ch === "/" ? ["&sol;"] : [];
    return `(?:${ch.replace(/[/.]/g, "\\$&")}|${[...refs, ...named].join("|")})`;
  };
  const gap = "(?:[\\t\\n\\r]|&tab;|&newline;|&#0*(?:9|10|13);?|&#x0*(?:9|a|d);?)*";
  const word = (w: string) => [...w].map(letter).join(gap);
  return new RegExp(`${word("javascript:")}|${word("vbscript:")}|${word("data:text/html")}`, "i");
})();
/** Bytes as latin1 text (one char per byte), fast enough for the whole of a 20 MB upload. */
const wholeLatin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/** True when the bytes anywhere carry markup or script a browser could be led to run. */
export function hasActiveMarkup(b: Uint8Array): boolean {
  const text = wholeLatin1(b);
  return ACTIVE_MARKUP.test(text) || SCRIPT_SCHEME.test(text);
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
  const parts: { name: string; method: number; data: Uint8Array }[] = [];
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
    if (name === "[Content_Types].xml" || /^word\/_rels\/[^/]+\.rels$/i.test(name)) {
      parts.push({ name, method: u16le(b, p + 10), data: b.subarray(dataEnd - csize, dataEnd) });
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if ((spans[i]?.[0] ?? 0) < (spans[i - 1]?.[1] ?? 0)) throw new SniffError("zip_bomb", "zip bomb: entries overlap");
  }
  if (!names.has("[Content_Types].xml") || !names.has("word/document.xml")) {
    throw new SniffError("unsupported", "ZIP is not a Word document (no [Content_Types].xml and word/document.xml)");
  }
  refuseDocxMacros(names, parts);
}

const MACRO_MESSAGE = "DOCX contains macros (a VBA project or a macro-enabled document type): not accepted; save it as a plain .docx";

/**
 * A macro-enabled Word file (.docm) renamed .docx still opens in Word, which offers to run its VBA:
 * refused by its parts (vbaProject.bin, vbaData.xml, at any path, any case) and by what
 * [Content_Types].xml and the document's relationships declare (macro-enabled main part, a
 * vbaProject part or relationship, a .docm name).
 */
function refuseDocxMacros(names: Set<string>, parts: { name: string; method: number; data: Uint8Array }[]) {
  for (const name of names) {
    if (/(^|\/)vba(project\.bin|data\.xml)$|vbaProject/i.test(name)) throw new SniffError("active_content", MACRO_MESSAGE);
  }
  for (const part of parts) {
    let xml: Uint8Array;
    if (part.method === 0) xml = part.data;
    else if (part.method === 8) {
      try {
        xml = flateDecode(part.data, 4 * 1024 * 1024, true);
      } catch (err) {
        if (err instanceof DecodeLimit) throw new SniffError("zip_bomb", `zip bomb: ${part.name} expands beyond 4 MiB`);
        throw new SniffError("truncated", `ZIP entry ${part.name} is corrupt`);
      }
    } else continue; // refused by the inflating check with its method
    if (/macroEnabled|vbaProject|vbaData|\.docm\b/i.test(new TextDecoder("latin1").decode(xml))) {
      throw new SniffError("active_content", MACRO_MESSAGE);
    }
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
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream(opts.format ?? "deflate-raw"));
  try {
    const read = await readCapped(stream, cap, opts.keep ?? false);
    return { ok: !read.over, size: read.size, bytes: read.bytes };
  } catch {
    throw new SniffError("truncated", "compressed data is corrupt");
  }
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

/** Throws SniffError("active_content") when a PDF runs JavaScript, launches, carries XFA, or hides a stream it cannot be checked in. */
export async function refusePdfJavaScript(b: Uint8Array): Promise<void> {
  scanPdf(b);
}

/**
 * `sniff` plus the DOCX check that inflates every entry and counts it (PDF streams are decoded by
 * `sniff` itself). Uploads go through this one.
 */
export async function sniffDeep(bytes: Uint8Array, accepted: readonly SniffedType[]): Promise<Sniffed> {
  const sniffed = sniff(bytes, accepted);
  if (sniffed.type === "docx") await checkDocxInflated(bytes);
  return sniffed;
}

/*
 * PDF active content. A PDF reader runs script from a JavaScript action (/S /JavaScript with /JS,
 * in /OpenAction, /AA, a name tree), starts programs from /Launch, and runs XFA forms' scripts; any
 * of these may sit in the file's own syntax, inside an object stream, or inside any stream a reader
 * decodes. So the scan reads the file the way a lenient reader could, and refuses what it cannot read:
 *  - names are compared after #xx decoding, everywhere outside stream data;
 *  - every stream is found by its dictionary (`<< … >> stream` + any line end, any size) and decoded
 *    through its whole filter chain (Flate with predictors, AHx, A85, LZW, RL and their
 *    abbreviations), then scanned the same way, nested streams too; only image data (an image
 *    XObject, or an image-only filter) is left encoded, since a reader draws it and never parses it;
 *  - a stream that could hold objects but cannot be decoded (unknown, encrypted or image filter on
 *    it, corrupt data) is refused, and so is a `>> stream` that the lexer did not see as a stream
 *    (a reader jumping there by its xref table could), and stream data that itself holds object
 *    syntax is scanned as a PDF of its own;
 *  - decoded bytes are capped per stream (memory) and in total (work), as DOCX entries are.
 */

/** Bounds on the work a PDF can ask for; past them it is refused, never partly checked. */
export const PDF_LIMITS = {
  /** All decoded bytes together (the work cap); the DOCX total. */
  maxDecodedTotal: ZIP_LIMITS.maxTotalUncompressed,
  /** One decoded stream held in memory at a time (with its parents when nested). */
  maxDecodedLive: 24 * 1024 * 1024,
  maxStreams: 100_000,
  /** Streams inside decoded streams (an embedded PDF's object stream is three deep). */
  maxDepth: 6,
  maxNesting: 64,
} as const;

const JS_MESSAGE = "PDF contains JavaScript (/JavaScript, /JS or an /OpenAction running it): not accepted";
const FORBIDDEN_NAMES: Record<string, string> = {
  JavaScript: JS_MESSAGE,
  JS: JS_MESSAGE,
  Launch: "PDF contains a /Launch action (it starts a program or opens a file): not accepted",
  XFA: "PDF contains an XFA form (XFA forms run scripts): not accepted",
  Encrypt: "PDF is encrypted, so its content cannot be checked for scripts: upload an unencrypted copy",
};
/** Markup that only XFA forms (or script meant for a browser) put in a stream. */
const FORBIDDEN_MARKUP: [string, string][] = [
  ["ns.adobe.com/xdp", FORBIDDEN_NAMES.XFA as string],
  ["xfa.org/schema", FORBIDDEN_NAMES.XFA as string],
  ["<script", "PDF contains script markup (<script>) in a stream: not accepted"],
];

const isPdfSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0x00;
const isPdfDelim = (c: number) =>
  c === 0x28 || c === 0x29 || c === 0x3c || c === 0x3e || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d || c === 0x2f || c === 0x25;
const isPdfRegular = (c: number | undefined) => c !== undefined && !isPdfSpace(c) && !isPdfDelim(c);
const hexValue = (c: number | undefined) =>
  c === undefined ? -1 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 55 : c >= 0x61 && c <= 0x66 ? c - 87 : -1;

/** A name's bytes (after the slash) with #xx decoded, as readers decode them; a bad escape stays literal. */
function decodePdfName(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c === 0x23) {
      const hi = hexValue(b[i + 1]);
      const lo = i + 2 < end ? hexValue(b[i + 2]) : -1;
      if (hi >= 0 && lo >= 0 && i + 2 < end) {
        s += String.fromCharCode(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    s += String.fromCharCode(c);
  }
  return s;
}

type PdfValue =
  | { k: "name"; v: string }
  | { k: "num"; v: number }
  | { k: "ref" }
  | { k: "dict"; v: Map<string, PdfValue>; dup: Set<string> }
  | { k: "array"; v: PdfValue[] }
  | { k: "other" };

type Token =
  | { t: "<<" | ">>" | "[" | "]" | "str" | "bad"; start: number; end: number }
  | { t: "name"; v: string; start: number; end: number }
  | { t: "word"; v: string; start: number; end: number };

/** The dictionary could not be read at this position: the scan resumes one token later. */
class Desync extends Error {}

/** A tolerant PDF tokenizer over one byte range: it never throws on bad syntax, it reports "bad". */
class PdfLexer {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  next(): Token | undefined {
    const b = this.b;
    let i = this.pos;
    for (;;) {
      while (i < b.length && isPdfSpace(b[i] as number)) i++;
      if (b[i] !== 0x25) break;
      while (i < b.length && b[i] !== 0x0a && b[i] !== 0x0d) i++;
    }
    if (i >= b.length) {
      this.pos = i;
      return undefined;
    }
    const start = i;
    const c = b[i] as number;
    const tok = (t: "<<" | ">>" | "[" | "]" | "str" | "bad", end: number): Token => {
      this.pos = end;
      return { t, start, end };
    };
    if (c === 0x3c) {
      if (b[i + 1] === 0x3c) return tok("<<", i + 2);
      for (i++; i < b.length && b[i] !== 0x3e; i++) {
        if (hexValue(b[i]) < 0 && !isPdfSpace(b[i] as number)) return tok("bad", start + 1);
      }
      return i < b.length ? tok("str", i + 1) : tok("bad", start + 1);
    }
    if (c === 0x3e) return b[i + 1] === 0x3e ? tok(">>", i + 2) : tok("bad", i + 1);
    if (c === 0x5b) return tok("[", i + 1);
    if (c === 0x5d) return tok("]", i + 1);
    if (c === 0x28) {
      let depth = 1;
      for (i++; i < b.length; i++) {
        const d = b[i];
        if (d === 0x5c) i++;
        else if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) return tok("str", i + 1);
      }
      // Unterminated: only the parenthesis is skipped, so it cannot swallow the rest of the file.
      return tok("bad", start + 1);
    }
    if (c === 0x2f) {
      for (i++; i < b.length && isPdfRegular(b[i]); i++);
      this.pos = i;
      return { t: "name", v: decodePdfName(b, start + 1, i), start, end: i };
    }
    if (!isPdfRegular(c)) return tok("bad", i + 1); // ) { }
    for (; i < b.length && isPdfRegular(b[i]); i++);
    this.pos = i;
    return { t: "word", v: i - start <= 32 ? latin1(b, start, i) : "", start, end: i };
  }

  /** A value starting with `tok`; throws Desync on anything a dictionary cannot hold. */
  value(tok: Token | undefined, depth: number): PdfValue {
    if (!tok || tok.t === "bad" || tok.t === ">>" || tok.t === "]") throw new Desync();
    if (depth > PDF_LIMITS.maxNesting) throw new SniffError("active_content", "PDF objects are nested too deeply to be checked");
    if (tok.t === "<<") return this.dict(depth + 1);
    if (tok.t === "[") {
      const items: PdfValue[] = [];
      for (let t = this.next(); t?.t !== "]"; t = this.next()) items.push(this.value(t, depth + 1));
      return { k: "array", v: items };
    }
    if (tok.t === "name") return { k: "name", v: tok.v };
    if (tok.t === "word" && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(tok.v)) {
      // `N G R` is a reference.
      const save = this.pos;
      const g = this.next();
      if (g?.t === "word" && /^\d+$/.test(g.v)) {
        const r = this.next();
        if (r?.t === "word" && r.v === "R") return { k: "ref" };
      }
      this.pos = save;
      return { k: "num", v: Number(tok.v) };
    }
    if (tok.t === "word" && (tok.v === "obj" || tok.v === "endobj" || tok.v === "stream" || tok.v === "endstream")) throw new Desync();
    return { k: "other" };
  }

  /** The rest of a dictionary after its `<<`. */
  dict(depth: number): PdfValue {
    const v = new Map<string, PdfValue>();
    const dup = new Set<string>();
    for (let t = this.next(); t?.t !== ">>"; t = this.next()) {
      if (t?.t !== "name") throw new Desync();
      const val = this.value(this.next(), depth);
      if (v.has(t.v)) dup.add(t.v);
      v.set(t.v, val);
    }
    return { k: "dict", v, dup };
  }
}

interface PdfScan {
  decodedTotal: number;
  live: number;
  streams: number;
}

interface FoundStream {
  keyword: number;
  dict: Map<string, PdfValue>;
  dup: Set<string>;
  start: number;
  end: number;
}

const NAME_TEXT = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ENDSTREAM = NAME_TEXT("endstream");

function indexOfBytes(b: Uint8Array, needle: Uint8Array, from: number, to = b.length, foldCase = false): number {
  const first = needle[0] as number;
  outer: for (let i = from; i + needle.length <= to; i++) {
    const c = b[i] as number;
    if (c !== first && !(foldCase && (c | 0x20) === first)) continue;
    for (let j = 1; j < needle.length; j++) {
      const d = b[i + j] as number;
      if (d !== needle[j] && !(foldCase && (d | 0x20) === needle[j])) continue outer;
    }
    return i;
  }
  return -1;
}

/** Scans a whole PDF; throws SniffError when it carries active content or cannot be checked. */
function scanPdf(b: Uint8Array) {
  scanPdfRegion(b, { decodedTotal: 0, live: 0, streams: 0 }, 0);
}

/**
 * One region: the file, a decoded stream, or stream data that holds object syntax. Streams are
 * found first (their data is not PDF syntax to this region), then names and markup outside
 * them are checked, then each stream is decoded and scanned as a region of its own.
 */
function scanPdfRegion(b: Uint8Array, scan: PdfScan, depth: number) {
  if (depth > PDF_LIMITS.maxDepth) throw new SniffError("active_content", "PDF streams are nested too deeply to be checked");
  const streams: FoundStream[] = [];
  const lx = new PdfLexer(b);
  for (let tok = lx.next(); tok; tok = lx.next()) {
    if (tok.t !== "<<") continue;
    const after = lx.pos;
    let dict: PdfValue;
    try {
      dict = lx.dict(1);
    } catch (err) {
      if (!(err instanceof Desync)) throw err;
      lx.pos = after;
      continue;
    }
    const save = lx.pos;
    const kw = lx.next();
    if (kw?.t !== "word" || kw.v !== "stream" || dict.k !== "dict") {
      lx.pos = save;
      continue;
    }
    const found = streamData(b, kw.end, dict.v);
    streams.push({ keyword: kw.start, dict: dict.v, dup: dict.dup, start: found.start, end: found.end });
    lx.pos = found.after;
  }

  // Everything outside stream data is PDF syntax to a reader: names and markup are checked there.
  let from = 0;
  for (const s of streams) {
    refuseNamesAndMarkup(b, from, s.start);
    from = Math.max(from, s.end);
  }
  refuseNamesAndMarkup(b, from, b.length);
  refuseUnreadStreams(b, streams);

  for (const s of streams) {
    // Data a reader could reach as objects (an xref offset into it) is scanned as a PDF too.
    if (holdsObjectSyntax(b, s.start, s.end)) {
      scan.decodedTotal += s.end - s.start;
      if (scan.decodedTotal > PDF_LIMITS.maxDecodedTotal) throw new SniffError("zip_bomb", "PDF streams expand beyond the limit");
      scanPdfRegion(b.subarray(s.start, s.end), scan, depth + 1);
    }
    if (++scan.streams > PDF_LIMITS.maxStreams) throw new SniffError("active_content", "PDF has too many streams to be checked");
    const decoded = decodeStream(b.subarray(s.start, s.end), s, scan);
    if (decoded === undefined) continue;
    scan.live += decoded.length;
    try {
      scanPdfRegion(decoded, scan, depth + 1);
    } finally {
      scan.live -= decoded.length;
    }
  }
}

/** Where a stream's data starts and ends, as readers find it: /Length when `endstream` follows it, else the next `endstream`. */
function streamData(b: Uint8Array, keywordEnd: number, dict: Map<string, PdfValue>): { start: number; end: number; after: number } {
  let start = keywordEnd;
  while (b[start] === 0x20 || b[start] === 0x09 || b[start] === 0x0c || b[start] === 0x00) start++;
  if (b[start] === 0x0d) start += b[start + 1] === 0x0a ? 2 : 1;
  else if (b[start] === 0x0a) start++;
  else if (start < b.length) {
    // Readers disagree on where such data starts (some skip to the next line): it is not guessed.
    throw new SniffError("active_content", "PDF stream keyword is not followed by a line end, so its data cannot be checked");
  }
  const length = dict.get("Length");
  if (length?.k === "num" && Number.isInteger(length.v) && length.v >= 0 && start + length.v <= b.length) {
    let q = start + length.v;
    while (q < b.length && isPdfSpace(b[q] as number)) q++;
    if (indexOfBytes(b, ENDSTREAM, q, q + ENDSTREAM.length) === q) return { start, end: start + length.v, after: q + ENDSTREAM.length };
  }
  const at = indexOfBytes(b, ENDSTREAM, start);
  if (at < 0) return { start, end: b.length, after: b.length };
  let end = at;
  if (b[end - 1] === 0x0a) end--;
  if (b[end - 1] === 0x0d) end--;
  return { start, end: Math.max(start, end), after: at + ENDSTREAM.length };
}

function refuseNamesAndMarkup(b: Uint8Array, from: number, to: number) {
  for (let i = from; i < to; i++) {
    if (b[i] !== 0x2f) continue;
    let j = i + 1;
    while (j < to && isPdfRegular(b[j])) j++;
    // The longest refused name, every letter spelt #xx, is 30 bytes.
    if (j - i - 1 <= 30) {
      const name = decodePdfName(b, i + 1, j);
      if (Object.hasOwn(FORBIDDEN_NAMES, name)) throw new SniffError("active_content", FORBIDDEN_NAMES[name] as string);
    }
    i = j - 1;
  }
  for (const [needle, message] of FORBIDDEN_MARKUP_BYTES) {
    if (indexOfBytes(b, needle, from, to, true) >= 0) throw new SniffError("active_content", message);
  }
}
const FORBIDDEN_MARKUP_BYTES: [Uint8Array, string][] = FORBIDDEN_MARKUP.map(([n, m]) => [NAME_TEXT(n), m]);

/**
 * A `>> stream` the lexer did not read as a stream (it sits in a string, or after a dictionary it
 * could not parse) is one a reader may still reach: refused rather than left unread.
 */
function refuseUnreadStreams(b: Uint8Array, streams: FoundStream[]) {
  const seen = new Set(streams.map((s) => s.keyword));
  const STREAM = NAME_TEXT("stream");
  for (let at = indexOfBytes(b, STREAM, 0); at >= 0; at = indexOfBytes(b, STREAM, at + 1)) {
    if (seen.has(at) || isPdfRegular(b[at - 1]) || isPdfRegular(b[at + 6])) continue;
    if (streams.some((s) => at >= s.start && at < s.end)) continue; // stream data: scanned as its own region if it holds objects
    // Preceded by `>>`, with only white space and comments between?
    let p = at - 1;
    while (p >= 0 && isPdfSpace(b[p] as number)) p--;
    // Comment lines between the dictionary and the keyword are stepped over (a % on a line is taken as one).
    for (let lines = 0; lines < 100 && p >= 0 && !(b[p] === 0x3e && b[p - 1] === 0x3e); lines++) {
      const lineStart = Math.max(b.lastIndexOf(0x0a, p), b.lastIndexOf(0x0d, p)) + 1;
      const pct = b.indexOf(0x25, lineStart);
      if (pct < 0 || pct > p) break;
      p = pct - 1;
      while (p >= 0 && isPdfSpace(b[p] as number)) p--;
    }
    if (b[p] === 0x3e && b[p - 1] === 0x3e)
      throw new SniffError("active_content", "PDF has a stream whose dictionary cannot be read, so it cannot be checked");
  }
}

/** True when bytes hold `N G obj` or a `trailer`: object syntax a reader could be pointed at. */
function holdsObjectSyntax(b: Uint8Array, from: number, to: number): boolean {
  const OBJ = NAME_TEXT("obj");
  for (let at = indexOfBytes(b, OBJ, from, to); at >= 0; at = indexOfBytes(b, OBJ, at + 1, to)) {
    if (isPdfRegular(b[at + 3])) continue;
    let p = at - 1;
    if (!isPdfSpace(b[p] as number)) continue;
    while (p >= from && isPdfSpace(b[p] as number)) p--;
    if ((b[p] as number) >= 0x30 && (b[p] as number) <= 0x39) return true;
  }
  return indexOfBytes(b, NAME_TEXT("trailer"), from, to) >= 0;
}

const FILTERS: Record<string, "Flate" | "AHx" | "A85" | "LZW" | "RL" | "image" | "Crypt"> = {
  FlateDecode: "Flate",
  Fl: "Flate",
  ASCIIHexDecode: "AHx",
  AHx: "AHx",
  ASCII85Decode: "A85",
  A85: "A85",
  LZWDecode: "LZW",
  LZW: "LZW",
  RunLengthDecode: "RL",
  RL: "RL",
  DCTDecode: "image",
  DCT: "image",
  JPXDecode: "image",
  CCITTFaxDecode: "image",
  CCF: "image",
  JBIG2Decode: "image",
  Crypt: "Crypt",
};

const cannotCheck = (why: string) =>
  new SniffError("active_content", `PDF ${why}, so its content cannot be checked for scripts: not accepted`);

/**
 * The stream's data decoded through its filter chain, or undefined for image data (left as it
 * is). Refuses what cannot be decoded, and decoding past the limits.
 */
function decodeStream(data: Uint8Array, s: FoundStream, scan: PdfScan): Uint8Array | undefined {
  const d = s.dict;
  for (const key of ["Filter", "F", "DecodeParms", "DP", "Length", "Type", "Subtype", "N", "First"]) {
    if (s.dup.has(key)) throw cannotCheck(`has a stream dictionary that repeats /${key}`);
  }
  // Readers take /F (an external file elsewhere) and /DP as the filter and its parameters too.
  const filterValue = d.get("Filter") ?? (d.get("F")?.k === "name" || d.get("F")?.k === "array" ? d.get("F") : undefined);
  const parmsValue = d.get("DecodeParms") ?? d.get("DP");
  const names: string[] = [];
  if (filterValue?.k === "name") names.push(filterValue.v);
  else if (filterValue?.k === "array") {
    for (const f of filterValue.v) {
      if (f.k !== "name") throw cannotCheck("has a stream filter that is not a name");
      names.push(f.v);
    }
  } else if (filterValue && filterValue.k !== "other") throw cannotCheck("has a stream whose filter is given indirectly");
  const parms: (PdfValue | undefined)[] =
    parmsValue?.k === "array" ? parmsValue.v : names.map((_, i) => (i === 0 ? parmsValue : undefined));
  if (parms.some((p) => p?.k === "ref")) throw cannotCheck("has a stream whose decode parameters are given indirectly");

  const type = d.get("Type");
  const holdsObjects = d.has("N") || d.has("First") || (type?.k === "name" && type.v !== "XObject");
  const subtype = d.get("Subtype");
  const kinds = names.map((n) => FILTERS[n]);
  // Pixels are drawn, never parsed: image data is not decoded (nor scanned, so it cannot match by chance).
  if (!holdsObjects && ((subtype?.k === "name" && subtype.v === "Image") || kinds.at(-1) === "image")) return undefined;

  let out = data;
  for (let i = 0; i < names.length; i++) {
    const kind = kinds[i];
    const name = names[i];
    const cap = Math.min(PDF_LIMITS.maxDecodedLive - scan.live, PDF_LIMITS.maxDecodedTotal - scan.decodedTotal);
    if (kind === "Crypt") throw new SniffError("active_content", FORBIDDEN_NAMES.Encrypt as string);
    if (kind === undefined || kind === "image") throw cannotCheck(`has a stream with the /${name} filter, which it cannot decode there`);
    try {
      out =
        kind === "Flate"
          ? flateDecode(out, cap)
          : kind === "AHx"
            ? asciiHexDecode(out)
            : kind === "A85"
              ? ascii85Decode(out, cap)
              : kind === "LZW"
                ? lzwDecode(out, cap, earlyChange(parms[i]))
                : runLengthDecode(out, cap);
      if (out.length > cap) throw new DecodeLimit();
      if (kind === "Flate" || kind === "LZW") out = unpredict(out, parms[i]);
    } catch (err) {
      if (err instanceof DecodeLimit) throw new SniffError("zip_bomb", "PDF streams expand beyond the limit");
      if (err instanceof SniffError) throw err;
      throw cannotCheck(`has a /${name} stream that does not decode (${err instanceof Error ? err.message : "corrupt"})`);
    }
  }
  scan.decodedTotal += out.length;
  if (scan.decodedTotal > PDF_LIMITS.maxDecodedTotal) throw new SniffError("zip_bomb", "PDF streams expand beyond the limit");
  return out;
}

class DecodeLimit extends Error {}

/** Output with a hard cap: decoders stop as soon as it is passed. */
class Sink {
  buf: Uint8Array;
  len = 0;
  constructor(
    readonly cap: number,
    hint: number,
  ) {
    this.buf = new Uint8Array(Math.max(64, Math.min(cap + 1, hint)));
  }
  room(n: number) {
    if (this.len + n > this.cap) throw new DecodeLimit();
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.min(this.cap + 1, Math.max(this.len + n, this.buf.length * 2)));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
  }
  push(c: number) {
    this.room(1);
    this.buf[this.len++] = c;
  }
  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

/** zlib-wrapped deflate (raw deflate when the header does not check out); trailing bytes are ignored, as readers do. */
function flateDecode(data: Uint8Array, cap: number, rawOnly = false): Uint8Array {
  const cmf = data[0] ?? 0;
  const flg = data[1] ?? 0;
  const zlib = !rawOnly && data.length >= 2 && (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0 && !(flg & 0x20);
  const raw = zlib ? data.subarray(2) : data;
  const sink = new Sink(cap, raw.length * 4);
  const inflater = new Inflate((chunk) => {
    sink.room(chunk.length);
    sink.buf.set(chunk, sink.len);
    sink.len += chunk.length;
  });
  // Small pushes keep one push's output (at most ~1000× its input) near the cap.
  const STEP = 4096;
  if (raw.length === 0) return new Uint8Array(0);
  for (let i = 0; i < raw.length; i += STEP) inflater.push(raw.subarray(i, i + STEP), i + STEP >= raw.length);
  return sink.bytes();
}

function asciiHexDecode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 2));
  let n = 0;
  let hi = -1;
  for (const c of data) {
    if (c === 0x3e) break;
    const v = hexValue(c);
    if (v < 0) {
      if (isPdfSpace(c)) continue;
      throw new Error("not hexadecimal");
    }
    if (hi < 0) hi = v;
    else {
      out[n++] = hi * 16 + v;
      hi = -1;
    }
  }
  if (hi >= 0) out[n++] = hi * 16;
  return out.subarray(0, n);
}

function ascii85Decode(data: Uint8Array, cap: number): Uint8Array {
  const sink = new Sink(cap, data.length);
  const out4 = (v: number) => {
    sink.room(4);
    sink.buf[sink.len++] = v >>> 24;
    sink.buf[sink.len++] = (v >>> 16) & 255;
    sink.buf[sink.len++] = (v >>> 8) & 255;
    sink.buf[sink.len++] = v & 255;
  };
  let group = 0;
  let count = 0;
  let i = 0;
  if (data[0] === 0x3c && data[1] === 0x7e) i = 2; // <~ (written by some encoders)
  for (; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0x7e) break; // ~>
    if (isPdfSpace(c)) continue;
    if (c === 0x7a && count === 0) {
      out4(0);
      continue;
    }
    if (c < 0x21 || c > 0x75) throw new Error("not ASCII85");
    group = group * 85 + (c - 0x21);
    if (++count === 5) {
      if (group > 0xffffffff) throw new Error("ASCII85 group out of range");
      out4(group);
      group = 0;
      count = 0;
    }
  }
  if (count === 1) throw new Error("ASCII85 ends in a single character");
  if (count > 1) {
    for (let k = count; k < 5; k++) group = group * 85 + 84;
    for (let k = 0; k < count - 1; k++) sink.push(Math.floor(group / 256 ** (3 - k)) & 255);
  }
  return sink.bytes();
}

const earlyChange = (p: PdfValue | undefined) => {
  const v = p?.k === "dict" ? p.v.get("EarlyChange") : undefined;
  return v?.k === "num" && v.v === 0 ? 0 : 1;
};

function lzwDecode(data: Uint8Array, cap: number, early: number): Uint8Array {
  const sink = new Sink(cap, data.length * 3);
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    length[i] = 1;
  }
  let next = 258;
  let width = 9;
  let prev = -1;
  let bits = 0;
  let acc = 0;
  let pos = 0;
  const first = (code: number) => {
    let c = code;
    while ((prefix[c] as number) >= 0) c = prefix[c] as number;
    return suffix[c] as number;
  };
  const emit = (code: number) => {
    const len = length[code] as number;
    sink.room(len);
    let c = code;
    for (let k = len - 1; k >= 0; k--) {
      sink.buf[sink.len + k] = suffix[c] as number;
      c = prefix[c] as number;
    }
    sink.len += len;
  };
  for (;;) {
    while (bits < width && pos < data.length) {
      acc = ((acc << 8) | (data[pos++] as number)) >>> 0;
      bits += 8;
    }
    if (bits < width) break;
    const code = (acc >>> (bits - width)) & ((1 << width) - 1);
    bits -= width;
    acc &= (1 << bits) - 1;
    if (code === 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (code === 257) break;
    let firstByte: number;
    if (code < next && (code < 256 || code >= 258)) {
      firstByte = first(code);
      emit(code);
    } else if (code === next && prev >= 0) {
      firstByte = first(prev);
      emit(prev);
      sink.push(firstByte);
    } else throw new Error("bad LZW code");
    if (prev >= 0 && next < 4096) {
      prefix[next] = prev;
      suffix[next] = firstByte;
      length[next] = Math.min(65535, (length[prev] as number) + 1);
      next++;
    }
    prev = code;
    width = Math.min(12, 32 - Math.clz32(next + early));
  }
  return sink.bytes();
}

function runLengthDecode(data: Uint8Array, cap: number): Uint8Array {
  const sink = new Sink(cap, data.length * 2);
  for (let i = 0; i < data.length; ) {
    const n = data[i++] as number;
    if (n === 128) break;
    if (n < 128) {
      sink.room(n + 1);
      sink.buf.set(data.subarray(i, i + n + 1), sink.len);
      sink.len += Math.min(n + 1, data.length - i);
      i += n + 1;
    } else {
      const c = data[i++] ?? 0;
      for (let k = 0; k < 257 - n; k++) sink.push(c);
    }
  }
  return sink.bytes();
}

/** Undoes a TIFF (2) or PNG (10–15) predictor, as readers do after Flate and LZW. */
function unpredict(data: Uint8Array, parms: PdfValue | undefined): Uint8Array {
  if (parms?.k !== "dict") return data;
  const num = (key: string, dflt: number) => {
    const v = parms.v.get(key);
    return v?.k === "num" ? v.v : dflt;
  };
  const predictor = num("Predictor", 1);
  if (predictor <= 1) return data;
  const colors = num("Colors", 1);
  const bpc = num("BitsPerComponent", 8);
  const columns = num("Columns", 1);
  if (
    ![1, 2, 4, 8, 16].includes(bpc) ||
    !Number.isInteger(colors) ||
    colors < 1 ||
    colors > 32 ||
    !Number.isInteger(columns) ||
    columns < 1 ||
    columns > 1 << 20
  ) {
    throw new Error("predictor parameters out of range");
  }
  const bpp = Math.max(1, Math.ceil((colors * bpc) / 8));
  const rowLen = Math.ceil((columns * colors * bpc) / 8);
  if (predictor === 2) {
    if (bpc !== 8) throw new Error("TIFF predictor with other than 8 bits per component");
    const out = data.slice();
    for (let row = 0; row < out.length; row += rowLen) {
      for (let i = row + colors; i < Math.min(row + rowLen, out.length); i++)
        out[i] = ((out[i] as number) + (out[i - colors] as number)) & 255;
    }
    return out;
  }
  if (predictor < 10 || predictor > 15) throw new Error(`unknown predictor ${predictor}`);
  const rows = Math.ceil(data.length / (rowLen + 1));
  const out = new Uint8Array(rows * rowLen);
  let n = 0;
  for (let p = 0; p < data.length; p += rowLen + 1) {
    const type = data[p] as number;
    const rowStart = n;
    const end = Math.min(p + 1 + rowLen, data.length);
    for (let i = p + 1; i < end; i++, n++) {
      const x = data[i] as number;
      const a = n - rowStart >= bpp ? (out[n - bpp] as number) : 0;
      const up = rowStart >= rowLen ? (out[n - rowLen] as number) : 0;
      const c = rowStart >= rowLen && n - rowStart >= bpp ? (out[n - rowLen - bpp] as number) : 0;
      let v: number;
      if (type === 0) v = x;
      else if (type === 1) v = x + a;
      else if (type === 2) v = x + up;
      else if (type === 3) v = x + ((a + up) >> 1);
      else if (type === 4) {
        const pa = Math.abs(up - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + up - 2 * c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c);
      } else throw new Error(`unknown PNG predictor row type ${type}`);
      out[n] = v & 255;
    }
  }
  return out.subarray(0, n);
}
