import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { users } from "../../db/schema";
import { visibleJob } from "../../domain/job-access";
import { zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { log } from "../../http/log";
import { jsonResponse, operation } from "../../http/operation";
import { forgetCachedPins } from "../../pins/pins-cache";
import { userPins } from "../../pins/user-pins";

export const postTogglePin = operation({
  method: "post",
  path: "/api/jobs/toggle-pin",
  operationId: "toggleJobPin",
  summary: "Pin or unpin a job on the caller's dashboard",
  description:
    "Flips the caller's pin on the job (each user has their own pin list, kept in a `UserPins` Durable Object). " +
    "Unknown jobs, and jobs the caller may not see, answer 404. Pinning is not a change to the job, so archived jobs " +
    "may be pinned and unpinned. Pins of jobs that were deleted are dropped the next time the caller lists `pinned=true`.",
  tag: "Workflow",
  permission: "api.jobs.toggle_pin.manage",
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
  admitInFirstRead: true,
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const job = await visibleJob(ctx, body.job_uuid);
    const caller = ctx.caller;
    const { pinned, version } = await userPins(ctx.env, caller.userUuid).toggleVersioned(job.uuid);
    forgetCachedPins(caller.userUuid);
    // After the Durable Object changed (never before: a reader could then store the old pins under
    // the new version). If this write fails, other isolates' copies are one toggle behind for at
    // most their TTL (src/pins/pins-cache.ts); the pin itself is set, so the answer stands.
    try {
      await ctx.db
        .update(users)
        .set({ pinsVersion: sql`max(${users.pinsVersion}, ${version})` })
        .where(eq(users.id, caller.userId));
    } catch (err) {
      log("error", "pins_version_not_copied", { request_id: ctx.requestId, message: err instanceof Error ? err.message : String(err) });
    }
    return done(c, pinned ? "Job pinned to your dashboard" : "Job unpinned from your dashboard", { is_pinned: pinned });
  },
});
