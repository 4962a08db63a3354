import { effectivePermissions, type Role } from "../../auth/permissions";
import type { apiTokens } from "../../db/schema";

type TokenRow = typeof apiTokens.$inferSelect;

/** A token as its owner sees it: never the secret, nor its hash. */
export function toTokenInfo(row: TokenRow, role: Role, currentTokenId: number) {
  return {
    uuid: row.uuid,
    name: row.name,
    permissions: [...effectivePermissions(role, row.permissions)],
    narrowed: row.permissions !== null,
    created_at: row.createdAt,
    last_used_at: row.lastUsedAt,
    expires_at: row.expiresAt,
    revoked_at: row.revokedAt,
    is_current: row.id === currentTokenId,
  };
}
