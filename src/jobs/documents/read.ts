import { z } from "@hono/zod-openapi";
import { zId, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, OK } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { operation } from "../../http/operation";
import { rangeOf } from "../../media/range";
import { fileResponse } from "../../media/serve";
import { listOrFileResponses } from "../../media/upload";
import { downloadDocument, listDocuments } from "./service";

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

export const getDocuments = operation({
  method: "get",
  path: "/api/jobs/documents",
  operationId: "listOrDownloadDocuments",
  summary: "List a job's documents (action=list&job_id=…) or download one (action=download&uuid=…)",
  description:
    "`action=download` streams the file with its sniffed content type, `Content-Disposition: attachment` and " +
    "`X-Content-Type-Options: nosniff`. Contractors reach only their jobs' documents.",
  tag: "Documents",
  permission: listDocuments.admission.permission,
  query: z.discriminatedUnion("action", [
    z.object({ action: z.literal("list"), job_id: zId() }),
    z.object({ action: z.literal("download"), uuid: zUuid() }),
  ]),
  actions: ["list", "download"],
  responses: listOrFileResponses("The documents, or one document's bytes", listEnvelope(DocumentItem)),
  handler: async (c, { query }) => {
    if (query.action === "download")
      return fileResponse(await downloadDocument(c.var.ctx, { uuid: query.uuid, range: rangeOf(c.req.raw) }));
    const data = await listDocuments(c.var.ctx, query);
    return ok(c, data, { count: data.length, message: "Documents retrieved successfully" });
  },
  docs: {
    query: { action: "list", job_id: 1001 },
    responses: {
      200: {
        list: ex("A job's documents", {
          success: true,
          data: [
            {
              ID: 71,
              uuid: "550e8400-e29b-41d4-a716-446655440071",
              job_id: 1001,
              file_type_id: 2,
              file_type_name: "Gas Safety Certificate",
              filename: "gas-safety.pdf",
              content_type: "application/pdf",
              size: 183420,
              uploaded_by: 7,
              created_at: "2024-06-01T15:00:00Z",
              download_url: "/api/jobs/documents?action=download&uuid=550e8400-e29b-41d4-a716-446655440071",
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
});
