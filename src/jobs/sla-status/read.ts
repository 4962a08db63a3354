import { z } from "@hono/zod-openapi";
import { zId, zPagination } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, OK } from "../../http/openapi-samples";
import { dataEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { slaStatus } from "./service";

export const slaStatusQuery = z.strictObject({
  agent_id: zId().optional(),
  contractor_id: zId().optional(),
  priority_id: zId().optional(),
  ...zPagination,
});

const SlaStatus = z
  .object({
    jobs_within_sla: z.number().int(),
    jobs_overdue: z.number().int(),
    jobs_breached: z.number().int(),
    breach_details: z.array(
      z.object({
        job_uuid: z.string(),
        job_ref: z.string().openapi({ example: "JOB-001" }),
        sla_deadline: z.string().openapi({ example: "2024-06-01T17:00:00Z" }),
        hours_overdue: z.number().int().openapi({ description: "Whole hours past the deadline, rounded down" }),
      }),
    ),
    breach_details_truncated: z.boolean().openapi({
      description: "true when `jobs_breached` counts more breaches than `breach_details` lists from `offset` on: page on with `offset`",
    }),
  })
  .openapi("SlaStatus");

export const getSlaStatus = operation({
  method: "get",
  path: "/api/jobs/sla-status",
  operationId: "getSlaStatus",
  summary: "SLA compliance counts and the breached jobs",
  description:
    "Counts the open jobs (not completed, closed, cancelled or archived) that have an SLA deadline: *breached* when now is past the " +
    "deadline (a deadline equal to now is not yet breached), *overdue* when not breached but `date_works_end_date` is before today " +
    "(UTC), otherwise *within*. Jobs whose priority has no SLA hours are in none of the counts. `breach_details` lists the breached " +
    "jobs, most overdue first, up to `limit` (default 50, max 200) from `offset` (default 0); `breach_details_truncated` is true when " +
    "`jobs_breached` counts more than the list shows from `offset` on. `hours_overdue` is whole hours, rounded down. Filters combine; " +
    "an unknown `agent_id`, `contractor_id` or `priority_id` is a 400. Contractors see only their own jobs.",
  tag: "SLA Status",
  permission: slaStatus.admission.permission,
  query: slaStatusQuery,
  responses: { 200: jsonResponse("SLA counts and breach details", dataEnvelope(SlaStatus)) },
  handler: async (c, { query }) => ok(c, await slaStatus(c.var.ctx, query)),
  docs: {
    query: { limit: 50 },
    responses: {
      200: {
        status: ex("SLA compliance", {
          success: true,
          data: {
            jobs_within_sla: 108,
            jobs_overdue: 12,
            jobs_breached: 4,
            breach_details: [{ job_uuid: JOB_UUID, job_ref: "JOB-001", sla_deadline: "2024-06-01T17:00:00Z", hours_overdue: 26 }],
            breach_details_truncated: true,
          },
          message: OK,
        }),
      },
    },
    notFound: false,
  },
});
