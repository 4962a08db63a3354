import { z } from "@hono/zod-openapi";
import { zBool, zNullableText, zText, zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { AMEND_UUID, ex, JOB_UUID } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { decideAmendment, requestAmendment } from "./service";

export const postAmendRequest = operation({
  method: "post",
  path: "/api/jobs/amend-request",
  operationId: "submitAmendmentRequest",
  summary: "Propose a change to one job field",
  description:
    "`field_name` must be one GET /api/jobs/amendable-fields lists for the caller's role (else 400), and `requested_value` " +
    "valid for that field's type (else 400; \"\" asks to clear an optional field). Answers 201 with the request's `uuid`. " +
    "A new request on a field that already has a pending request **supersedes** it: the older one gets status `superseded` " +
    "(with a note naming the new one), so each field has at most one pending request and a decision always applies the latest " +
    "proposal. Archived jobs answer 403; jobs the caller may not see 404.",
  tag: "Amendments",
  permission: requestAmendment.admission.permission,
  body: z.strictObject({
    job_uuid: zUuid(),
    field_name: z.string({ error: "must be text" }).trim().min(1, "must not be empty").max(100, "is too long"),
    requested_value: z
      .union([z.string(), z.number()], { error: "must be text or a number" })
      .transform(String)
      .pipe(z.string().max(10_000, "must be at most 10000 characters")),
    reason: zText(2_000),
  }),
  responses: { 201: jsonResponse("Request submitted", MessageOnly.extend({ uuid: z.string() })) },
  handler: async (c, { body }) => {
    return done(c, "Amendment request submitted", await requestAmendment(c.var.ctx, body), 201);
  },
  docs: {
    body: {
      submit: ex("Propose a new contractor budget", {
        job_uuid: JOB_UUID,
        field_name: "contractor_budget",
        requested_value: "220.00",
        reason: "Additional materials required.",
      }),
    },
    responses: { 201: { submitted: ex("Request recorded", { success: true, message: "Amendment request submitted", uuid: AMEND_UUID }) } },
    conflict: true,
  },
});

export const patchAmendRequest = operation({
  method: "patch",
  path: "/api/jobs/amend-request",
  operationId: "decideAmendmentRequest",
  summary: "Approve or reject a pending amendment request",
  description:
    "Management only (manager or admin; others 403). Approval applies the requested value to the job in the same transaction " +
    "as the decision. A request that is no longer pending answers 409 (of two concurrent decisions exactly one wins). " +
    "`decision_notes` is optional. Approving a contractor_budget, vat_percentage or job_total_budget change that takes the " +
    "contractor's total with VAT over job_total_budget answers 409 `BUDGET_EXCEEDED` and changes nothing, unless " +
    "`accept_budget_overrun=1` accepts the overrun (recorded in the job's audit event as `budget_overrun_accepted`).",
  tag: "Amendments",
  permission: decideAmendment.admission.permission,
  policy: decideAmendment.admission.policy,
  body: z.strictObject({
    uuid: zUuid(),
    status: z.enum(["approved", "rejected"], { error: "must be approved or rejected" }),
    decision_notes: zNullableText(2_000).optional(),
    accept_budget_overrun: zBool()
      .optional()
      .openapi({
        type: "string",
        enum: ["true", "false", "1", "0"],
        description: "1 or true: approve even if the contractor's total with VAT then exceeds job_total_budget",
      }),
  }),
  responses: { 200: jsonResponse("Request decided", MessageOnly) },
  handler: async (c, { body }) => {
    const { status } = await decideAmendment(c.var.ctx, body);
    return done(c, status === "approved" ? "Amendment request approved" : "Amendment request rejected");
  },
  docs: {
    body: { approve: ex("Approve a pending request", { uuid: AMEND_UUID, status: "approved" }) },
    responses: { 200: { approved: ex("Request approved", { success: true, message: "Amendment request approved" }) } },
    conflict: true,
  },
});
