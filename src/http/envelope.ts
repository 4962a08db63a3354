import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode } from "../domain/errors";

export const OK_MESSAGE = "Operation completed successfully";

/** `{success, data, count?, message}`: the reference's envelope for reads. */
export function ok<T>(c: Context, data: T, extra: { count?: number; message?: string } = {}) {
  const body: Record<string, unknown> = { success: true, data };
  if (extra.count !== undefined) body.count = extra.count;
  body.message = extra.message ?? OK_MESSAGE;
  return c.json(body);
}

/** `{success, ...fields, message}`: the reference's envelope for writes (fields at the top level). */
export function done(c: Context, message: string, fields: Record<string, unknown> = {}, status: ContentfulStatusCode = 200) {
  return c.json({ success: true, ...fields, message }, status);
}

/** `{success: false, message, code, errors, request_id}`: the one error envelope (app.ts onError, the MCP tools). */
export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  errors: unknown[] = [],
  details: Record<string, unknown> = {},
) {
  return { success: false, message, code, errors, ...details, request_id: requestId };
}
