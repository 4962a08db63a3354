import { z } from "@hono/zod-openapi";
import { CSRF_TTL_SECONDS, mintCsrfToken } from "../auth/csrf";
import { done } from "../http/envelope";
import { jsonResponse, operation } from "../http/operation";

export const getCsrfToken = operation({
  method: "get",
  path: "/api/security/csrf-token",
  operationId: "getCsrfToken",
  summary: "A CSRF token for mutating requests",
  description: `Send it as the \`csrf_token\` field or the \`X-CSRF-Token\` header on POST, PUT, PATCH and DELETE. It is bound to the API token that fetched it and lasts ${CSRF_TTL_SECONDS / 3600} hours; any valid API token may fetch one.`,
  tag: "Security",
  permission: null,
  responses: {
    200: jsonResponse(
      "A CSRF token",
      z.object({ success: z.literal(true), csrf_token: z.string(), expires_at: z.string(), message: z.string() }),
    ),
  },
  handler: async (c) => {
    const principal = await c.var.ctx.principal();
    const { token, expiresAt } = await mintCsrfToken(c.env.SIGNING_SECRET, principal.tokenId);
    return done(c, "CSRF token issued", { csrf_token: token, expires_at: expiresAt });
  },
});
