/**
 * The `Range` header of a file download (RFC 9110 §14), parsed once here for every download route
 * (`serveObject` in upload.ts). R2's own parsing answered `bytes=5-2`, `bytes=0-1,3-4` and `bytes=-0`
 * with a 206 of the whole file.
 *
 * - `ignore`: no header, another unit, a syntax error (a reversed `first > last` included, which
 *   §14.1.1 makes invalid) or several ranges: the whole file, 200. Several ranges would need a
 *   multipart/byteranges answer; the whole body is the simpler answer the RFC allows (§14.2).
 * - `suffix` / `from`: one range, checked against the size once it is known (`satisfy`).
 */
export type RangeRequest =
  | { kind: "ignore" }
  | { kind: "from"; first: number; last: number | undefined }
  | { kind: "suffix"; length: number };

// Any length of digits is valid syntax; a position past 2^53 is past every file, so unsatisfiable.
const DIGITS = /^\d+$/;

export function parseRange(header: string | null): RangeRequest {
  if (header === null) return { kind: "ignore" };
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "ignore" };
  const specs = header.slice(eq + 1).split(",");
  if (specs.length !== 1) return { kind: "ignore" };
  const spec = (specs[0] ?? "").trim();
  const dash = spec.indexOf("-");
  if (dash < 0) return { kind: "ignore" };
  const a = spec.slice(0, dash);
  const b = spec.slice(dash + 1);
  if (a === "") return DIGITS.test(b) ? { kind: "suffix", length: Number(b) } : { kind: "ignore" };
  if (!DIGITS.test(a) || (b !== "" && !DIGITS.test(b))) return { kind: "ignore" };
  const first = Number(a);
  const last = b === "" ? undefined : Number(b);
  if (last !== undefined && last < first) return { kind: "ignore" };
  return { kind: "from", first, last };
}

/** The bytes to send of a file of `size` bytes, or `undefined` when the range is unsatisfiable (416). */
export function satisfy(range: Exclude<RangeRequest, { kind: "ignore" }>, size: number): { offset: number; length: number } | undefined {
  if (range.kind === "suffix") {
    // A suffix of zero bytes, or any range of an empty file, selects nothing (§14.1.2).
    if (range.length === 0 || size === 0) return undefined;
    const length = Math.min(range.length, size);
    return { offset: size - length, length };
  }
  if (range.first >= size) return undefined;
  const last = Math.min(range.last ?? size - 1, size - 1);
  return { offset: range.first, length: last - range.first + 1 };
}

/** A request's `Range` header as plain input for a download use case. */
export const rangeOf = (request: Request): RangeRequest => parseRange(request.headers.get("range"));
