import { z } from "@hono/zod-openapi";
import { and, count, eq, sql } from "drizzle-orm";
import { type Permission, ROLE_PERMISSIONS } from "../../auth/permissions";
import { forgetToken } from "../../auth/token-cache";
import { generateToken, hashToken } from "../../auth/tokens";
import { apiTokens } from "../../db/schema";
import { badRequest, conflict, notFound } from "../../domain/errors";
import { toIsoSeconds } from "../../domain/time";
import { done } from "../../http/envelope";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { activeToken } from "./read";
import { type CreateToken, DEFAULT_TOKEN_DAYS, MAX_ACTIVE_TOKENS, TokenInfo, tokensBody } from "./schemas";
import { toTokenInfo } from "./view";

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
  permission: "api.security.tokens.manage",
  body: tokensBody,
  actions: ["create", "revoke"],
  admitInFirstRead: true,
  responses: {
    200: jsonResponse("Revoked", Revoked),
    201: jsonResponse("Created (the token is shown once)", Created),
  },
  handler: async (c, { body }) => (body.action === "create" ? createToken(c, body) : revokeToken(c, body.uuid)),
});

async function createToken(c: AppContext, body: CreateToken) {
  const ctx = c.var.ctx;
  const db = ctx.db;
  const now = ctx.services.clock.now();
  const hash = await ctx.tokenHash();
  // The calling token's expiry and the user's active count ride in the token check's batch.
  const [[self], [active]] = await ctx.read([
    db.select({ expiresAt: apiTokens.expiresAt }).from(apiTokens).where(eq(apiTokens.tokenHash, hash)),
    db
      .select({ n: count() })
      .from(apiTokens)
      .where(and(eq(apiTokens.userId, sql`(SELECT user_id FROM api_tokens WHERE token_hash = ${hash})`), activeToken(toIsoSeconds(now)))),
  ]);
  const caller = ctx.caller;
  const wanted: Permission[] = [...new Set(body.permissions ?? caller.permissions)];
  const missing = wanted.filter((p) => !caller.permissions.has(p));
  if (missing.length > 0) {
    const message = `your token does not hold ${missing.join(", ")}`;
    throw badRequest(`permissions: ${message}`, [{ field: "permissions", message }]);
  }
  if ((active?.n ?? 0) >= MAX_ACTIVE_TOKENS)
    throw conflict(`You already hold ${MAX_ACTIVE_TOKENS} active tokens: revoke one first (GET /api/security/tokens lists them)`);

  let expiresAt = toIsoSeconds(now.getTime() + (body.expires_days ?? DEFAULT_TOKEN_DAYS) * 86_400_000);
  const ceiling = self?.expiresAt;
  if (ceiling && expiresAt > ceiling) {
    if (body.expires_days !== undefined) {
      const message = `must end by ${ceiling}, when the token creating it expires`;
      throw badRequest(`expires_days: ${message}`, [{ field: "expires_days", message }]);
    }
    expiresAt = ceiling;
  }
  // Fewer than the role's: stored as a list; all of them: null, the role's (as the role grows).
  const narrowed = wanted.length < ROLE_PERMISSIONS[caller.role].length;
  const token = generateToken(caller.userUuid);
  const [row] = await db
    .insert(apiTokens)
    .values({
      uuid: crypto.randomUUID(),
      userId: caller.userId,
      name: body.name,
      tokenHash: await hashToken(token),
      permissions: narrowed ? JSON.stringify(wanted) : null,
      expiresAt,
      createdAt: toIsoSeconds(now),
    })
    .returning();
  if (!row) throw new Error("token insert returned no row");
  return done(
    c,
    "Token created: copy it now, it is not shown again",
    { token, token_info: toTokenInfo(row, caller.role, caller.tokenId) },
    201,
  );
}

async function revokeToken(c: AppContext, uuid: string) {
  const ctx = c.var.ctx;
  const caller = await ctx.principal();
  const [row] = await ctx.db
    .update(apiTokens)
    // A second revocation keeps the first one's time.
    .set({ revokedAt: sql`COALESCE(${apiTokens.revokedAt}, ${ctx.services.clock.iso()})` })
    .where(and(eq(apiTokens.uuid, uuid), caller.role === "admin" ? undefined : eq(apiTokens.userId, caller.userId)))
    .returning();
  // Another user's token is "not found" to a non-administrator, as an unknown one is.
  if (!row) throw notFound("Token");
  forgetToken({ tokenId: row.id }); // this isolate's next request checks D1 (src/auth/token-cache.ts)
  const role = row.userId === caller.userId ? caller.role : await roleOf(c, row.userId);
  return done(c, "Token revoked", { token_info: toTokenInfo(row, role, caller.tokenId) });
}

async function roleOf(c: AppContext, userId: number) {
  const user = await c.var.ctx.db.query.users.findFirst({ columns: { role: true }, where: (u, { eq: is }) => is(u.id, userId) });
  return user?.role ?? "contractor";
}
