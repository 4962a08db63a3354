import type { Principal } from "../domain/caller";

/**
 * Tokens verified in this isolate, by token hash, so that admitting a known caller costs no D1
 * round trip. An entry is the caller as D1 answered it (user, role, effective permissions) plus
 * the token's expiry, re-checked against the clock on every hit: an expired token is refused
 * even while cached.
 *
 * Staleness: revoking a token, disabling a user or changing a token's permissions through this
 * API evicts the entry at once in the isolate that made the change (`forgetToken`), so the very
 * next request through it is checked against D1. Other isolates keep their copy until it is
 * TTL_MS old: for at most 30 s a token revoked elsewhere (or by hand in D1) still authenticates
 * there. That is the price of not reading D1 on every request, and acceptable: a revocation is a
 * human action measured in minutes, a 30 s tail is well inside what a leaked-token response
 * needs, and every write still needs a CSRF token minted for that same API token.
 */
export const TOKEN_CACHE_TTL_MS = 30_000;
/** Entries per isolate; the least recently used goes first. */
const MAX_TOKENS = 10_000;

export interface VerifiedToken {
  caller: Principal;
  expiresAt: string | null;
  lastUsedAt: string | null;
  /** users.pins_version when the token was verified (src/pins/pins-cache.ts). */
  pinsVersion: number;
}

const entries = new Map<string, VerifiedToken & { at: number }>();

/** The verified token for this hash, if cached, young enough and not expired at `nowMs`. */
export function cachedToken(tokenHash: string, nowMs: number): VerifiedToken | undefined {
  const entry = entries.get(tokenHash);
  if (!entry) return undefined;
  const expired = entry.expiresAt !== null && Date.parse(entry.expiresAt) <= nowMs;
  if (expired || nowMs - entry.at > TOKEN_CACHE_TTL_MS) {
    entries.delete(tokenHash);
    return undefined;
  }
  // Most recently used last, so the oldest key is the first to go.
  entries.delete(tokenHash);
  entries.set(tokenHash, entry);
  return entry;
}

export function rememberToken(tokenHash: string, token: VerifiedToken, nowMs: number): void {
  entries.delete(tokenHash);
  entries.set(tokenHash, { ...token, at: nowMs });
  if (entries.size > MAX_TOKENS) {
    const oldest = entries.keys().next().value;
    if (oldest !== undefined) entries.delete(oldest);
  }
}

/** A cached token's `last_used_at` once this isolate has written a newer one (src/auth/token-use.ts). */
export function noteTokenUsedAt(tokenHash: string, lastUsedAt: string): void {
  const entry = entries.get(tokenHash);
  if (entry) entry.lastUsedAt = lastUsedAt;
}

/**
 * Evicts, in this isolate, what a change made stale: one token (revoked, or its permissions
 * changed) or every token of a user (disabled, role changed). Call it right after the change.
 */
export function forgetToken(which: { tokenId: number } | { userId: number }): void {
  for (const [hash, entry] of entries) {
    const hit = "tokenId" in which ? entry.caller.tokenId === which.tokenId : entry.caller.userId === which.userId;
    if (hit) entries.delete(hash);
  }
}
