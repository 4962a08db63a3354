import { and, count, desc, eq, gt, isNull, or, type SQL, sql } from "drizzle-orm";
import { apiTokens, users } from "../../db/schema";
import { ApiError, notFound } from "../../domain/errors";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { TokenInfo, tokensQuery } from "./schemas";
import { toTokenInfo } from "./view";

/** Not revoked and not expired at `now`. */
export const activeToken = (now: string): SQL =>
  and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))) as SQL;

export const getTokens = operation({
  method: "get",
  path: "/api/security/tokens",
  operationId: "listApiTokens",
  summary: "List your API tokens (name, permissions, created, last used, expiry; never the secret)",
  description:
    "Your own tokens, newest first; revoked and expired ones with `include_revoked=true`. Administrators may list another user's with `user_uuid`. " +
    "Create, narrow and revoke them with `POST /api/security/tokens` (or `npm run token` locally).",
  tag: "Security",
  permission: "api.security.tokens.manage",
  query: tokensQuery,
  actions: ["list"],
  responses: { 200: jsonResponse("A page of tokens", listEnvelope(TokenInfo)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    // The user is named by uuid or by the token itself, so the list rides in the token check's batch.
    const owner = query.user_uuid
      ? sql`(SELECT id FROM users WHERE uuid = ${query.user_uuid})`
      : sql`(SELECT user_id FROM api_tokens WHERE token_hash = ${await ctx.tokenHash()})`;
    const where = and(eq(apiTokens.userId, owner), query.include_revoked ? undefined : activeToken(ctx.services.clock.iso()));
    const [target, rows, [total]] = await ctx.read([
      db.select({ uuid: users.uuid, role: users.role }).from(users).where(eq(users.id, owner)),
      db.select().from(apiTokens).where(where).orderBy(desc(apiTokens.id)).limit(query.limit).offset(query.offset),
      db.select({ n: count() }).from(apiTokens).where(where),
    ]);
    const caller = ctx.caller;
    const user = target[0];
    if (query.user_uuid && caller.role !== "admin" && query.user_uuid !== caller.userUuid)
      throw new ApiError("FORBIDDEN", "Only administrators may list another user's tokens");
    if (!user) throw notFound("User");
    return ok(
      c,
      rows.map((r) => toTokenInfo(r, user.role, caller.tokenId)),
      { count: total?.n ?? 0 },
    );
  },
});
