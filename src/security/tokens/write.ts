import { z } from "@hono/zod-openapi";
import { done } from "../../http/envelope";
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
});
