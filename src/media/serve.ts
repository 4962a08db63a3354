/**
 * The one download path: the file row the caller may see (404 otherwise) → the stored object,
 * one byte range of it (src/media/range.ts) → the HTTP answer with the headers every stored file
 * gets. The use case answers a `ServedFile` (data: body, size, type, name, range); the route
 * turns it into a Response with `fileResponse`, so another channel can stream the same bytes.
 */
import { and, eq, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Scope } from "../app/scope";
import { type documents, jobs, type noteAttachments, type photos } from "../db/schema";
import { ApiError, notFound } from "../domain/errors";
import { type RangeRequest, satisfy } from "./range";

/** Which stored object answers, and how it is named. */
export interface FileRef {
  key: string;
  /** The stored type when omitted (e.g. a compressed photo, whose format the compressor chose). */
  contentType?: string;
  filename: string | ((contentType: string) => string);
  disposition: "attachment" | "inline";
  /** The 404's message when the row is there but the object is not. */
  missing: string;
}

export type ServedFile =
  | {
      status: 200 | 206;
      body: ReadableStream;
      /** The whole object's size. */
      size: number;
      contentType: string;
      filename: string;
      disposition: "attachment" | "inline";
      /** The bytes sent, on a 206. */
      part?: { offset: number; length: number };
    }
  /** The range asked for lies outside the object. */
  | { status: 416; size: number };

type FileTable = typeof photos | typeof documents | typeof noteAttachments;

/** A file row by uuid, if its job is visible to the caller (one read, with the token check when unresolved). */
export async function visibleRow<T extends FileTable>(scope: Scope, table: T, uuid: string): Promise<T["$inferSelect"] | undefined> {
  // drizzle cannot type a select over a union of tables: one table's columns stand for all three.
  const t = table as typeof documents;
  const [rows] = await scope.read([
    scope.db
      .select({ row: t })
      .from(t)
      .innerJoin(jobs, eq(jobs.id, t.jobId))
      .where(and(eq(t.uuid, uuid), await scope.jobVisible())),
  ]);
  return rows[0]?.row as T["$inferSelect"] | undefined;
}

/**
 * A job's file rows (`rows`, given the visibility condition), with the job's own visibility in the
 * same read: 404 "Job not found" when the caller may not see the job, rather than an empty list.
 */
export async function jobFileRows<Q extends BatchItem<"sqlite">>(
  scope: Scope,
  jobId: number,
  rows: (visible: SQL) => Q,
): Promise<Q["_"]["result"]> {
  const visible = await scope.jobVisible();
  const [job, found] = await scope.read([
    scope.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.id, jobId), visible)),
    rows(visible),
  ]);
  if (job.length === 0) throw notFound("Job");
  return found;
}

/**
 * Every download: the visible row of `table` with this uuid, `pick` chooses its object (undefined:
 * 404 "<what> not found"; it may throw a more precise 404), then `openFile`.
 */
export async function visibleFile<T extends FileTable>(
  scope: Scope,
  find: { table: T; uuid: string; what: string; range: RangeRequest },
  pick: (row: T["$inferSelect"]) => FileRef | undefined,
): Promise<ServedFile> {
  const row = await visibleRow(scope, find.table, find.uuid);
  const ref = row && pick(row);
  if (!ref) throw notFound(find.what);
  return openFile(scope.services.media, ref, find.range);
}

/** The object (or the asked range of it); 404 with `ref.missing` when it is not in the bucket. */
export async function openFile(media: R2Bucket, ref: FileRef, range: RangeRequest): Promise<ServedFile> {
  let object: R2ObjectBody | null;
  let part: { offset: number; length: number } | undefined;
  if (range.kind === "ignore") object = await media.get(ref.key);
  else {
    // The size decides whether the range is satisfiable: a head first, then the bytes asked for.
    const head = await media.head(ref.key);
    if (!head) throw new ApiError("NOT_FOUND", ref.missing);
    part = satisfy(range, head.size);
    if (!part) return { status: 416, size: head.size };
    object = await media.get(ref.key, { range: part });
  }
  if (!object) throw new ApiError("NOT_FOUND", ref.missing);
  const contentType = ref.contentType ?? object.httpMetadata?.contentType ?? "application/octet-stream";
  const filename = typeof ref.filename === "string" ? ref.filename : ref.filename(contentType);
  return { status: part ? 206 : 200, body: object.body, size: object.size, contentType, filename, disposition: ref.disposition, part };
}

/**
 * The HTTP answer: the sniffed type, `nosniff`, a Content-Disposition whose name is plain ASCII
 * plus the RFC 5987 form of the original (never raw header text from a user), one byte range
 * (206) so video players can seek, 416 when unsatisfiable.
 */
export function fileResponse(file: ServedFile): Response {
  if (file.status === 416) return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${file.size}` } });
  const ascii = file.filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\;]/g, "_");
  const headers = new Headers({
    "Content-Type": file.contentType,
    "Content-Disposition": `${file.disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.filename)}`,
    "X-Content-Type-Options": "nosniff",
    // Stored files are user content: no scripts, no framing, even if a browser renders one.
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cache-Control": "private, no-store",
    "Accept-Ranges": "bytes",
  });
  const part = file.part;
  if (part) {
    headers.set("Content-Range", `bytes ${part.offset}-${part.offset + part.length - 1}/${file.size}`);
    headers.set("Content-Length", String(part.length));
    return new Response(file.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(file.size));
  return new Response(file.body, { headers });
}
