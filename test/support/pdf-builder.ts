// Test PDFs built object by object (no binary fixtures), and the encoders for every filter the
// sniffer decodes, so a test can hide content behind any filter chain, spelling or line end.
import { zlibSync } from "fflate";
import { concat } from "../../scripts/lib/media-fixtures";

/** Bytes of a string, one per char (latin1), so test PDFs can carry any byte. */
export const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 255);
export type Part = string | Uint8Array;
const join = (parts: Part[]) => concat(...parts.map((p) => (typeof p === "string" ? bytes(p) : p)));

/** `N 0 obj … endobj`. */
export const obj = (num: number, ...body: Part[]) => join([`${num} 0 obj\n`, ...body, "\nendobj\n"]);

/** A stream object body: the dictionary (without Length unless `length` is given), the keyword, `eol`, the data. */
export function stream(dict: string, data: Uint8Array, opts: { eol?: string; length?: string } = {}): Uint8Array {
  return join([`<<${dict}/Length ${opts.length ?? data.length}>>stream${opts.eol ?? "\n"}`, data, "\nendstream"]);
}

/** A whole PDF from its objects (no xref table: the sniffer reads objects as a recovering reader does). */
export function pdf(objects: Part[], trailer = "<</Root 1 0 R>>"): Uint8Array {
  return join(["%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ...objects, `trailer\n${trailer}\nstartxref\n0\n%%EOF\n`]);
}

/** An object stream's decoded content holding `objects` ([number, body]), with its /N and /First. */
export function objStmContent(objects: [number, string][]): { content: Uint8Array; n: number; first: number } {
  let offsets = "";
  let body = "";
  for (const [num, text] of objects) {
    offsets += `${num} ${body.length} `;
    body += `${text}\n`;
  }
  return { content: bytes(offsets + body), n: objects.length, first: offsets.length };
}

export type FilterKind = "Flate" | "AHx" | "A85" | "LZW" | "RL";
export const FILTER_NAMES: Record<FilterKind, [string, string]> = {
  Flate: ["FlateDecode", "Fl"],
  AHx: ["ASCIIHexDecode", "AHx"],
  A85: ["ASCII85Decode", "A85"],
  LZW: ["LZWDecode", "LZW"],
  RL: ["RunLengthDecode", "RL"],
};

export const flate = (data: Uint8Array) => zlibSync(data);
export const asciiHex = (data: Uint8Array) => bytes(`${[...data].map((b) => b.toString(16).padStart(2, "0")).join("")}>`);

export function ascii85(data: Uint8Array): Uint8Array {
  let out = "";
  for (let i = 0; i < data.length; i += 4) {
    const n = Math.min(4, data.length - i);
    let v = 0;
    for (let k = 0; k < 4; k++) v = v * 256 + (k < n ? (data[i + k] as number) : 0);
    if (n === 4 && v === 0) {
      out += "z";
      continue;
    }
    const chars: string[] = [];
    for (let k = 0; k < 5; k++) {
      chars.unshift(String.fromCharCode(33 + (v % 85)));
      v = Math.floor(v / 85);
    }
    out += chars.slice(0, n + 1).join("");
  }
  return bytes(`${out}~>`);
}

/** LZW as PDF writes it (EarlyChange 1): clear code first, codes widening one early. */
export function lzw(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  let emitted = 0;
  const write = (code: number) => {
    // The decoder's next free code before it reads this one, and so its width.
    const decoderNext = 258 + Math.max(0, emitted - 1);
    const width = code === 256 && emitted === 0 ? 9 : Math.min(12, 32 - Math.clz32(decoderNext + 1));
    acc = acc * 2 ** width + code;
    bits += width;
    while (bits >= 8) {
      bits -= 8;
      out.push(Math.floor(acc / 2 ** bits) & 255);
      acc %= 2 ** bits;
    }
  };
  write(256);
  const dict = new Map<string, number>();
  let next = 258;
  let w = "";
  const code = (s: string) => (s.length === 1 ? s.charCodeAt(0) : (dict.get(s) as number));
  for (const b of data) {
    const c = String.fromCharCode(b);
    if (w === "") {
      w = c;
      continue;
    }
    const wc = w + c;
    if (dict.has(wc)) w = wc;
    else {
      write(code(w));
      emitted++;
      if (next < 4000) dict.set(wc, next++);
      w = c;
    }
  }
  if (w !== "") {
    write(code(w));
    emitted++;
  }
  write(257);
  if (bits > 0) out.push((acc * 2 ** (8 - bits)) & 255);
  return Uint8Array.from(out);
}

export function runLength(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 128) {
    const chunk = data.subarray(i, i + 128);
    out.push(chunk.length - 1, ...chunk);
  }
  out.push(128);
  return Uint8Array.from(out);
}

/** PNG "Up" predictor rows (what /Predictor 12 undoes) over `columns`-byte rows. */
export function pngUp(data: Uint8Array, columns: number): Uint8Array {
  const out: number[] = [];
  for (let row = 0; row < data.length; row += columns) {
    out.push(2);
    for (let i = row; i < Math.min(row + columns, data.length); i++)
      out.push(((data[i] as number) - (row > 0 ? (data[i - columns] as number) : 0)) & 255);
  }
  return Uint8Array.from(out);
}

export const ENCODERS: Record<FilterKind, (d: Uint8Array) => Uint8Array> = {
  Flate: flate,
  AHx: asciiHex,
  A85: ascii85,
  LZW: lzw,
  RL: runLength,
};

/**
 * Encodes `data` so that decoding with `chain` (first filter first, as /Filter lists them) gives it
 * back; `predictors[i]` (columns) adds a PNG predictor to a Flate or LZW step.
 */
export function encodeChain(data: Uint8Array, chain: FilterKind[], predictors: (number | undefined)[] = []): Uint8Array {
  let out = data;
  for (let i = chain.length - 1; i >= 0; i--) {
    const columns = predictors[i];
    if (columns !== undefined) out = pngUp(out, columns);
    out = ENCODERS[chain[i] as FilterKind](out);
  }
  return out;
}

/** A name with each character at `escaped[i]` spelt #xx (upper or lower hex as `upper[i]` says). */
export function spellName(name: string, escaped: boolean[] = [], upper: boolean[] = []): string {
  return `/${[...name]
    .map((c, i) => {
      if (!escaped[i]) return c;
      const h = c.charCodeAt(0).toString(16).padStart(2, "0");
      return `#${upper[i] ? h.toUpperCase() : h}`;
    })
    .join("")}`;
}

/** A PDF whose catalog's /OpenAction is object 3, held in an object stream with `filter`. */
export function objStmPdf(action: string, dict: string, encoded: (content: Uint8Array) => Uint8Array, opts: { eol?: string } = {}) {
  const { content, n, first } = objStmContent([[3, action]]);
  return pdf([
    obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>"),
    obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
    obj(4, stream(`${dict}/N ${n}/First ${first}`, encoded(content), opts)),
  ]);
}

export const JS_ACTION = "<</S/JavaScript/JS(app.alert(1))>>";
export const LAUNCH_ACTION = "<</S/Launch/F(cmd.exe)>>";
