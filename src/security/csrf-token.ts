import { z } from "@hono/zod-openapi";
import { CSRF_TTL_SECONDS } from "../auth/csrf";
import { done } from "../http/envelope";
import { ex, OK } from "../http/openapi-samples";
import { jsonResponse, operation } from "../http/operation";
import { issueCsrfToken } from "./csrf";

export const getCsrfToken = operation({
  method: "get",
  path: "/api/security/csrf-token",
  operationId: "getCsrfToken",
  summary: "A CSRF token for mutating requests",
  description: `Send it as the \`csrf_token\` field or the \`X-CSRF-Token\` header on POST, PUT, PATCH and DELETE. It is bound to the API token that fetched it and lasts ${CSRF_TTL_SECONDS / 3600} hours; any valid API token may fetch one.`,
  tag: "Security",
  permission: issueCsrfToken.admission.permission,
  responses: {
    200: jsonResponse(
      "A CSRF token",
      z.object({ success: z.literal(true), csrf_token: z.string(), expires_at: z.string(), message: z.string() }),
    ),
  },
  handler: async (c) => done(c, "CSRF token issued", await issueCsrfToken(c.var.ctx, undefined)),
  docs: {
    responses: {
      200: {
        token: ex("A CSRF token bound to the caller's API token", {
          success: true,
          csrf_token: "1733011200.b64url-signature",
          expires_at: "2024-12-01T00:00:00Z",
          message: OK,
        }),
      },
    },
    notFound: false,
  },
});
