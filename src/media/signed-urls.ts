/**
 * Short-lived signed URLs for one R2 object and one method, so the media container (photon for
 * large images, ffmpeg for videos) reads and writes R2 through this Worker without credentials.
 *
 *   const get = await signObjectUrl(env, "GET", key, 600);   // download the source
 *   const put = await signObjectUrl(env, "PUT", outKey, 600); // upload a result
 *
 * The signature is an HMAC (SIGNING_SECRET, purpose "media-object-url") over method, key and
 * expiry: a GET URL cannot PUT, a URL for one key cannot reach another, and it stops at `exp`.
 * Served by `internalMediaRoutes` (internal-routes.ts), outside the bearer-token auth.
 */
import { fromBase64Url, hmac, timingSafeEqual, toBase64Url } from "../crypto/bytes";

export type SignedMethod = "GET" | "PUT";

export const OBJECT_URL_PATH = "/internal/media/object";
const PURPOSE = "media-object-url";
/** Longest lifetime a signature may be issued for. */
export const MAX_TTL_SECONDS = 3600;

const message = (method: SignedMethod, key: string, exp: number) => `${method}\n${key}\n${exp}`;

/** A URL on this Worker (env.PUBLIC_URL) allowing `method` on R2 object `key` for `ttlSeconds`. */
export async function signObjectUrl(
  env: Pick<Env, "SIGNING_SECRET" | "PUBLIC_URL">,
  method: SignedMethod,
  key: string,
  ttlSeconds: number,
  now = Date.now(),
): Promise<string> {
  if (!key.startsWith("jobs/")) throw new Error("signed URLs are only issued for job media keys");
  const ttl = Math.max(1, Math.min(MAX_TTL_SECONDS, Math.floor(ttlSeconds)));
  const exp = Math.floor(now / 1000) + ttl;
  const sig = toBase64Url(await hmac(env.SIGNING_SECRET, PURPOSE, message(method, key, exp)));
  const url = new URL(OBJECT_URL_PATH, env.PUBLIC_URL);
  url.search = new URLSearchParams({ key, exp: String(exp), sig }).toString();
  return url.toString();
}

export type Verdict = "ok" | "expired" | "invalid";

/** Checks a signed URL's query for `method`; expiry is checked after the signature, in constant time. */
export async function verifyObjectUrl(
  secret: string,
  method: SignedMethod,
  params: { key?: string; exp?: string; sig?: string },
  now = Date.now(),
): Promise<Verdict> {
  const { key, exp, sig } = params;
  if (!key || !exp || !sig || !/^\d{1,12}$/.test(exp) || !key.startsWith("jobs/")) return "invalid";
  let given: Uint8Array;
  try {
    given = fromBase64Url(sig);
  } catch {
    return "invalid";
  }
  const expected = await hmac(secret, PURPOSE, message(method, key, Number(exp)));
  if (!timingSafeEqual(given, expected)) return "invalid";
  // The signer never issues more than MAX_TTL_SECONDS; a later expiry was not made by it (or a
  // secret leaked): refuse it rather than honour a URL that never expires. A minute of clock skew.
  if (Number(exp) * 1000 > now + (MAX_TTL_SECONDS + 60) * 1000) return "invalid";
  return Number(exp) * 1000 < now ? "expired" : "ok";
}
