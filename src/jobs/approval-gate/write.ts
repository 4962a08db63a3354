import { z } from "@hono/zod-openapi";
import { zNullableText, zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { decideApprovalGate } from "./service";

const gateDecisionBody = z.strictObject({
  job_uuid: zUuid(),
  decision: z.enum(["approve", "reject"], { error: "must be approve or reject" }),
  notes: zNullableText(2_000).optional(),
});

export const postApprovalGate = operation({
  method: "post",
  path: "/api/jobs/approval-gate",
  operationId: "decideApprovalGate",
  summary: "Approve or reject a job at an approval gate",
  description:
    "Only for a job whose status requires approval, and only by management (manager or admin; others 403). " +
    "approve moves the job to the status the workflow names (`approve_to_status_id`, else the next by sort order); " +
    "reject to `reject_to_status_id` (else the previous). The decision and its notes are recorded with the audit event. " +
    "A job not at a gate answers 409; archived jobs 403.",
  tag: "Approval Gate",
  permission: decideApprovalGate.admission.permission,
  policy: decideApprovalGate.admission.policy,
  body: gateDecisionBody,
  responses: { 200: jsonResponse("Decision recorded", MessageOnly) },
  handler: async (c, { body }) => {
    const { to } = await decideApprovalGate(c.var.ctx, body);
    return done(c, body.decision === "approve" ? "Job approved and progressed to next status" : `Job rejected and returned to ${to.name}`);
  },
  docs: {
    body: { approve: ex("Approve a gate", { job_uuid: JOB_UUID, decision: "approve", notes: "Checked on site — proceed." }) },
    responses: { 200: { approved: ex("Job progressed", { success: true, message: "Job approved and progressed to next status" }) } },
    conflict: true,
  },
});
