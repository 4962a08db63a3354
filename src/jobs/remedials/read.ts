import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, REMEDIAL_UUID, reference } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { listRemedials } from "./service";

const RemedialItem = z
  .object({
    ID: z.number().int(),
    uuid: z.string(),
    job_ref: z.string(),
    job_title: z.string(),
    status_name: z.string(),
    created_on: z.string(),
  })
  .openapi("RemedialJob");

export const getRemedials = operation({
  method: "get",
  path: "/api/jobs/remedials",
  operationId: "listRemedials",
  summary: "The jobs linked as remedials of a job (action=list)",
  description: "Oldest link first. Unknown parent jobs (or ones the caller may not see) answer 404.",
  tag: "Remedials",
  permission: listRemedials.admission.permission,
  query: z.strictObject({ action: z.literal("list"), job_uuid: zUuid() }),
  actions: ["list"],
  responses: { 200: jsonResponse("The remedial jobs", listEnvelope(RemedialItem)) },
  handler: async (c, { query }) => {
    const data = await listRemedials(c.var.ctx, query);
    return ok(c, data, { count: data.length });
  },
  docs: {
    query: { action: "list", job_uuid: JOB_UUID },
    responses: {
      200: {
        list: ex(
          "Remedials of a job",
          reference({
            ID: 1055,
            uuid: REMEDIAL_UUID,
            job_ref: "JOB-1055",
            job_title: "Boiler follow-up — parts replacement",
            status_name: "Open",
            created_on: "2024-06-15T09:00:00Z",
          }),
        ),
      },
    },
  },
});
