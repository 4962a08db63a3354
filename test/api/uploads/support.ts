/** tus requests through the Worker's own fetch, for test/api/uploads/*.test.ts. */
import { exports } from "cloudflare:workers";
import { ascii, concat, makeMp4 } from "../../../scripts/lib/media-fixtures";
import { obj, pdf, stream } from "../../support/pdf-builder";

const BASE = "https://propops.test";

export interface TusResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on it
  body: any;
}

export async function tus(
  method: string,
  path: string,
  opts: { token?: string; csrf?: string; headers?: Record<string, string>; body?: BodyInit; version?: string | null } = {},
): Promise<TusResponse> {
  const headers = new Headers(opts.headers);
  if (opts.version !== null) headers.set("Tus-Resumable", opts.version ?? "1.0.0");
  if (opts.token) headers.set("Authorization", `Bearer ${opts.token}`);
  if (opts.csrf) headers.set("X-CSRF-Token", opts.csrf);
  if (opts.body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/offset+octet-stream");
  const init: RequestInit & { duplex?: string } = { method, headers, body: opts.body };
  if (opts.body instanceof ReadableStream) init.duplex = "half";
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, init));
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

/** tus Upload-Metadata from plain values. */
export const metadata = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([k, v]) => `${k} ${btoa(String.fromCharCode(...new TextEncoder().encode(String(v))))}`)
    .join(",");

/** Creates an upload; answers its path (the Location). */
export async function create(
  who: { token: string; csrf: string },
  length: number,
  meta: Record<string, string | number>,
  extra: { headers?: Record<string, string>; body?: BodyInit } = {},
) {
  const res = await tus("POST", "/api/uploads", {
    token: who.token,
    csrf: who.csrf,
    headers: { "Upload-Length": String(length), "Upload-Metadata": metadata(meta), ...extra.headers },
    body: extra.body,
  });
  return { res, path: res.headers.get("location") ?? "" };
}

export const patch = (who: { token: string }, path: string, offset: number, bytes: BodyInit, headers: Record<string, string> = {}) =>
  tus("PATCH", path, { token: who.token, headers: { "Upload-Offset": String(offset), ...headers }, body: bytes });

/** An MP4 (the fixture) grown to `size` bytes with a trailing `free` box: a valid file of any size. */
export function bigMp4(size: number): Uint8Array {
  const mp4 = makeMp4();
  const pad = size - mp4.length;
  const box = new Uint8Array(pad);
  new DataView(box.buffer).setUint32(0, pad);
  box.set(ascii("free"), 4);
  return concat(mp4, box);
}

/** A plain PDF of about `size` bytes (one zero-filled stream). */
export const bigPdf = (size: number) =>
  pdf([obj(1, "<</Type/Catalog/Pages 2 0 R>>"), obj(2, "<</Type/Pages/Kids[]/Count 0>>"), obj(3, stream("", new Uint8Array(size)))]);

/** A body that sends `bytes` and then fails: a connection cut mid-chunk. */
export function cutAfter(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes);
        return;
      }
      controller.error(new Error("connection reset"));
    },
  });
}
