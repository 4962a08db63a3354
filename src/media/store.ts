/**
 * The one way a file enters storage: store the objects, commit the rows (one D1 batch), then
 * enqueue its processing; if a step fails the earlier ones are undone, so no object is orphaned
 * and no row or audit event points at nothing. Photos, documents and note files (API and mail)
 * all go through `storeCommitEnqueue`; removal goes through `removeStored` (cleanup.ts).
 */
import { and, eq } from "drizzle-orm";
import type { Scope } from "../app/scope";
import { auditEvents, documents, jobs, photos } from "../db/schema";
import { ApiError, forbidden, notFound } from "../domain/errors";
import { recordEvent } from "../domain/events";
import { jobForChange } from "../domain/job-access";
import { mayDeleteMedia } from "../domain/policy";
import type { Services } from "../platform/services";
import { removeStored } from "./cleanup";
import { extensionOf, type TakenFile } from "./intake";
import { objectKey } from "./keys";

export interface StoredObject {
  key: string;
  bytes: Uint8Array;
  contentType: string;
}

/** Puts every object; if one fails, removes them all (cleanup.ts) and throws its error. */
export async function storeObjects(services: Services, objects: readonly StoredObject[]): Promise<void> {
  const results = await Promise.allSettled(
    objects.map((o) => services.media.put(o.key, o.bytes, { httpMetadata: { contentType: o.contentType } })),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (!failed) return;
  await removeStored(
    services,
    objects.map((o) => o.key),
  );
  throw failed.reason;
}

/**
 * Stores `objects`, then runs `commit` (the rows and their event, one batch), then `enqueue`.
 * A failed commit removes the objects; a failed enqueue runs `undo` (the committed rows) and
 * removes them too, answering 503 so the caller retries. Answers what `commit` answered.
 */
export async function storeCommitEnqueue<T>(
  services: Services,
  steps: {
    objects: readonly StoredObject[];
    commit: () => Promise<T>;
    enqueue?: (committed: T) => Promise<unknown>;
    undo?: (committed: T) => Promise<unknown>;
  },
): Promise<T> {
  const keys = steps.objects.map((o) => o.key);
  await storeObjects(services, steps.objects);
  let committed: T;
  try {
    committed = await steps.commit();
  } catch (err) {
    await removeStored(services, keys);
    throw err;
  }
  try {
    await steps.enqueue?.(committed);
  } catch (err) {
    console.error(`upload rolled back (${keys.join(", ")}):`, err instanceof Error ? err.message : err);
    await steps.undo?.(committed);
    await removeStored(services, keys);
    throw new ApiError("UNAVAILABLE", "The upload could not be queued for processing; nothing was stored, please retry");
  }
  return committed;
}

type UploadTable = typeof photos | typeof documents;

/** A kind of job file uploaded one at a time: its table, where its files live, its events. */
interface UploadKind<T extends UploadTable> {
  readonly table: T;
  /** Its files live under `jobs/<job>/<folder>/<uuid>/`. */
  readonly folder: "photos" | "documents";
  /** The stored file's name, before the extension of what its bytes are. */
  readonly name: string;
  /** The 404's subject. */
  readonly what: string;
  readonly uploaded: string;
  readonly deleted: string;
}

export const UPLOADS: { photo: UploadKind<typeof photos>; document: UploadKind<typeof documents> } = {
  photo: { table: photos, folder: "photos", name: "original", what: "Photo", uploaded: "photo.uploaded", deleted: "photo.deleted" },
  document: {
    table: documents,
    folder: "documents",
    name: "file",
    what: "Document",
    uploaded: "document.uploaded",
    deleted: "document.deleted",
  },
};
type Job = { id: number; uuid: string };

/** What every upload row holds; each table adds its own columns. */
interface UploadColumns {
  uuid: string;
  jobId: number;
  r2Key: string;
  filename: string;
  contentType: string;
  size: number;
  uploadedBy: number | null;
}

/**
 * A photo or document upload: the file under a generated key (`<name>.<ext>` in the record's
 * folder), its row and audit event in one batch, then `enqueue` with the new row's id; each undone
 * if a later step fails. Answers the row's id and uuid.
 */
export async function storeUpload<T extends UploadTable>(
  scope: Scope,
  kind: UploadKind<T>,
  upload: {
    job: Job;
    file: TakenFile;
    row: (base: UploadColumns) => T["$inferInsert"];
    changes: (uuid: string) => Record<string, unknown>;
    enqueue?: (id: number) => Promise<unknown>;
  },
): Promise<{ id: number; uuid: string }> {
  const { db } = scope;
  const { job, file } = upload;
  // A row of either table: drizzle cannot type an insert over a union of tables.
  const table = kind.table as typeof photos;
  const uuid = crypto.randomUUID();
  const auditUuid = crypto.randomUUID();
  const key = objectKey(job.uuid, kind.folder, uuid, `${kind.name}.${extensionOf(file)}`);
  const base: UploadColumns = {
    uuid,
    jobId: job.id,
    r2Key: key,
    filename: file.filename,
    contentType: file.contentType,
    size: file.size,
    uploadedBy: scope.caller.userId,
  };
  const id = await storeCommitEnqueue(scope.services, {
    objects: [{ key, bytes: file.bytes, contentType: file.contentType }],
    commit: async () => {
      const [inserted] = await db.batch([
        db
          .insert(table)
          .values(upload.row(base) as typeof photos.$inferInsert)
          .returning({ id: table.id }),
        recordEvent(db, {
          uuid: auditUuid,
          jobId: job.id,
          jobUuid: job.uuid,
          actor: scope.caller,
          action: kind.uploaded,
          changes: upload.changes(uuid),
        }),
      ]);
      const row = inserted[0];
      if (!row) throw new Error("upload row was not inserted");
      return row.id;
    },
    enqueue: upload.enqueue,
    undo: (rowId) => db.batch([db.delete(table).where(eq(table.id, rowId)), db.delete(auditEvents).where(eq(auditEvents.uuid, auditUuid))]),
  });
  return { id, uuid };
}

/**
 * Deletes a photo or document the caller may see (404 otherwise; 403 on an archived job): its
 * row and audit event in one batch, then every stored file under its folder (cleanup.ts).
 * Answers the deleted row.
 */
export async function deleteUpload<T extends UploadTable>(
  scope: Scope,
  kind: UploadKind<T>,
  id: number,
  changes: (row: T["$inferSelect"]) => Record<string, unknown>,
): Promise<T["$inferSelect"]> {
  const { db } = scope;
  const table = kind.table as typeof photos;
  const row = await db
    .select({ row: table })
    .from(table)
    .innerJoin(jobs, eq(jobs.id, table.jobId))
    .where(and(eq(table.id, id), await scope.jobVisible()))
    .get();
  if (!row) throw notFound(kind.what);
  const found = row.row as T["$inferSelect"];
  if (!mayDeleteMedia(scope.caller, found.uploadedBy)) {
    throw forbidden(`Contractors can delete only the ${kind.what.toLowerCase()}s they uploaded`);
  }
  const { job } = await jobForChange(scope, { id: found.jobId });
  await db.batch([
    db.delete(table).where(eq(table.id, found.id)),
    recordEvent(db, { jobId: job.id, jobUuid: job.uuid, actor: scope.caller, action: kind.deleted, changes: changes(found) }),
  ]);
  await removeStored(scope.services, objectKey(job.uuid, kind.folder, found.uuid, ""));
  return found;
}
