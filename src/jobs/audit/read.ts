import { z } from "@hono/zod-openapi";
import { zPagination, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, OK } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { readAuditTrail } from "./service";

const AuditItem = z
  .object({
    uuid: z.string(),
    action: z.string().openapi({ example: "job.recalled" }),
    actor_name: z.string(),
    actor_user_id: z.number().int().nullable(),
    changes: z
      .record(z.string(), z.unknown())
      .openapi({ description: '{field: {before, after}}; encrypted fields appear as {"changed": true} without values' }),
    created_at: z.string(),
  })
  .openapi("AuditEvent");

export const getAudit = operation({
  method: "get",
  path: "/api/jobs/audit",
  operationId: "listJobAuditEvents",
  summary: "A job's audit trail: who changed what, when, before and after",
  description:
    "Newest first, paginated (`limit`, `offset`; `count` is the total). Needs `api.jobs.manage.list` (whoever may list jobs may " +
    "read their history). Contractors read only their own jobs' trails. The trail outlives its job: managers and admins can " +
    "still read a deleted job's trail by its uuid; for other roles a deleted job is 404, like any unknown job.",
  tag: "Audit",
  permission: readAuditTrail.admission.permission,
  query: z.strictObject({ job_uuid: zUuid(), ...zPagination }),
  responses: { 200: jsonResponse("A page of audit events", listEnvelope(AuditItem)) },
  handler: async (c, { query }) => {
    const { data, count } = await readAuditTrail(c.var.ctx, query);
    return ok(c, data, { count });
  },
  docs: {
    query: { job_uuid: JOB_UUID, limit: 50 },
    responses: {
      200: {
        list: ex("A job's audit trail", {
          success: true,
          data: [
            {
              uuid: "550e8400-e29b-41d4-a716-446655440900",
              action: "job.updated",
              actor_name: "Staff_001",
              actor_user_id: 7,
              changes: { contractor_budget: { from: 180, to: 200 } },
              created_at: "2024-06-01T14:00:00Z",
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
});
