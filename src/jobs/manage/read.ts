import { z } from "@hono/zod-openapi";
import { OK_MESSAGE, ok } from "../../http/envelope";
import { ex, JOB_LIST_ITEM, OK } from "../../http/openapi-samples";
import { dataEnvelope, listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { setJobEtag } from "./etag";
import { COUNT_WINDOW } from "./list-query";
import { getJob, listJobs } from "./read-service";
import { manageQuery } from "./schemas";
import { JobDetail, JobListItem } from "./view";

export const getManage = operation({
  method: "get",
  path: "/api/jobs/manage",
  operationId: "listOrGetJobs",
  summary: "List jobs (action=list) or read one job (action=get&uuid=…)",
  description:
    "`action=list` returns a page of jobs matching every filter given, newest first. `count` is the number matched, counted up to " +
    `\`offset + ${COUNT_WINDOW}\`: past that it stops (\`count_capped: true\`, \`count\` a lower bound), so a list never reads every matching job. ` +
    "`action=get` returns one job with its decrypted private fields, which need `api.jobs.manage.manage` as well (a token " +
    "narrowed to `api.jobs.manage.list` gets them as null, as the list never shows them); contractors get the access details " +
    "but not the private contact.",
  tag: "Jobs",
  permission: "api.jobs.manage.list",
  query: manageQuery,
  actions: ["list", "get"],
  responses: {
    200: jsonResponse(
      "A page of jobs, or one job",
      z.union([
        listEnvelope(JobListItem).extend({
          count_capped: z.boolean().openapi({
            description: `true when more jobs match than were counted: \`count\` is then \`offset + ${COUNT_WINDOW}\`, a lower bound`,
          }),
        }),
        dataEnvelope(JobDetail),
      ]),
    ),
  },
  handler: async (c, { query }) => {
    if (query.action === "list") {
      const { action: _a, ...filters } = query;
      return c.json({ success: true as const, ...(await listJobs(c.var.ctx, filters)), message: OK_MESSAGE });
    }
    const { job, version } = await getJob(c.var.ctx, { uuid: query.uuid });
    setJobEtag(c, version);
    return ok(c, job);
  },
  docs: {
    query: { action: "list", status_id: 1, limit: 10 },
    responses: {
      200: {
        list: ex("A page of jobs (action=list)", { success: true, data: [JOB_LIST_ITEM], count: 42, count_capped: false, message: OK }),
      },
    },
    etag: true,
  },
});
