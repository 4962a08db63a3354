import { toIsoSeconds } from "../domain/time";
import type { Services } from "../platform/services";
import { noteTokenUsedAt } from "./token-cache";

/** `last_used_at` is kept to within this window: at most one background write per token per window. */
export const TOKEN_USE_WINDOW_MS = 5 * 60_000;

/**
 * Records that a token was used, after the answer (waitUntil) and on the binding itself, so the
 * request's own round trips, rows read and replica reads are untouched; a write per token per
 * window, whatever the traffic. The guard in SQL keeps concurrent isolates from writing twice.
 */
export function noteTokenUse(services: Services, tokenId: number, lastUsedAt: string | null, tokenHash: string) {
  const now = services.clock.now().getTime();
  if (lastUsedAt && now - Date.parse(lastUsedAt) < TOKEN_USE_WINDOW_MS) return;
  const since = toIsoSeconds(now - TOKEN_USE_WINDOW_MS);
  // The isolate's cached copy of the token (src/auth/token-cache.ts) learns the new time: its next
  // hits within the window write nothing.
  noteTokenUsedAt(tokenHash, toIsoSeconds(now));
  services.waitUntil(
    services.env.DB.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")
      .bind(toIsoSeconds(now), tokenId, since)
      .run(),
  );
}
