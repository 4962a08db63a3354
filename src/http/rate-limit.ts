import type { Context } from "hono";
import { ApiError } from "../domain/errors";
import type { AppContext, AppEnv } from "./app-env";

/**
 * Rate limits, three policies on Workers rate-limit bindings (wrangler.toml `[[ratelimits]]`):
 * - `address`: every /api request, keyed on the client address (cf-connecting-ip), before auth;
 * - `unverified`: requests whose token this isolate has not yet seen verified (no token, a bogus
 *   one, or a valid one's first request here), keyed on the address, before any D1 lookup, so
 *   floods of random tokens stop early;
 * - `token`: keyed on the verified token id, however the Authorization header was spelled.
 * Requests without cf-connecting-ip (local tests, service bindings; Cloudflare's edge always sets
 * it) have no address policies. The bindings cannot report what is left, so `RateLimit` is sent
 * with 429 only (r=0), `RateLimit-Policy` on every answer (IETF httpapi ratelimit-headers draft).
 */

export type PolicyName = "address" | "unverified" | "token";

interface Policy {
  name: PolicyName;
  limit: number;
  period: number;
  binding: RateLimit;
}

/** The limits the bindings enforce, as configured in vars (the bindings cannot be read at run time). */
function policies(env: Env): Record<PolicyName, Policy> {
  const num = (raw: string | undefined, fallback: number) => {
    const n = Number(raw);
    return Number.isInteger(n) && n > 0 ? n : fallback;
  };
  const period = num(env.RATE_LIMIT_PERIOD_SECONDS, 60);
  return {
    address: { name: "address", limit: num(env.RATE_LIMIT_PER_ADDRESS, 1200), period, binding: env.RATE_LIMITER_ADDRESS },
    unverified: { name: "unverified", limit: num(env.RATE_LIMIT_UNVERIFIED, 120), period, binding: env.RATE_LIMITER_UNVERIFIED },
    token: { name: "token", limit: num(env.RATE_LIMIT_PER_TOKEN, 600), period, binding: env.RATE_LIMITER },
  };
}

export function policyHeader(env: Env): string {
  return Object.values(policies(env))
    .map((p) => `"${p.name}";q=${p.limit};w=${p.period}`)
    .join(", ");
}

/**
 * Token hashes verified in this isolate (bounded; oldest dropped first). A hit lets a known token
 * skip the `unverified` policy; it never authenticates anything (auth still runs).
 */
const verified = new Set<string>();
const VERIFIED_MAX = 10_000;

export function rememberVerified(tokenHash: string) {
  if (verified.has(tokenHash)) return;
  if (verified.size >= VERIFIED_MAX) {
    const oldest = verified.values().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  verified.add(tokenHash);
}

async function check(c: Context<AppEnv>, policy: Policy, key: string) {
  const { success } = await policy.binding.limit({ key: `${policy.name}:${key}` });
  if (success) return;
  // Windows are aligned to the wall clock (as the local implementation does): the wait is what is left of this one.
  const wait = Math.max(1, Math.ceil(policy.period - ((Date.now() / 1000) % policy.period)));
  c.header("Retry-After", String(wait));
  c.header("RateLimit", `"${policy.name}";r=0;t=${wait}`);
  throw new ApiError(
    "RATE_LIMITED",
    `Too many requests (${policy.name} limit: ${policy.limit} per ${policy.period} s); retry after ${wait} s`,
  );
}

/** Middleware hook: the address policies, before authentication. */
export async function limitBeforeAuth(c: Context<AppEnv>): Promise<void> {
  const address = c.req.header("cf-connecting-ip")?.trim();
  if (!address) return;
  const p = policies(c.env);
  await check(c, p.address, address);
  const ctx = c.var.ctx;
  const known = ctx.hasCredentials && verified.has(await ctx.tokenHash());
  if (!known) await check(c, p.unverified, address);
}

/** Operation hook: the token policy, once the caller's token is verified. */
export async function limitCaller(c: AppContext, tokenId: number): Promise<void> {
  rememberVerified(await c.var.ctx.tokenHash());
  await check(c, policies(c.env).token, String(tokenId));
}
