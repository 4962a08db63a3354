import { z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { documents, fileTypes, jobs } from "../../db/schema";
import { aliased } from "../../db/select";
import { notFound } from "../../domain/errors";
import { zId, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { operation } from "../../http/operation";
import { serveObject } from "../../media/upload";

const downloadUrl = (uuid: string) => `/api/jobs/documents?action=download&uuid=${uuid}`;

const DocumentItem = z.object({
  ID: z.number().int(),
  uuid: z.string(),
  job_id: z.number().int(),
  file_type_id: z.number().int(),
  file_type_name: z.string(),
  filename: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  uploaded_by: z.number().int().nullable(),
  created_at: z.string(),
  download_url: z.string(),
});

const documentsQuery = z.discriminatedUnion("action", [
  z.object({ action: z.literal("list"), job_id: zId() }),
  z.object({ action: z.literal("download"), uuid: zUuid() }),
]);

export const getDocuments = operation({
  method: "get",
  path: "/api/jobs/documents",
  operationId: "listOrDownloadDocuments",
  summary: "List a job's documents (action=list&job_id=…) or download one (action=download&uuid=…)",
  description:
    "`action=download` streams the file with its sniffed content type, `Content-Disposition: attachment` and " +
    "`X-Content-Type-Options: nosniff`. Contractors reach only their jobs' documents.",
  tag: "Documents",
  permission: "api.jobs.documents.manage",
  query: documentsQuery,
  actions: ["list", "download"],
  responses: {
    200: {
      description: "The documents, or one document's bytes",
      content: {
        "application/json": { schema: listEnvelope(DocumentItem) },
        "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
  },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const visible = await ctx.jobVisible();
    if (query.action === "download") {
      const [rows] = await ctx.read([
        ctx.db
          .select({ key: documents.r2Key, filename: documents.filename, contentType: documents.contentType })
          .from(documents)
          .innerJoin(jobs, eq(jobs.id, documents.jobId))
          .where(and(eq(documents.uuid, query.uuid), visible)),
      ]);
      const row = rows[0];
      if (!row) throw notFound("Document");
      return serveObject(c.env, c.req.raw, row.key, {
        contentType: row.contentType,
        filename: row.filename,
        disposition: "attachment",
        missing: "Document file not found",
      });
    }
    const [jobRows, rows] = await ctx.read([
      ctx.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.id, query.job_id), visible)),
      ctx.db
        .select(
          aliased({
            id: documents.id,
            uuid: documents.uuid,
            jobId: documents.jobId,
            fileTypeId: documents.fileTypeId,
            fileTypeName: fileTypes.name,
            filename: documents.filename,
            contentType: documents.contentType,
            size: documents.size,
            uploadedBy: documents.uploadedBy,
            createdAt: documents.createdAt,
          }),
        )
        .from(documents)
        .innerJoin(jobs, eq(jobs.id, documents.jobId))
        .innerJoin(fileTypes, eq(fileTypes.id, documents.fileTypeId))
        .where(and(eq(jobs.id, query.job_id), visible))
        .orderBy(asc(documents.id)),
    ]);
    if (jobRows.length === 0) throw notFound("Job");
    const data = rows.map((doc) => ({
      ID: doc.id,
      uuid: doc.uuid,
      job_id: doc.jobId,
      file_type_id: doc.fileTypeId,
      file_type_name: doc.fileTypeName,
      filename: doc.filename,
      content_type: doc.contentType,
      size: doc.size,
      uploaded_by: doc.uploadedBy,
      created_at: doc.createdAt,
      download_url: downloadUrl(doc.uuid),
    }));
    return ok(c, data, { count: data.length, message: "Documents retrieved successfully" });
  },
});
