import type { Context } from "hono";
import { ApiError, badRequest } from "../domain/errors";
import { readLimited } from "../lib/read-limited";
import type { AppContext, BodyRecord } from "./app-env";

/** Largest non-file request body we read (JSON or form); uploads have their own limit. */
const MAX_TEXT_BODY = 1024 * 1024;
/** Uploads: 20 MB per file plus room for the other fields and multipart framing. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
const MAX_MULTIPART_BODY = MAX_UPLOAD_BYTES + 256 * 1024;

export type BodyValue = string | File | BodyValue[] | number | boolean | null | Record<string, unknown>;
export type { BodyRecord } from "./app-env";

/**
 * Reads a request body into one plain record, whatever its encoding (JSON, form-urlencoded,
 * multipart), so that one zod schema validates all three. Repeated keys and `key[]` become arrays.
 * The result is cached on the context: the CSRF check and the handler read the same body.
 */
export function readBody(c: AppContext): Promise<BodyRecord> {
  // The promise is cached, not its result: the CSRF check may ask while the handler's read is still
  // streaming, and a second reader of the same stream would fail ("locked to a reader").
  const cached = c.var.parsedBody;
  if (cached) return cached;
  const parsed = parse(c);
  c.set("parsedBody", parsed);
  return parsed;
}

async function parse(c: Context): Promise<BodyRecord> {
  const req = c.req.raw;
  if (req.body === null) return {};
  const type = (req.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const declared = Number(req.headers.get("content-length") ?? "0");

  if (type === "multipart/form-data") {
    if (declared > MAX_MULTIPART_BODY) throw tooLarge();
    // Count the bytes as they stream in: a body sent without Content-Length (chunked) must not
    // get past the limit either, and counting avoids holding a second copy of the upload.
    let total = 0;
    let exceeded = false;
    const counted = req.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          total += chunk.byteLength;
          if (total > MAX_MULTIPART_BODY) {
            exceeded = true;
            controller.error(new Error("body too large"));
          } else controller.enqueue(chunk);
        },
      }),
    );
    let form: FormData;
    try {
      form = await new Response(counted, { headers: { "content-type": req.headers.get("content-type") ?? "" } }).formData();
    } catch {
      if (exceeded) throw tooLarge();
      throw badRequest("Request body is not valid multipart/form-data");
    }
    return collect(form.entries());
  }

  if (declared > MAX_TEXT_BODY) throw tooLarge();
  const text = await readLimitedText(req, MAX_TEXT_BODY);
  if (text.trim() === "") return {};

  if (type === "application/json" || type.endsWith("+json")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw badRequest("Request body is not valid JSON");
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw badRequest("Request body must be a JSON object");
    }
    return value as BodyRecord;
  }
  if (type === "application/x-www-form-urlencoded") {
    return collect(new URLSearchParams(text).entries());
  }
  throw new ApiError(
    "UNSUPPORTED_MEDIA_TYPE",
    "Send the body as application/json, application/x-www-form-urlencoded or multipart/form-data",
  );
}

function tooLarge() {
  return new ApiError("PAYLOAD_TOO_LARGE", "Request body is too large");
}

async function readLimitedText(req: Request, limit: number): Promise<string> {
  if (!req.body) return "";
  const bytes = await readLimited(req.body, limit);
  if (!bytes) throw tooLarge();
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest("Request body is not valid UTF-8");
  }
}

function collect(entries: Iterable<[string, string | File]>): BodyRecord {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of entries) {
    const isArray = rawKey.endsWith("[]");
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    const existing = out[key];
    if (existing === undefined) out[key] = isArray ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}
