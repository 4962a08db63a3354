import { ok } from "../../http/envelope";
import { API_TOKEN, ex, OK } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { TokenInfo, tokensQuery } from "./schemas";
import { listTokens } from "./service";

export const getTokens = operation({
  method: "get",
  path: "/api/security/tokens",
  operationId: "listApiTokens",
  summary: "List your API tokens (name, permissions, created, last used, expiry; never the secret)",
  description:
    "Your own tokens, newest first; revoked and expired ones with `include_revoked=true`. Administrators may list another user's with `user_uuid`. " +
    "Create, narrow and revoke them with `POST /api/security/tokens` (or `npm run token` locally).",
  tag: "Security",
  permission: listTokens.admission.permission,
  query: tokensQuery,
  actions: ["list"],
  responses: { 200: jsonResponse("A page of tokens", listEnvelope(TokenInfo)) },
  handler: async (c, { query }) => {
    const { data, count } = await listTokens(c.var.ctx, query);
    return ok(c, data, { count });
  },
  docs: {
    query: { action: "list" },
    responses: { 200: { tokens: ex("Your active tokens", { success: true, data: [API_TOKEN], count: 1, message: OK }) } },
  },
});
