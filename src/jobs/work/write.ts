import { z } from "@hono/zod-openapi";
import { CONTROL_CHARS_MESSAGE, noControlChars, zText, zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID } from "../../http/openapi-samples";
import { NextStatus } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { acceptJob, completeJob, declineJob, sendBackJob, signOffJob, startJob } from "./service";

const reason = zText(2_000).refine(noControlChars, CONTROL_CHARS_MESSAGE);
const jobUuid = zUuid();

export const WORK_ACTIONS = ["accept", "decline", "start", "complete", "sign_off", "send_back"] as const;

const workBody = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("accept"), job_uuid: jobUuid }),
  z.strictObject({ action: z.literal("decline"), job_uuid: jobUuid, reason }),
  z.strictObject({ action: z.literal("start"), job_uuid: jobUuid }),
  z.strictObject({
    action: z.literal("complete"),
    job_uuid: jobUuid,
    // Required or not by the job type (src/domain/lifecycle.ts COMPLETION_EVIDENCE): the lifecycle says which.
    completion_note: zText(5_000).refine(noControlChars, CONTROL_CHARS_MESSAGE).optional(),
  }),
  z.strictObject({ action: z.literal("sign_off"), job_uuid: jobUuid }),
  z.strictObject({ action: z.literal("send_back"), job_uuid: jobUuid, reason }),
]);

const WorkAnswer = z.object({
  success: z.literal(true),
  job_uuid: z.string(),
  job_ref: z.string(),
  status_id: z.number().int(),
  status_name: z.string(),
  next_statuses: z.array(NextStatus),
  message: z.string(),
});

const MESSAGES = {
  accept: "Job accepted",
  decline: "Job declined: it is no longer assigned to you",
  start: "Work started",
  complete: "Job completed",
  sign_off: "Job signed off and closed",
  send_back: "Job sent back to the contractor",
} as const;

export const postWork = operation({
  method: "post",
  path: "/api/jobs/work",
  operationId: "reportWork",
  summary: "The work on a job: accept, decline, start, complete, sign_off, send_back",
  description:
    "The assigned contractor accepts or declines the job (`decline` needs a `reason` and unassigns it) while the work has " +
    "not started, then starts it (Approved → In Progress, after accepting) and completes it (In Progress → Completed) with " +
    'the evidence its job type requires: "after" photos already uploaded (POST /api/jobs/photos photo_type=after) and a ' +
    "`completion_note`, stored as a case note. The office (staff, managers, admins) may also start and complete, and " +
    "alone signs the work off (Completed → Closed) or sends it back (Completed → In Progress, `reason` required, the SLA " +
    "clock restarts). A move the lifecycle does not allow answers 409 `TRANSITION_NOT_ALLOWED`, missing evidence 409 " +
    "`TRANSITION_REQUIRES_EVIDENCE`, both with `current_status` and the `next_statuses` open to the caller; accept/decline " +
    "by anyone but the assigned contractor 403. Every step writes its audit event (`job.accepted`, `job.declined`, " +
    "`job.started`, `job.completed`, `job.signed_off`, `job.sent_back`).",
  tag: "Work",
  permission: acceptJob.admission.permission,
  body: workBody,
  actions: WORK_ACTIONS,
  responses: { 200: jsonResponse("The job after the step, and where this caller may take it next", WorkAnswer) },
  handler: async (c, { body }) => {
    const scope = c.var.ctx;
    switch (body.action) {
      case "accept":
        return done(c, MESSAGES.accept, { ...(await acceptJob(scope, body)) });
      case "decline":
        return done(c, MESSAGES.decline, { ...(await declineJob(scope, body)) });
      case "start":
        return done(c, MESSAGES.start, { ...(await startJob(scope, body)) });
      case "complete":
        return done(c, MESSAGES.complete, { ...(await completeJob(scope, { ...body, completion_note: body.completion_note ?? null })) });
      case "sign_off":
        return done(c, MESSAGES.sign_off, { ...(await signOffJob(scope, body)) });
      case "send_back":
        return done(c, MESSAGES.send_back, { ...(await sendBackJob(scope, body)) });
    }
  },
  docs: {
    body: {
      accept: ex("The assigned contractor accepts the job", { action: "accept", job_uuid: JOB_UUID }),
      decline: ex("The assigned contractor declines, with a reason", {
        action: "decline",
        job_uuid: JOB_UUID,
        reason: "No gas-safe engineer free this week",
      }),
      start: ex("Work starts (Approved → In Progress)", { action: "start", job_uuid: JOB_UUID }),
      complete: ex("Completed with its evidence (an after photo is already uploaded)", {
        action: "complete",
        job_uuid: JOB_UUID,
        completion_note: "Boiler serviced; flue gas analysis within limits.",
      }),
      sign_off: ex("The office signs the work off (Completed → Closed)", { action: "sign_off", job_uuid: JOB_UUID }),
      send_back: ex("The office sends it back, with a reason", {
        action: "send_back",
        job_uuid: JOB_UUID,
        reason: "Radiator in bedroom 2 still cold",
      }),
    },
    responses: {
      200: {
        completed: ex("Completed: nothing more is open to the contractor", {
          success: true,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          status_id: 6,
          status_name: "Completed",
          next_statuses: [],
          message: "Job completed",
        }),
        accepted: ex("Accepted: starting is open next", {
          success: true,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          status_id: 3,
          status_name: "Approved",
          next_statuses: [
            {
              status_id: 4,
              status_name: "In Progress",
              via: "start",
              operation: "POST /api/jobs/work action=start",
              requires: ["acceptance"],
            },
          ],
          message: "Job accepted",
        }),
      },
    },
    conflict: true,
  },
});
