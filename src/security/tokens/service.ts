import { and, count, desc, eq, gt, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { type Permission, ROLE_PERMISSIONS, type Role } from "../../auth/permissions";
import { forgetToken } from "../../auth/token-cache";
import { generateToken, hashToken } from "../../auth/tokens";
import { apiTokens, users } from "../../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../../domain/errors";
import { toIsoSeconds } from "../../domain/time";
import { type CreateToken, DEFAULT_TOKEN_DAYS, MAX_ACTIVE_TOKENS } from "./schemas";
import { toTokenInfo } from "./view";

const ADMISSION: Admission = { permission: "api.security.tokens.manage" };

type TokenInfo = ReturnType<typeof toTokenInfo>;

/** Not revoked and not expired at `now`. */
export const activeToken = (now: string): SQL =>
  and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))) as SQL;

export interface ListTokensInput {
  user_uuid?: string;
  include_revoked: boolean;
  limit: number;
  offset: number;
}

/** The caller's tokens (an administrator: anyone's, by user uuid), newest first, one page and the count; one read. */
export const listTokens = useCase(ADMISSION, async (scope, query: ListTokensInput): Promise<{ data: TokenInfo[]; count: number }> => {
  const db = scope.db;
  const caller = scope.caller;
  if (query.user_uuid && caller.role !== "admin" && query.user_uuid !== caller.userUuid)
    throw new ApiError("FORBIDDEN", "Only administrators may list another user's tokens");
  // Named by uuid, the user rides in the same batch as its tokens.
  const owner = query.user_uuid ? sql`(SELECT id FROM users WHERE uuid = ${query.user_uuid})` : sql`${caller.userId}`;
  const where = and(eq(apiTokens.userId, owner), query.include_revoked ? undefined : activeToken(scope.services.clock.iso()));
  const [target, rows, [total]] = await scope.read([
    db.select({ uuid: users.uuid, role: users.role }).from(users).where(eq(users.id, owner)),
    db.select().from(apiTokens).where(where).orderBy(desc(apiTokens.id)).limit(query.limit).offset(query.offset),
    db.select({ n: count() }).from(apiTokens).where(where),
  ]);
  const user = target[0];
  if (!user) throw notFound("User");
  return { data: rows.map((r) => toTokenInfo(r, user.role, caller.tokenId)), count: total?.n ?? 0 };
});

/**
 * A new token for the caller: never wider than the calling token (400), never outliving it, at
 * most MAX_ACTIVE_TOKENS active (409). The secret is in this answer only; D1 keeps its hash.
 */
export const createToken = useCase(
  ADMISSION,
  async (scope, body: Omit<CreateToken, "action">): Promise<{ token: string; token_info: TokenInfo }> => {
    const db = scope.db;
    const caller = scope.caller;
    const now = scope.services.clock.now();
    const [[self], [active]] = await scope.read([
      db.select({ expiresAt: apiTokens.expiresAt }).from(apiTokens).where(eq(apiTokens.id, caller.tokenId)),
      db
        .select({ n: count() })
        .from(apiTokens)
        .where(and(eq(apiTokens.userId, caller.userId), activeToken(toIsoSeconds(now)))),
    ]);
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
    return { token, token_info: toTokenInfo(row, caller.role, caller.tokenId) };
  },
);

/** Ends one of the caller's tokens (an administrator: anyone's) at once; a second revocation keeps the first one's time. */
export const revokeToken = useCase(ADMISSION, async (scope, input: { uuid: string }): Promise<{ token_info: TokenInfo }> => {
  const caller = scope.caller;
  const [row] = await scope.db
    .update(apiTokens)
    .set({ revokedAt: sql`COALESCE(${apiTokens.revokedAt}, ${scope.services.clock.iso()})` })
    .where(and(eq(apiTokens.uuid, input.uuid), caller.role === "admin" ? undefined : eq(apiTokens.userId, caller.userId)))
    .returning();
  // Another user's token is "not found" to a non-administrator, as an unknown one is.
  if (!row) throw notFound("Token");
  forgetToken({ tokenId: row.id }); // this isolate's next request checks D1 (src/auth/token-cache.ts)
  const role = row.userId === caller.userId ? caller.role : await roleOf(scope, row.userId);
  return { token_info: toTokenInfo(row, role, caller.tokenId) };
});

async function roleOf(scope: Scope, userId: number): Promise<Role> {
  const user = await scope.db.query.users.findFirst({ columns: { role: true }, where: (u, { eq: is }) => is(u.id, userId) });
  return user?.role ?? "contractor";
}
