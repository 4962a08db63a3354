/**
 * What photo and document uploads share: reading the multipart file with its limits, sniffing
 * it, the store → record → enqueue sequence with its rollback, and streaming a stored file back.
 */
import { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { auditEvents, type documents, type photos } from "../db/schema";
import { ApiError, badRequest } from "../domain/errors";
import { type EventInput, recordEvent } from "../domain/events";
import type { Services } from "../platform/services";
import { removeStored } from "./cleanup";
import { safeFilename } from "./note-files";
import { parseRange, satisfy } from "./range";
import { SniffError, type Sniffed, type SniffedType, sniffDeep } from "./sniff";

/** Per-file upload limit (photos and documents). */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;

/** A multipart file field; JSON and form bodies cannot carry one. */
export const zFile = () =>
  z
    .custom<File>((v) => v instanceof File, { message: "is required: send the file as multipart/form-data" })
    .openapi({
      type: "string",
      format: "binary",
    });

export interface ReadFile {
  bytes: Uint8Array;
  filename: string;
  sniffed: Sniffed;
}

/** Size (413), emptiness (400) and content (415) checks, on the bytes actually read. */
export async function readUpload(file: File, accepted: readonly SniffedType[]): Promise<ReadFile> {
  const limit = `${MAX_FILE_BYTES / 1024 / 1024} MB`;
  if (file.size > MAX_FILE_BYTES)
    throw new ApiError("PAYLOAD_TOO_LARGE", `file: larger than ${limit}`, [{ field: "file", message: `larger than ${limit}` }]);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes.length > MAX_FILE_BYTES)
    throw new ApiError("PAYLOAD_TOO_LARGE", `file: larger than ${limit}`, [{ field: "file", message: `larger than ${limit}` }]);
  if (bytes.length === 0) throw badRequest("file: is empty", [{ field: "file", message: "is empty" }]);
  try {
    return { bytes, filename: safeFilename(file.name), sniffed: await sniffDeep(bytes, accepted) };
  } catch (err) {
    if (err instanceof SniffError)
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `file: ${err.message}`, [{ field: "file", message: err.message }]);
    throw err;
  }
}

type MediaTable = typeof photos | typeof documents;

/**
 * Stores the object, then inserts the row with its audit event (one batch), then runs `after`
 * (enqueueing); if a step fails, the earlier ones are undone, so no object is orphaned and no row
 * or audit event points at nothing. Answers the new row's id.
 */
export async function storeRecordEnqueue<T extends MediaTable>(
  services: Services,
  steps: {
    key: string;
    bytes: Uint8Array;
    contentType: string;
    table: T;
    values: T["$inferInsert"];
    audit: Omit<EventInput, "uuid">;
    after?: (id: number) => Promise<unknown>;
  },
): Promise<number> {
  const { db, env } = services;
  // A row of either media table: drizzle cannot type an insert over a union of tables.
  const table = steps.table as typeof photos;
  const auditUuid = crypto.randomUUID();
  await env.MEDIA.put(steps.key, steps.bytes, { httpMetadata: { contentType: steps.contentType } });
  let id: number;
  try {
    const [inserted] = await db.batch([
      db
        .insert(table)
        .values(steps.values as typeof photos.$inferInsert)
        .returning({ id: table.id }),
      recordEvent(db, { ...steps.audit, uuid: auditUuid }),
    ]);
    const row = inserted[0];
    if (!row) throw new Error("upload row was not inserted");
    id = row.id;
  } catch (err) {
    await removeStored(services, [steps.key]);
    throw err;
  }
  try {
    await steps.after?.(id);
  } catch (err) {
    console.error(`upload rolled back (${steps.key}):`, err instanceof Error ? err.message : err);
    await db.batch([db.delete(table).where(eq(table.id, id)), db.delete(auditEvents).where(eq(auditEvents.uuid, auditUuid))]);
    await removeStored(services, [steps.key]);
    throw new ApiError("UNAVAILABLE", "The upload could not be queued for processing; nothing was stored, please retry");
  }
  return id;
}

/**
 * Streams a stored file: sniffed type, `nosniff`, a Content-Disposition whose name is plain ASCII
 * plus the RFC 5987 form of the original (never raw header text from a user), and one byte range
 * (206) so video players can seek: 416 when unsatisfiable, the whole file (200) for an invalid
 * Range or several ranges (src/media/range.ts). 404 when the object is missing.
 */
export async function serveObject(
  env: Env,
  request: Request,
  key: string,
  opts: {
    /** The stored type when omitted (e.g. a compressed photo, whose format the compressor chose). */
    contentType?: string;
    filename: string | ((contentType: string) => string);
    disposition: "attachment" | "inline";
    missing: string;
  },
): Promise<Response> {
  // One parser for every download (src/media/range.ts): R2's own answered invalid, multiple and
  // empty-suffix ranges with a 206 of the whole file.
  const range = parseRange(request.headers.get("range"));
  const unsatisfiable = (size: number) => new Response(null, { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  let object: R2ObjectBody | null;
  let part: { offset: number; length: number } | undefined;
  if (range.kind === "ignore") object = await env.MEDIA.get(key);
  else {
    // The size decides whether the range is satisfiable: a head first, then the bytes asked for.
    const head = await env.MEDIA.head(key);
    if (!head) throw new ApiError("NOT_FOUND", opts.missing);
    part = satisfy(range, head.size);
    if (!part) return unsatisfiable(head.size);
    object = await env.MEDIA.get(key, { range: part });
  }
  if (!object) throw new ApiError("NOT_FOUND", opts.missing);
  const contentType = opts.contentType ?? object.httpMetadata?.contentType ?? "application/octet-stream";
  const filename = typeof opts.filename === "string" ? opts.filename : opts.filename(contentType);
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\;]/g, "_");
  const headers = new Headers({
    "Content-Type": contentType,
    "Content-Disposition": `${opts.disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
    "X-Content-Type-Options": "nosniff",
    // Stored files are user content: no scripts, no framing, even if a browser renders one.
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cache-Control": "private, no-store",
    "Accept-Ranges": "bytes",
  });
  if (part) {
    headers.set("Content-Range", `bytes ${part.offset}-${part.offset + part.length - 1}/${object.size}`);
    headers.set("Content-Length", String(part.length));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(object.size));
  return new Response(object.body, { headers });
}
