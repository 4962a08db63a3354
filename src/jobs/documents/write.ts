import { z } from "@hono/zod-openapi";
import { zId } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, exDone } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { fileInput, zFile } from "../../media/upload";
import { deleteDocument, uploadDocument } from "./service";

export const postDocuments = operation({
  method: "post",
  path: "/api/jobs/documents",
  operationId: "uploadDocument",
  summary: "Upload a document (action=upload, multipart/form-data)",
  description:
    "PDF, DOCX, JPEG or PNG up to 20 MB, recognised by its bytes (DOCX: an OOXML zip with a Word part, within zip-bomb " +
    "limits). `file_type_id` comes from GET /api/jobs/file-types. 413 over 20 MB; 415 for content that is not an accepted format.",
  tag: "Documents",
  permission: uploadDocument.admission.permission,
  body: z.object({ action: z.literal("upload"), job_id: zId(), file_type_id: zId(), file: zFile() }),
  actions: ["upload"],
  responses: {
    201: jsonResponse(
      "Stored",
      z.object({ success: z.literal(true), document_id: z.number().int(), document_uuid: z.string(), message: z.string() }),
    ),
  },
  handler: async (c, { body }) =>
    done(c, "Document uploaded", await uploadDocument(c.var.ctx, { ...body, file: await fileInput(body.file) }), 201),
  docs: {
    body: {
      upload: ex("Upload a document (multipart/form-data)", {
        action: "upload",
        job_id: 1001,
        file_type_id: 2,
        file: "(PDF, DOCX, JPEG or PNG bytes)",
      }),
    },
    responses: {
      201: {
        uploaded: ex("Document stored", {
          success: true,
          document_id: 71,
          document_uuid: "550e8400-e29b-41d4-a716-446655440071",
          message: "Document uploaded successfully",
        }),
      },
    },
    unavailable: true,
  },
});

export const deleteDocuments = operation({
  method: "delete",
  path: "/api/jobs/documents",
  operationId: "deleteDocument",
  summary: 'Delete a document: JSON body {"document_id": <id>}',
  description: "Removes the row and the stored file.",
  tag: "Documents",
  permission: deleteDocument.admission.permission,
  body: z.object({ document_id: zId() }),
  responses: { 200: jsonResponse("Deleted", MessageOnly.extend({ document_uuid: z.string() })) },
  handler: async (c, { body }) => done(c, "Document deleted", await deleteDocument(c.var.ctx, body)),
  docs: {
    body: { delete: ex("Send the document ID as a JSON body", { document_id: 71 }) },
    responses: { 200: { deleted: exDone("Document deleted", { document_uuid: "550e8400-e29b-41d4-a716-446655440071" }) } },
  },
});
