/** The documents' use cases, callable from any channel; files come in as plain bytes (src/media/intake.ts). */
import { and, asc, eq } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { documents, fileTypes, jobs } from "../../db/schema";
import { badRequest } from "../../domain/errors";
import { jobForChange } from "../../domain/job-access";
import { INTAKE_POLICIES, intake, type UploadInput } from "../../media/intake";
import type { RangeRequest } from "../../media/range";
import { jobFileRows, visibleFile } from "../../media/serve";
import { deleteUpload, storeUpload, UPLOADS } from "../../media/store";

const MANAGE: Admission = { permission: "api.jobs.documents.manage" };

const downloadUrl = (uuid: string) => `/api/jobs/documents?action=download&uuid=${uuid}`;

/** The document file type (400 when there is none with that id); a resumable upload asks it at creation too. */
export async function knownFileType(scope: Scope, id: number) {
  const fileType = await scope.db.select({ id: fileTypes.id, name: fileTypes.name }).from(fileTypes).where(eq(fileTypes.id, id)).get();
  if (!fileType) {
    throw badRequest(`file_type_id: no file type with id ${id}`, [
      { field: "file_type_id", message: `no file type with id ${id}; see GET /api/jobs/file-types` },
    ]);
  }
  return fileType;
}

/** Stores a document of a known file type and records it. */
export const uploadDocument = useCase(MANAGE, async (scope, input: { job_id: number; file_type_id: number; file: UploadInput }) => {
  const { job } = await jobForChange(scope, { id: input.job_id });
  const fileType = await knownFileType(scope, input.file_type_id);
  const file = await intake(INTAKE_POLICIES.document, input.file);
  const stored = await storeUpload(scope, UPLOADS.document, {
    job,
    file,
    row: (base) => ({ ...base, fileTypeId: fileType.id }),
    changes: (uuid) => ({ document_uuid: uuid, file_type: fileType.name, filename: file.filename, size: file.size }),
  });
  return { document_id: stored.id, document_uuid: stored.uuid };
});

/** Removes a document's row and its stored file. */
export const deleteDocument = useCase(MANAGE, async (scope, input: { document_id: number }) => {
  const doc = await deleteUpload(scope, UPLOADS.document, input.document_id, (d) => ({ document_uuid: d.uuid, filename: d.filename }));
  return { document_uuid: doc.uuid };
});

/** A job's documents, oldest first. */
export const listDocuments = useCase(MANAGE, async (scope, input: { job_id: number }) => {
  const rows = await jobFileRows(scope, input.job_id, (visible) =>
    scope.db
      // No column of documents is called `name`: the file type's does not collide (D1 answers objects).
      .select({ doc: documents, fileTypeName: fileTypes.name })
      .from(documents)
      .innerJoin(jobs, eq(jobs.id, documents.jobId))
      .innerJoin(fileTypes, eq(fileTypes.id, documents.fileTypeId))
      .where(and(eq(jobs.id, input.job_id), visible))
      .orderBy(asc(documents.id)),
  );
  return rows.map(({ doc, fileTypeName }) => ({
    ID: doc.id,
    uuid: doc.uuid,
    job_id: doc.jobId,
    file_type_id: doc.fileTypeId,
    file_type_name: fileTypeName,
    filename: doc.filename,
    content_type: doc.contentType,
    size: doc.size,
    uploaded_by: doc.uploadedBy,
    created_at: doc.createdAt,
    download_url: downloadUrl(doc.uuid),
  }));
});

/** A document's bytes, always as an attachment. */
export const downloadDocument = useCase(MANAGE, async (scope, input: { uuid: string; range: RangeRequest }) =>
  visibleFile(scope, { table: documents, uuid: input.uuid, what: "Document", range: input.range }, (doc) => ({
    key: doc.r2Key,
    contentType: doc.contentType,
    filename: doc.filename,
    disposition: "attachment",
    missing: "Document file not found",
  })),
);
