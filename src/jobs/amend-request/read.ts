import { z } from "@hono/zod-openapi";
import { zPagination, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { AMEND_UUID, ex, JOB_UUID, OK } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { listAmendments } from "./service";

const AmendmentItem = z
  .object({
    uuid: z.string(),
    job_uuid: z.string(),
    job_ref: z.string(),
    field_name: z.string().openapi({ example: "contractor_budget" }),
    current_value: z.string().nullable().openapi({ example: "180.00" }),
    requested_value: z.string().openapi({ example: "220.00" }),
    reason: z.string(),
    status: z.enum(["pending", "approved", "rejected", "superseded"]),
    requested_by: z.string(),
    requested_at: z.string(),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    decision_notes: z.string().nullable(),
  })
  .openapi("AmendmentRequest");

export const getAmendRequests = operation({
  method: "get",
  path: "/api/jobs/amend-request",
  operationId: "listAmendmentRequests",
  summary: "Amendment requests: by job, by status, or one by uuid",
  description:
    "Newest first, paginated (`limit`, `offset`). `uuid` returns the one request (in the same list shape) or 404; " +
    "`job_uuid` of an unknown job (or one the caller may not see) is 404. Contractors see only their jobs' requests.",
  tag: "Amendments",
  permission: listAmendments.admission.permission,
  query: z.strictObject({
    uuid: zUuid().optional(),
    job_uuid: zUuid().optional(),
    status: z
      .enum(["pending", "approved", "rejected", "superseded"], { error: "must be pending, approved, rejected or superseded" })
      .optional(),
    ...zPagination,
  }),
  responses: { 200: jsonResponse("A page of amendment requests", listEnvelope(AmendmentItem)) },
  handler: async (c, { query }) => {
    const { data, count } = await listAmendments(c.var.ctx, query);
    return ok(c, data, { count });
  },
  docs: {
    query: { job_uuid: JOB_UUID, status: "pending" },
    responses: {
      200: {
        pending: ex("Pending requests of a job", {
          success: true,
          data: [
            {
              uuid: AMEND_UUID,
              job_uuid: JOB_UUID,
              job_ref: "JOB-001",
              field_name: "contractor_budget",
              current_value: "180.00",
              requested_value: "220.00",
              reason: "Additional materials required.",
              status: "pending",
              requested_by: "Contractor_001",
              requested_at: "2024-06-14T10:00:00Z",
              decided_by: null,
              decided_at: null,
              decision_notes: null,
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
});
