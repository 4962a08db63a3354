import { z } from "@hono/zod-openapi";
import { done } from "../../http/envelope";
import { API_TOKEN, ex } from "../../http/openapi-samples";
import { jsonResponse, operation } from "../../http/operation";
import { DEFAULT_TOKEN_DAYS, MAX_ACTIVE_TOKENS, TokenInfo, tokensBody } from "./schemas";
import { createToken, revokeToken } from "./service";

const Created = z.object({
  success: z.literal(true),
  token: z.string().openapi({ description: "The new bearer token: shown only in this answer, stored only as a hash" }),
  token_info: TokenInfo,
  message: z.string(),
});
const Revoked = z.object({ success: z.literal(true), token_info: TokenInfo, message: z.string() });

export const postTokens = operation({
  method: "post",
  path: "/api/security/tokens",
  operationId: "manageApiTokens",
  summary: "Create a named, narrowed, expiring API token, or revoke one (action=create|revoke)",
  description:
    "`create` answers with the new token once. Its `permissions` must be ones the calling token holds (a token never mints a wider one), " +
    `and it expires after \`expires_days\` (default ${DEFAULT_TOKEN_DAYS}), never later than the calling token. A user holds at most ${MAX_ACTIVE_TOKENS} active tokens. ` +
    "`revoke` ends one of your tokens at once (administrators: anyone's); revoking a revoked token answers its first revocation.",
  tag: "Security",
  permission: createToken.admission.permission,
  body: tokensBody,
  actions: ["create", "revoke"],
  responses: {
    200: jsonResponse("Revoked", Revoked),
    201: jsonResponse("Created (the token is shown once)", Created),
  },
  handler: async (c, { body }) =>
    body.action === "create"
      ? done(c, "Token created: copy it now, it is not shown again", await createToken(c.var.ctx, body), 201)
      : done(c, "Token revoked", await revokeToken(c.var.ctx, body)),
  docs: {
    conflict: true,
    body: {
      create: ex("A read-only token for a wall board, for 30 days", {
        action: "create",
        name: "Ops board (read only)",
        permissions: ["api.jobs.manage.list"],
        expires_days: 30,
      }),
      revoke: ex("Revoke a token", { action: "revoke", uuid: API_TOKEN.uuid }),
    },
    responses: {
      201: {
        created: ex("Created: the token is shown once", {
          success: true,
          token: "pp_6f1c2a8e4f3d4a519c8e2f6d1b7a9e10_Yk3p0cQm8uB7l9v2nX4zR1tW6sJ5hD0aE3fG8iK2oL4",
          token_info: { ...API_TOKEN, last_used_at: null, is_current: false },
          message: "Token created: copy it now, it is not shown again",
        }),
      },
      200: {
        revoked: ex("Revoked", {
          success: true,
          token_info: { ...API_TOKEN, revoked_at: "2024-06-02T09:00:00Z", is_current: false },
          message: "Token revoked",
        }),
      },
    },
  },
});
