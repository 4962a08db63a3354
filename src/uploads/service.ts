/**
 * Resumable uploads (tus 1.0, issue 22): the channel-neutral half. An upload is a D1 row (migration
 * 0018: offset, R2 multipart upload id and part etags, the creating token, the job, the target and
 * what it needs, the declared length, the expiry) plus its bytes in R2, so any isolate, or the
 * Worker after a restart, continues at the stored offset. When the last byte lands the assembled
 * file is handed, as plain bytes, to the target's own use case (`uploadPhoto`, `uploadDocument`,
 * `addNoteFiles`): the same admission, intake (size, sniffing, polyglots, active content) and
 * store → record → enqueue path as a multipart upload. Nothing here decides who may upload what.
 *
 * Bytes: R2 multipart parts must be ≥ 5 MiB but the last (and R2 wants them all one size), while a
 * tus client may send any chunk size. Full 5 MiB parts go to the multipart upload as they fill; the
 * pending tail under 5 MiB is kept as a staging R2 object whose key ends in the offset it reaches
 * (`…/tail-<offset>`), written before D1 moves the offset there: a crash between the two leaves an
 * unused object under the upload's folder (removed with it), never a row pointing at wrong bytes.
 * R2 rather than Durable Object storage: a tail may be up to 5 MiB, above a DO value's 2 MiB limit,
 * and R2 is already where the bytes go. Staging lives under `jobs/<job>/uploads/<upload>/`, so a
 * deleted job takes it along. A file under 5 MiB never starts a multipart upload at all.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import type { Scope } from "../app/scope";
import { admitCaller } from "../app/use-case";
import { uploads } from "../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../domain/errors";
import { jobForChange } from "../domain/job-access";
import { toIsoSeconds } from "../domain/time";
import { addNoteFiles, noteForFiles } from "../jobs/case-notes/service";
import { knownFileType, uploadDocument } from "../jobs/documents/service";
import type { PhotoType } from "../jobs/photos/schemas";
import { uploadPhoto } from "../jobs/photos/service";
import { removeStored } from "../media/cleanup";
import { checkSize, INTAKE_POLICIES, safeFilename, type UploadInput } from "../media/intake";
import { objectKey } from "../media/keys";
import type { Services } from "../platform/services";

/** Every multipart part but the last: R2's minimum, and one size for all (R2 requires equal parts). */
export const PART_SIZE = 5 * 1024 * 1024;
/** An upload not finished within this expires; the cron aborts its R2 multipart upload. */
export const UPLOAD_TTL_SECONDS = 24 * 3600;
/** A request writing an upload holds it this long (renewed at each part); a crashed writer's lease lapses. */
const LEASE_SECONDS = 60;

export const UPLOAD_TARGETS = ["photo", "document", "note_file"] as const;
export type UploadTarget = (typeof UPLOAD_TARGETS)[number];

/** Each target's file rules and admission: those of the use case the finished upload enters. */
const TARGETS = {
  photo: { policy: INTAKE_POLICIES.photo, admission: uploadPhoto.admission },
  document: { policy: INTAKE_POLICIES.document, admission: uploadDocument.admission },
  note_file: { policy: INTAKE_POLICIES.noteFile, admission: addNoteFiles.admission },
} as const;

/** The largest file any target takes (tus `Tus-Max-Size`); each target's own cap is checked at creation. */
export const MAX_UPLOAD_BYTES = Math.max(...Object.values(TARGETS).map((t) => t.policy.maxBytes));

export interface NewUpload {
  target: UploadTarget;
  job_id: number;
  filename: string;
  declared_type?: string;
  photo_type?: PhotoType;
  file_type_id?: number;
  note_uuid?: string;
  upload_length: number;
}

/** What a finished upload became, as its answer names it. */
export interface UploadRecord {
  target: UploadTarget;
  uuid: string;
  id?: number;
  /** The reference's own answer fields (photo_id, photo_uuid, processing_status, document_uuid, note_uuid…). */
  fields: Record<string, unknown>;
}

export interface UploadState {
  uuid: string;
  offset: number;
  length: number;
  expiresAt: string;
  record?: UploadRecord;
}

type Row = typeof uploads.$inferSelect;
interface Part {
  partNumber: number;
  etag: string;
}

const stagingFolder = (row: Pick<Row, "jobUuid" | "uuid">) => objectKey(row.jobUuid, "uploads", row.uuid, "");
const tailKey = (row: Pick<Row, "jobUuid" | "uuid">, offset: number) => `${stagingFolder(row)}tail-${offset}`;
const parts = (row: Row): Part[] => JSON.parse(row.parts) as Part[];
const tailLength = (row: Row) => row.uploadOffset - parts(row).length * PART_SIZE;
const stateOf = (row: Row): UploadState => ({
  uuid: row.uuid,
  offset: row.uploadOffset,
  length: row.uploadLength,
  expiresAt: row.expiresAt,
  record: row.result ? (JSON.parse(row.result) as UploadRecord) : undefined,
});

/** Validates the creation's metadata and checks, before any byte is stored, what the finished upload will be checked for. */
export async function createUpload(scope: Scope, input: NewUpload): Promise<Row> {
  const caller = await scope.principal();
  const target = TARGETS[input.target];
  admitCaller(caller, target.admission);
  const filename = safeFilename(input.filename);
  checkSize(target.policy, filename, input.upload_length);
  const { job } = await jobForChange(scope, { id: input.job_id });
  if (input.target === "document") {
    if (input.file_type_id === undefined) throw missing("file_type_id");
    await knownFileType(scope, input.file_type_id);
  }
  if (input.target === "note_file") {
    if (!input.note_uuid) throw missing("note_uuid");
    const { job: noteJob } = await noteForFiles(scope, { uuid: input.note_uuid, count: 1 });
    if (noteJob.id !== job.id) throw notFound("Case note");
  }
  const now = scope.services.clock.now();
  const uuid = crypto.randomUUID();
  const [row] = await scope.db
    .insert(uploads)
    .values({
      uuid,
      tokenId: caller.tokenId,
      userId: caller.userId,
      jobId: job.id,
      jobUuid: job.uuid,
      target: input.target,
      photoType: input.target === "photo" ? (input.photo_type ?? "other") : null,
      fileTypeId: input.target === "document" ? (input.file_type_id ?? null) : null,
      noteUuid: input.target === "note_file" ? (input.note_uuid ?? null) : null,
      filename,
      declaredType: input.declared_type ?? null,
      uploadLength: input.upload_length,
      r2Key: objectKey(job.uuid, "uploads", uuid, "data"),
      createdAt: toIsoSeconds(now),
      expiresAt: toIsoSeconds(new Date(now.getTime() + UPLOAD_TTL_SECONDS * 1000)),
    })
    .returning();
  if (!row) throw new ApiError("INTERNAL", "Upload was not created");
  return row;
}

const missing = (field: string) => badRequest(`Upload-Metadata: ${field} is required for this target`, [{ field, message: "is required" }]);

/**
 * The caller's upload (404 for anyone else's: an upload is bound to the token that created it),
 * unexpired, its target's admission asked again.
 */
async function ownUpload(scope: Scope, uuid: string): Promise<Row> {
  const caller = await scope.principal();
  const row = await scope.db
    .select()
    .from(uploads)
    .where(and(eq(uploads.uuid, uuid), eq(uploads.tokenId, caller.tokenId)))
    .get();
  if (!row || row.expiresAt <= scope.services.clock.iso()) throw notFound("Upload");
  admitCaller(caller, TARGETS[row.target].admission);
  return row;
}

/** How long a HEAD waits for a request still writing the upload (one whose client went away is storing what arrived). */
const SETTLE_MS = 5_000;

/**
 * HEAD: where the upload stands (and, once finished, what it became). While another request holds
 * the upload (typically the one whose connection just dropped, still storing what arrived), it
 * waits a little for that offset rather than answer one the client would have to resend from.
 */
export async function uploadState(scope: Scope, uuid: string): Promise<UploadState> {
  let row = await ownUpload(scope, uuid);
  const deadline = Date.now() + SETTLE_MS;
  while (row.leaseUntil && row.leaseUntil > scope.services.clock.iso() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    row = await ownUpload(scope, uuid);
  }
  return stateOf(row);
}

/** DELETE (tus termination): aborts the multipart upload, removes the staged bytes and the row. */
export async function terminateUpload(scope: Scope, uuid: string): Promise<void> {
  const row = await ownUpload(scope, uuid);
  await scope.db.delete(uploads).where(eq(uploads.id, row.id));
  await discardStaging(scope.services, row);
}

/** Aborts the R2 multipart upload (if any) and deletes every staged object of the upload. */
async function discardStaging(services: Services, row: Row): Promise<void> {
  if (row.r2UploadId && !row.result) {
    await services.media
      .resumeMultipartUpload(row.r2Key, row.r2UploadId)
      .abort()
      .catch((err) => console.error(`aborting upload ${row.uuid} failed:`, err instanceof Error ? err.message : err));
  }
  await removeStored(services, stagingFolder(row));
}

/** Chunks of a request body collected until a part is full. */
class Pending {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(chunk: Uint8Array) {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }
  /** The first `n` bytes (all when omitted), removed from the buffer. */
  take(n = this.length): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0];
      if (!chunk) break;
      const need = n - at;
      if (chunk.byteLength <= need) {
        out.set(chunk, at);
        at += chunk.byteLength;
        this.chunks.shift();
      } else {
        out.set(chunk.subarray(0, need), at);
        this.chunks[0] = chunk.subarray(need);
        at = n;
      }
    }
    this.length -= n;
    return out;
  }
}

/**
 * PATCH: appends the body at `offset` (409 unless it is the stored offset, or while another request
 * writes the upload). Full parts are stored and recorded as they fill; what arrived of an interrupted
 * body is kept (the caller runs this beyond the client's disconnect, `waitUntil`), so the next HEAD
 * answers where it stopped. On the last byte the file enters its target's use case; the answer then
 * carries the record. A body past the declared length is refused (413) and its excess never stored.
 */
export async function appendToUpload(
  scope: Scope,
  input: { uuid: string; offset: number; body: ReadableStream<Uint8Array> | null; contentLength?: number },
): Promise<UploadState> {
  let row = await ownUpload(scope, input.uuid);
  if (row.result) {
    // Finished already: a client whose final answer was lost asks again with nothing more to send.
    if (input.offset === row.uploadLength && !input.contentLength) return stateOf(row);
    throw conflict(`Upload is complete (Upload-Offset ${row.uploadLength})`);
  }
  if (input.offset !== row.uploadOffset) {
    throw conflict(`Upload-Offset ${input.offset} does not match the upload's offset ${row.uploadOffset}`);
  }
  if (input.contentLength !== undefined && input.offset + input.contentLength > row.uploadLength) {
    throw tooLong(row);
  }
  row = await lease(scope, row);
  try {
    const buffer = new Pending();
    const oldTail = tailLength(row);
    if (oldTail > 0) {
      const tail = await scope.services.media.get(tailKey(row, row.uploadOffset));
      if (!tail) throw new ApiError("INTERNAL", "The upload's stored bytes are missing; start the upload again");
      buffer.push(new Uint8Array(await tail.arrayBuffer()));
    }
    let received = 0;
    let interrupted: unknown;
    const reader = input.body?.getReader();
    while (reader) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        interrupted = err; // the client went away: keep what arrived
        break;
      }
      if (next.done) break;
      received += next.value.byteLength;
      // The buffer starts right after the stored parts.
      if (parts(row).length * PART_SIZE + buffer.length + next.value.byteLength > row.uploadLength) {
        await reader.cancel().catch(() => undefined);
        throw tooLong(row);
      }
      buffer.push(next.value);
      while (buffer.length >= PART_SIZE) row = await storePart(scope, row, buffer.take(PART_SIZE));
    }
    const end = parts(row).length * PART_SIZE + buffer.length;
    if (end === row.uploadLength && interrupted === undefined) return await finish(scope, row, buffer.take());
    row = await keepTail(scope, row, buffer.take(), end);
    if (interrupted !== undefined) {
      console.log(`upload ${row.uuid}: interrupted at ${row.uploadOffset} (${received} bytes of this request kept)`);
      throw interrupted;
    }
    return stateOf(row);
  } finally {
    // The lease ends with the request (a failed upload has no row left to update).
    await scope.db
      .update(uploads)
      .set({ leaseUntil: null })
      .where(eq(uploads.id, row.id))
      .catch(() => undefined);
  }
}

const tooLong = (row: Row) =>
  new ApiError("PAYLOAD_TOO_LARGE", `The body goes past the upload's declared length (Upload-Length ${row.uploadLength})`);

/** Takes the upload for this request (409 if another request holds it), at the offset read. */
async function lease(scope: Scope, row: Row): Promise<Row> {
  const now = scope.services.clock.now();
  const [taken] = await scope.db
    .update(uploads)
    .set({ leaseUntil: toIsoSeconds(new Date(now.getTime() + LEASE_SECONDS * 1000)) })
    .where(
      and(
        eq(uploads.id, row.id),
        eq(uploads.uploadOffset, row.uploadOffset),
        sql`(${uploads.leaseUntil} IS NULL OR ${uploads.leaseUntil} < ${toIsoSeconds(now)})`,
      ),
    )
    .returning();
  if (!taken) throw conflict("Another request is writing this upload: ask HEAD for its offset and retry");
  return taken;
}

/** Uploads the next full part and records it (the offset moves to the part's end, the lease renews). */
async function storePart(scope: Scope, row: Row, bytes: Uint8Array): Promise<Row> {
  const { media, clock } = scope.services;
  let uploadId = row.r2UploadId;
  if (!uploadId) uploadId = (await media.createMultipartUpload(row.r2Key)).uploadId;
  const list = parts(row);
  const part = await media.resumeMultipartUpload(row.r2Key, uploadId).uploadPart(list.length + 1, bytes);
  const next = [...list, { partNumber: part.partNumber, etag: part.etag }];
  const offset = next.length * PART_SIZE;
  const previousTail = tailLength(row) > 0 ? tailKey(row, row.uploadOffset) : undefined;
  const [updated] = await scope.db
    .update(uploads)
    .set({
      r2UploadId: uploadId,
      parts: JSON.stringify(next),
      uploadOffset: offset,
      leaseUntil: toIsoSeconds(new Date(clock.now().getTime() + LEASE_SECONDS * 1000)),
    })
    .where(eq(uploads.id, row.id))
    .returning();
  if (!updated) throw notFound("Upload");
  if (previousTail) await media.delete(previousTail).catch(() => undefined);
  return updated;
}

/** Stores the bytes after the last full part as the tail reaching `end`, then moves the offset there. */
async function keepTail(scope: Scope, row: Row, bytes: Uint8Array, end: number): Promise<Row> {
  if (end === row.uploadOffset) return row;
  const { media } = scope.services;
  const previousTail = tailLength(row) > 0 ? tailKey(row, row.uploadOffset) : undefined;
  if (bytes.byteLength > 0) await media.put(tailKey(row, end), bytes);
  const [updated] = await scope.db.update(uploads).set({ uploadOffset: end }).where(eq(uploads.id, row.id)).returning();
  if (!updated) throw notFound("Upload");
  if (previousTail) await media.delete(previousTail).catch(() => undefined);
  return updated;
}

/**
 * The last byte landed: assemble the file, hand it to the target's use case, and whatever it answers
 * remove the staged bytes. A refusal (415, 413, 403…) leaves nothing: no row, no object, no part.
 */
async function finish(scope: Scope, row: Row, last: Uint8Array): Promise<UploadState> {
  const { media } = scope.services;
  let bytes: Uint8Array;
  const list = parts(row);
  if (row.r2UploadId && list.length > 0) {
    const multipart = media.resumeMultipartUpload(row.r2Key, row.r2UploadId);
    const all = [...list];
    if (last.byteLength > 0) {
      const part = await multipart.uploadPart(list.length + 1, last);
      all.push({ partNumber: part.partNumber, etag: part.etag });
    }
    await multipart.complete(all);
    const assembled = await media.get(row.r2Key);
    if (!assembled) throw new ApiError("INTERNAL", "The assembled upload is missing");
    bytes = new Uint8Array(await assembled.arrayBuffer());
  } else {
    bytes = last;
  }
  const file: UploadInput = { bytes, filename: row.filename, declaredType: row.declaredType ?? undefined };
  let record: UploadRecord;
  try {
    record = await enter(scope, row, file);
  } catch (err) {
    await scope.db.delete(uploads).where(eq(uploads.id, row.id));
    throw err;
  } finally {
    // The record holds its own copy (the target's key); the staging copy goes either way.
    await removeStored(scope.services, stagingFolder(row));
  }
  const [done] = await scope.db
    .update(uploads)
    .set({ uploadOffset: row.uploadLength, result: JSON.stringify(record), r2UploadId: null, leaseUntil: null })
    .where(eq(uploads.id, row.id))
    .returning();
  return stateOf(done ?? { ...row, uploadOffset: row.uploadLength, result: JSON.stringify(record) });
}

/** The finished file through the target's own use case (same admission, intake, store, record, enqueue). */
async function enter(scope: Scope, row: Row, file: UploadInput): Promise<UploadRecord> {
  switch (row.target) {
    case "photo": {
      const out = await uploadPhoto(scope, { job_id: row.jobId, photo_type: row.photoType ?? "other", file });
      return { target: "photo", uuid: out.photo_uuid, id: out.photo_id, fields: out };
    }
    case "document": {
      const out = await uploadDocument(scope, { job_id: row.jobId, file_type_id: row.fileTypeId ?? 0, file });
      return { target: "document", uuid: out.document_uuid, id: out.document_id, fields: out };
    }
    case "note_file": {
      const out = await addNoteFiles(scope, { uuid: row.noteUuid ?? "", attachments: [file] });
      const stored = out.files?.[0];
      if (!stored) throw new ApiError("INTERNAL", "The note file was not stored");
      return { target: "note_file", uuid: stored.uuid, fields: { ...out.fields, attachment_uuid: stored.uuid } };
    }
  }
}

/**
 * The cron: uploads past their expiry go, their R2 multipart uploads aborted and staged bytes
 * deleted (a finished one only loses its row). Answers how many went.
 */
export async function sweepExpiredUploads(services: Services, now: Date): Promise<number> {
  const db = services.db;
  const expired = await db
    .select()
    .from(uploads)
    .where(lt(uploads.expiresAt, toIsoSeconds(now)))
    .limit(100);
  for (const row of expired) {
    await discardStaging(services, row);
    await db.delete(uploads).where(eq(uploads.id, row.id));
  }
  return expired.length;
}
