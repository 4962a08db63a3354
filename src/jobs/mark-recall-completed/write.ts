import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { completeRecall } from "./service";

export const postMarkRecallCompleted = operation({
  method: "post",
  path: "/api/jobs/mark-recall-completed",
  operationId: "markRecallCompleted",
  summary: "Complete a recalled job, closing its recall cycle",
  description:
    "The same as POST /api/jobs/recall with `is_recall=0&action_type=standard`: the job is completed again, " +
    "`completed_at` = now, the recall record gets outcome `completed`. A job not in recall answers 409 " +
    '"This job is not marked as a recall"; archived jobs 403.',
  tag: "Mark Recall Completed",
  permission: completeRecall.admission.permission,
  body: z.strictObject({ job_uuid: zUuid() }),
  responses: {
    200: jsonResponse(
      "Recall completed",
      z.object({
        success: z.literal(true),
        message: z.string().openapi({ example: "Recall marked as completed successfully" }),
        data: z.object({ job_id: z.number().int(), job_title: z.string() }),
      }),
    ),
  },
  handler: async (c, { body }) => {
    return done(c, "Recall marked as completed successfully", { data: await completeRecall(c.var.ctx, body) });
  },
  docs: {
    body: { complete: ex("Complete a recalled job", { job_uuid: JOB_UUID }) },
    responses: {
      200: {
        completed: ex("Recall completed", {
          success: true,
          message: "Recall marked as completed successfully",
          data: { job_id: 1001, job_title: "Boiler Service - Unit 001" },
        }),
      },
    },
    conflict: true,
  },
});
