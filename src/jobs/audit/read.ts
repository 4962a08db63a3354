import { z } from "@hono/zod-openapi";
import { zPagination, zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
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
  tag: "Workflow",
  permission: readAuditTrail.admission.permission,
  query: z.strictObject({ job_uuid: zUuid(), ...zPagination }),
  responses: { 200: jsonResponse("A page of audit events", listEnvelope(AuditItem)) },
  handler: async (c, { query }) => {
    const { data, count } = await readAuditTrail(c.var.ctx, query);
    return ok(c, data, { count });
  },
});
