import { fromBase64Url, hmac, timingSafeEqual, toBase64Url } from "../crypto/bytes";

/** CSRF tokens live two hours and are bound to the API token they were minted for. */
export const CSRF_TTL_SECONDS = 2 * 60 * 60;
/**
 * How far a token's expiry may lie past "now + lifetime": the isolate that minted it may run a
 * little ahead of the one checking it. Anything further was not issued by this API as it runs now.
 */
export const CSRF_SKEW_SECONDS = 60;

const message = (apiTokenId: number, exp: number) => `csrf|${apiTokenId}|${exp}`;

/** `<exp>.<base64url(HMAC(secret, "csrf|<api token id>|<exp>"))>` */
export async function mintCsrfToken(secret: string, apiTokenId: number, nowMs = Date.now()) {
  const exp = Math.floor(nowMs / 1000) + CSRF_TTL_SECONDS;
  const sig = await hmac(secret, "csrf", message(apiTokenId, exp));
  return { token: `${exp}.${toBase64Url(sig)}`, expiresAt: new Date(exp * 1000).toISOString().replace(".000Z", "Z") };
}

export type CsrfCheck = "ok" | "missing" | "malformed" | "expired" | "too_long" | "invalid";

export async function verifyCsrfToken(secret: string, apiTokenId: number, token: unknown, nowMs = Date.now()): Promise<CsrfCheck> {
  if (token === undefined || token === null || (typeof token === "string" && token.trim() === "")) return "missing";
  if (typeof token !== "string") return "malformed";
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token.trim());
  if (!match) return "malformed";
  const exp = Number(match[1]);
  let given: Uint8Array;
  try {
    given = fromBase64Url(match[2] ?? "");
  } catch {
    return "malformed";
  }
  const expected = await hmac(secret, "csrf", message(apiTokenId, exp));
  // Check the signature before the expiry so a forged token never learns whether its time was right.
  if (!timingSafeEqual(given, expected)) return "invalid";
  if (exp * 1000 <= nowMs) return "expired";
  // A signed expiry years ahead (a leaked secret's mint, a bug) is no better than a forged one.
  if (exp * 1000 > nowMs + (CSRF_TTL_SECONDS + CSRF_SKEW_SECONDS) * 1000) return "too_long";
  return "ok";
}
