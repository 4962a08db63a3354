import { z } from "@hono/zod-openapi";
import { zInt, zText, zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { closeRecall, raiseRecall } from "./service";

export const recallBody = z
  .strictObject({
    job_uuid: zUuid(),
    recall_reason: zText(2_000).optional(),
    is_recall: zInt()
      .pipe(z.union([z.literal(0), z.literal(1)], { error: "must be 1 (recall) or 0 (complete/clear a recall)" }))
      .default(1),
    action_type: z.enum(["standard", "cancel"], { error: "must be standard or cancel" }).default("standard"),
  })
  .superRefine((v, ctx) => {
    if (v.is_recall === 1 && v.recall_reason === undefined) {
      ctx.addIssue({ code: "custom", path: ["recall_reason"], message: "is required when is_recall is 1" });
    }
  });

const RecallAnswer = z.object({
  success: z.literal(true),
  message: z.string().openapi({ example: "Job marked as recalled successfully" }),
  job_id: z.number().int(),
  job_ref: z.string(),
  is_recall: z.number().int().openapi({ description: "1 once recalled, 0 once the recall is completed or cancelled" }),
  action: z.enum(["marked as recalled", "recall completed", "recall cancelled"]),
});

export const postRecall = operation({
  method: "post",
  path: "/api/jobs/recall",
  operationId: "recallJob",
  summary: "Recall a completed job (is_recall=1), or complete / cancel its recall (is_recall=0)",
  description:
    "`is_recall=1` (default) reopens a **completed** job: status → Recalled, the SLA clock restarts, and a recall record " +
    "(reason, who, when) is kept; `recall_reason` is required. Any other status answers 409. " +
    "`is_recall=0` closes the open recall: `action_type=standard` completes the job again (completion time now); " +
    "`action_type=cancel` returns it to the status it had before the recall, with its original completion time. " +
    "`recall_reason` is optional then and is kept in the audit trail as a note. A job not in recall answers 409 " +
    '"This job is not marked as a recall". Archived jobs answer 403.',
  tag: "Recalls",
  permission: raiseRecall.admission.permission,
  body: recallBody,
  responses: { 200: jsonResponse("Recall opened or closed", RecallAnswer) },
  handler: async (c, { body }) => {
    if (body.is_recall === 1) {
      const job = await raiseRecall(c.var.ctx, { job_uuid: body.job_uuid, reason: body.recall_reason ?? "" });
      return done(c, "Job marked as recalled successfully", {
        job_id: job.id,
        job_ref: job.jobRef,
        is_recall: 1,
        action: "marked as recalled",
      });
    }
    const outcome = body.action_type === "cancel" ? "cancelled" : "completed";
    const job = await closeRecall(c.var.ctx, { job_uuid: body.job_uuid, outcome, note: body.recall_reason });
    return done(c, outcome === "completed" ? "Recall completed successfully" : "Recall cancelled successfully", {
      job_id: job.id,
      job_ref: job.jobRef,
      is_recall: 0,
      action: outcome === "completed" ? "recall completed" : "recall cancelled",
    });
  },
  docs: {
    body: { recall: ex("Create a recall", { job_uuid: JOB_UUID, recall_reason: "Repair was unsuccessful" }) },
    responses: {
      200: {
        recalled: ex("Job recalled", {
          success: true,
          message: "Job marked as recalled successfully",
          job_id: 1001,
          job_ref: "JOB-001",
          is_recall: 1,
          action: "marked as recalled",
        }),
      },
    },
    conflict: true,
  },
});
