import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { done } from "../../http/envelope";
import { ex, JOB_UUID, REMEDIAL_UUID } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { linkRemedial, unlinkRemedial } from "./service";

const remedialsBody = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("link"), job_uuid: zUuid(), remedials_job_uuid: zUuid() }),
  z.strictObject({ action: z.literal("unlink"), job_uuid: zUuid() }),
]);

export const postRemedials = operation({
  method: "post",
  path: "/api/jobs/remedials",
  operationId: "linkOrUnlinkRemedial",
  summary: "Link a job as a remedial of another (action=link), or unlink it from its parent (action=unlink)",
  description:
    "link: `job_uuid` is the parent, `remedials_job_uuid` the remedial. Unknown jobs 404; a job linked to itself 400; " +
    "a remedial that already has a parent, or a link that would make a cycle, 409; archived jobs 403. " +
    "unlink: `job_uuid` is the remedial; a job with no remedial parent answers 404. Both write an audit event on both jobs.",
  tag: "Remedials",
  permission: linkRemedial.admission.permission,
  body: remedialsBody,
  actions: ["link", "unlink"],
  responses: { 200: jsonResponse("Linked or unlinked", MessageOnly) },
  handler: async (c, { body }) => {
    if (body.action === "link") {
      await linkRemedial(c.var.ctx, body);
      return done(c, "Remedial job linked");
    }
    await unlinkRemedial(c.var.ctx, body);
    return done(c, "Remedial job unlinked");
  },
  docs: {
    body: {
      link: ex("Link a remedial job", { action: "link", job_uuid: JOB_UUID, remedials_job_uuid: REMEDIAL_UUID }),
      unlink: ex("Unlink a job from its remedial parent", { action: "unlink", job_uuid: REMEDIAL_UUID }),
    },
    responses: { 200: { linked: ex("Linked", { success: true, message: "Remedial job linked" }) } },
    conflict: true,
  },
});
