import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { togglePin } from "./service";

export const postTogglePin = operation({
  method: "post",
  path: "/api/jobs/toggle-pin",
  operationId: "toggleJobPin",
  summary: "Pin or unpin a job on the caller's dashboard",
  description:
    "Flips the caller's pin on the job (each user has their own pin list, kept in a `UserPins` Durable Object). " +
    "Unknown jobs, and jobs the caller may not see, answer 404. Pinning is not a change to the job, so archived jobs " +
    "may be pinned and unpinned. Pins of jobs that were deleted are dropped the next time the caller lists `pinned=true`.",
  tag: "Pin / Unpin",
  permission: togglePin.admission.permission,
  body: z.strictObject({ job_uuid: zUuid() }),
  responses: {
    200: jsonResponse(
      "The new pin state",
      z.object({
        success: z.literal(true),
        is_pinned: z.boolean(),
        message: z.string().openapi({ example: "Job pinned to your dashboard" }),
      }),
    ),
  },
  handler: async (c, { body }) => {
    const { is_pinned } = await togglePin(c.var.ctx, body);
    return done(c, is_pinned ? "Job pinned to your dashboard" : "Job unpinned from your dashboard", { is_pinned });
  },
  docs: {
    body: { toggle: ex("Toggle job pin", { job_uuid: JOB_UUID }) },
    responses: {
      200: {
        pinned: ex("Now pinned", { success: true, is_pinned: true, message: "Job pinned to your dashboard" }),
        unpinned: ex("Was pinned: now unpinned", { success: true, is_pinned: false, message: "Job unpinned from your dashboard" }),
      },
    },
  },
});
