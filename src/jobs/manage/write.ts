import { z } from "@hono/zod-openapi";
import { done } from "../../http/envelope";
import { ex, JOB_CREATE, JOB_UUID } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { IF_MATCH_DESCRIPTION, jsonResponse, operation } from "../../http/operation";
import { setJobEtag } from "./etag";
import { manageBody } from "./schemas";
import { createJob, deleteJob, JOB_WRITE, updateJob } from "./service";

export const postManage = operation({
  method: "post",
  path: "/api/jobs/manage",
  operationId: "createUpdateDeleteJob",
  summary: "Create (action=create), update (action=update) or delete (action=delete) a job",
  description:
    "create answers 201 with `job_id`, `job_uuid`, `job_ref`. update changes only the fields sent; archived jobs answer 403. " +
    "delete removes the job with its notes, photos, documents and their stored files. Contractors propose changes through amendment requests instead.",
  tag: "Jobs",
  permission: JOB_WRITE.permission,
  policy: JOB_WRITE.policy,
  headers: { "If-Match": IF_MATCH_DESCRIPTION },
  body: manageBody,
  actions: ["create", "update", "delete"],
  responses: {
    201: jsonResponse(
      "Job created",
      z.object({ success: z.literal(true), job_id: z.number().int(), job_uuid: z.string(), job_ref: z.string(), message: z.string() }),
    ),
    200: jsonResponse(
      "Job updated or deleted",
      MessageOnly.extend({ job_uuid: z.string().optional(), changed_fields: z.array(z.string()).optional() }),
    ),
  },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const ifMatch = c.req.header("if-match");
    switch (body.action) {
      case "create": {
        const { action: _a, ...fields } = body;
        const job = await createJob(ctx, fields);
        return done(c, "Job created successfully", { job_id: job.id, job_uuid: job.uuid, job_ref: job.ref }, 201);
      }
      case "update": {
        const { action: _a, ...fields } = body;
        const { changed, version } = await updateJob(ctx, { ...fields, ifMatch });
        setJobEtag(c, version);
        const message = changed.length === 0 ? "No changes: the job already has these values" : "Job updated successfully";
        return done(c, message, { job_uuid: body.uuid, changed_fields: changed });
      }
      case "delete":
        await deleteJob(ctx, { uuid: body.uuid, ifMatch });
        return done(c, "Job deleted successfully", { job_uuid: body.uuid });
    }
  },
  docs: {
    ifMatch: true,
    body: {
      create: ex("Create a job", JOB_CREATE),
      update: ex("Update a job (only the fields sent change)", { action: "update", uuid: JOB_UUID, contractor_budget: 200.0 }),
      delete: ex("Delete a job", { action: "delete", uuid: JOB_UUID }),
    },
    responses: {
      201: {
        created: ex("Job created", {
          success: true,
          job_id: 1001,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          message: "Job created successfully",
        }),
      },
      200: {
        updated: ex("Job updated", {
          success: true,
          message: "Job updated successfully",
          job_uuid: JOB_UUID,
          changed_fields: ["contractor_budget"],
        }),
      },
    },
    conflict: true,
  },
});
