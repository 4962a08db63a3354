import { bytesToHex, randomBytes, toBase64Url } from "../crypto/bytes";

/**
 * Tokens are `pp_<user uuid, 32 hex>_<32 random bytes, base64url>`; only their SHA-256 is stored.
 * The user part is not a secret: it lets a read address the user's pins Durable Object in
 * parallel with the D1 token check, whose answer decides whether the pins are used at all.
 */
const TOKEN_RE = /^pp_([0-9a-f]{32})_[A-Za-z0-9_-]{43}$/;

export function generateToken(userUuid: string): string {
  return `pp_${userUuid.replaceAll("-", "").toLowerCase()}_${toBase64Url(randomBytes(32))}`;
}

/** The user uuid a token claims (unverified until the token's hash is found), if well formed. */
export function claimedUserUuid(token: string): string | undefined {
  const hex = TOKEN_RE.exec(token)?.[1];
  if (!hex) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return bytesToHex(new Uint8Array(digest));
}
