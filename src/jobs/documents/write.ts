import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { documents, fileTypes, jobs } from "../../db/schema";
import { badRequest, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { jobForChange } from "../../domain/job-access";
import { zId } from "../../domain/values";
import { done } from "../../http/envelope";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { removeStored } from "../../media/cleanup";
import { objectKey } from "../../media/keys";
import { EXTENSIONS } from "../../media/sniff";
import { readUpload, storeRecordEnqueue, zFile } from "../../media/upload";

/** Where a document's file lives. */
const documentPrefix = (jobUuid: string, documentUuid: string) => objectKey(jobUuid, "documents", documentUuid, "");

export const postDocuments = operation({
  method: "post",
  path: "/api/jobs/documents",
  operationId: "uploadDocument",
  summary: "Upload a document (action=upload, multipart/form-data)",
  description:
    "PDF, DOCX, JPEG or PNG up to 20 MB, recognised by its bytes (DOCX: an OOXML zip with a Word part, within zip-bomb " +
    "limits). `file_type_id` comes from GET /api/jobs/file-types. 413 over 20 MB; 415 for content that is not an accepted format.",
  tag: "Documents",
  permission: "api.jobs.documents.manage",
  body: z.object({ action: z.literal("upload"), job_id: zId(), file_type_id: zId(), file: zFile() }),
  actions: ["upload"],
  responses: {
    201: jsonResponse(
      "Stored",
      z.object({ success: z.literal(true), document_id: z.number().int(), document_uuid: z.string(), message: z.string() }),
    ),
  },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const { job } = await jobForChange(ctx, { id: body.job_id });
    const fileType = await ctx.db
      .select({ id: fileTypes.id, name: fileTypes.name })
      .from(fileTypes)
      .where(eq(fileTypes.id, body.file_type_id))
      .get();
    if (!fileType) {
      throw badRequest(`file_type_id: no file type with id ${body.file_type_id}`, [
        { field: "file_type_id", message: `no file type with id ${body.file_type_id}; see GET /api/jobs/file-types` },
      ]);
    }
    const file = await readUpload(body.file, ["pdf", "docx", "jpeg", "png"]);
    const uuid = crypto.randomUUID();
    const key = objectKey(job.uuid, "documents", uuid, `file.${EXTENSIONS[file.sniffed.type]}`);
    const id = await storeRecordEnqueue(ctx.services, {
      key,
      bytes: file.bytes,
      contentType: file.sniffed.contentType,
      table: documents,
      values: {
        uuid,
        jobId: job.id,
        fileTypeId: fileType.id,
        r2Key: key,
        filename: file.filename,
        contentType: file.sniffed.contentType,
        size: file.bytes.length,
        uploadedBy: ctx.caller.userId,
      },
      audit: {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: ctx.caller,
        action: "document.uploaded",
        changes: { document_uuid: uuid, file_type: fileType.name, filename: file.filename, size: file.bytes.length },
      },
    });
    return done(c, "Document uploaded", { document_id: id, document_uuid: uuid }, 201);
  },
});

export const deleteDocuments = operation({
  method: "delete",
  path: "/api/jobs/documents",
  operationId: "deleteDocument",
  summary: 'Delete a document: JSON body {"document_id": <id>}',
  description: "Removes the row and the stored file.",
  tag: "Documents",
  permission: "api.jobs.documents.manage",
  body: z.object({ document_id: zId() }),
  responses: { 200: jsonResponse("Deleted", MessageOnly.extend({ document_uuid: z.string() })) },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    await ctx.principal();
    const doc = await ctx.db
      .select({ id: documents.id, uuid: documents.uuid, jobId: documents.jobId, filename: documents.filename })
      .from(documents)
      .innerJoin(jobs, eq(jobs.id, documents.jobId))
      .where(and(eq(documents.id, body.document_id), await ctx.jobVisible()))
      .get();
    if (!doc) throw notFound("Document");
    const { job } = await jobForChange(ctx, { id: doc.jobId });
    const db = ctx.db;
    await db.batch([
      db.delete(documents).where(eq(documents.id, doc.id)),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: ctx.caller,
        action: "document.deleted",
        changes: { document_uuid: doc.uuid, filename: doc.filename },
      }),
    ]);
    await removeStored(c.var.ctx.services, documentPrefix(job.uuid, doc.uuid));
    return done(c, "Document deleted", { document_uuid: doc.uuid });
  },
});
