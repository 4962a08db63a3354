import { z } from "@hono/zod-openapi";
import { PERMISSIONS } from "../../auth/permissions";
import { listFromText, zBool, zInt, zPagination, zText, zUuid } from "../../domain/values";

/** Longest lifetime a token may be created with; a token never outlives the one that made it. */
export const MAX_TOKEN_DAYS = 365;
export const DEFAULT_TOKEN_DAYS = 90;
/** Active (not revoked, not expired) tokens one user may hold: a leaked token cannot mint thousands. */
export const MAX_ACTIVE_TOKENS = 25;

export const tokensQuery = z.strictObject({
  action: z.literal("list"),
  user_uuid: zUuid().optional().openapi({ description: "Administrators: list another user's tokens (default: your own)" }),
  include_revoked: zBool().default(false).openapi({ description: "Also list revoked and expired tokens" }),
  ...zPagination,
});

const zPermissions = () =>
  z
    .preprocess(
      listFromText,
      z
        .array(z.enum(PERMISSIONS, { error: "must be permission names (GET /api/security/tokens lists yours)" }), {
          error: "must be a list of permission names",
        })
        .min(1, "must name at least one permission")
        .max(PERMISSIONS.length),
    )
    .openapi({ description: "Narrow the new token to these permissions (each must be one your token holds); default: all of yours" });

export const createTokenBody = z.strictObject({
  action: z.literal("create"),
  name: zText(100).openapi({ description: "What the token is for, shown in the list", example: "Ops board (read only)" }),
  permissions: zPermissions().optional(),
  expires_days: zInt()
    .pipe(z.number().min(1, "must be at least 1").max(MAX_TOKEN_DAYS, `must be at most ${MAX_TOKEN_DAYS}`))
    .optional()
    .openapi({
      description: `Days until it expires (1-${MAX_TOKEN_DAYS}, default ${DEFAULT_TOKEN_DAYS}); never later than the token creating it`,
    }),
});

export const revokeTokenBody = z.strictObject({
  action: z.literal("revoke"),
  uuid: zUuid().openapi({ description: "The token's uuid, from the list" }),
});

export const tokensBody = z.discriminatedUnion("action", [createTokenBody, revokeTokenBody]);
export type CreateToken = z.infer<typeof createTokenBody>;

export const TokenInfo = z
  .object({
    uuid: z.string(),
    name: z.string(),
    permissions: z.array(z.enum(PERMISSIONS)).openapi({ description: "What the token may do now (its user's role, narrowed)" }),
    narrowed: z.boolean().openapi({ description: "True when the token names its permissions; false: all of its user's role" }),
    created_at: z.string(),
    last_used_at: z.string().nullable().openapi({ description: "Last use, to within a few minutes; null: never used" }),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    is_current: z.boolean().openapi({ description: "The token making this request" }),
  })
  .openapi("ApiToken");
