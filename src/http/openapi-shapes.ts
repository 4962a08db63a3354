import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";

/** A status a job may move to next, with the operation that takes it there (src/domain/lifecycle.ts). */
export const NextStatus = z
  .object({
    status_id: z.number().int(),
    status_name: z.string(),
    via: z.string().openapi({ description: "The channel: update, approval_gate, recall, start, complete, sign_off, …" }),
    operation: z.string().openapi({ example: "POST /api/jobs/work action=complete" }),
    requires: z.array(z.enum(["reason", "acceptance", "after_photos", "completion_note"])),
  })
  .openapi("NextStatus");

export const ErrorBody = z
  .object({
    success: z.literal(false),
    message: z.string(),
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]).openapi({ example: "BAD_REQUEST" }),
    errors: z.array(z.object({ field: z.string(), message: z.string() })),
    current_status: z.object({ status_id: z.number().int(), status_name: z.string() }).nullable().optional().openapi({
      description: "Lifecycle refusals (TRANSITION_NOT_ALLOWED, TRANSITION_REQUIRES_EVIDENCE, APPROVAL_REQUIRED): the job's status",
    }),
    next_statuses: z
      .array(NextStatus)
      .optional()
      .openapi({ description: "Lifecycle refusals: the statuses this caller may move the job to, and how" }),
    request_id: z.string(),
  })
  .openapi("Error");

const err = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });

/** Named error responses spread into every route of the OpenAPI document. */
export const errorResponses = {
  400: err("Invalid input"),
  401: err("Missing, unknown, revoked or expired bearer token"),
  403: err("Missing permission, missing or invalid CSRF token, or an archived job"),
  404: err("Unknown record, or one the caller may not see"),
  409: err("State conflict"),
  412: err("If-Match names a version of the job that is no longer current"),
  413: err("Body or file larger than the limit"),
  415: err("A file whose bytes are not an accepted format"),
  422: err("The Idempotency-Key was already used for a different request"),
  429: err("Rate limited"),
  500: err("Internal error (quote the request id)"),
  503: err("A dependency is unavailable; retry later"),
} as const;

export const MessageOnly = z.object({ success: z.literal(true), message: z.string() });

export const listEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({ success: z.literal(true), data: z.array(item), count: z.number().int(), message: z.string() });
export const dataEnvelope = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), data, message: z.string() });
