import { z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { jobStatuses, jobs, remedialLinks } from "../../db/schema";
import { aliased } from "../../db/select";
import { notFound } from "../../domain/errors";
import { zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";

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
  tag: "Workflow",
  permission: "api.jobs.remedials.manage",
  query: z.strictObject({ action: z.literal("list"), job_uuid: zUuid() }),
  actions: ["list"],
  responses: { 200: jsonResponse("The remedial jobs", listEnvelope(RemedialItem)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const visible = await ctx.jobVisible();
    const [parents, rows] = await ctx.read([
      ctx.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.uuid, query.job_uuid), visible)),
      ctx.db
        .select(
          aliased({
            id: jobs.id,
            uuid: jobs.uuid,
            jobRef: jobs.jobRef,
            jobTitle: jobs.jobTitle,
            statusName: jobStatuses.name,
            createdAt: jobs.createdAt,
          }),
        )
        .from(remedialLinks)
        .innerJoin(jobs, eq(jobs.id, remedialLinks.remedialJobId))
        .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
        .where(and(eq(remedialLinks.parentJobId, sql`(SELECT id FROM ${jobs} WHERE ${jobs.uuid} = ${query.job_uuid})`), visible))
        .orderBy(asc(remedialLinks.id)),
    ]);
    if (parents.length === 0) throw notFound("Job");
    const data = rows.map((r) => ({
      ID: r.id,
      uuid: r.uuid,
      job_ref: r.jobRef,
      job_title: r.jobTitle,
      status_name: r.statusName,
      created_on: r.createdAt,
    }));
    return ok(c, data, { count: data.length });
  },
});
