import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/**
 * CORS for browser clients on other origins: only the origins listed in CORS_ORIGINS
 * (comma-separated, exact `scheme://host[:port]`; none by default). Preflights are answered
 * (204) for any origin, but only a listed one gets Access-Control-Allow-Origin back.
 */
export function corsPolicy(): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    const allowed = parseOrigins(c.env.CORS_ORIGINS);
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type", "X-CSRF-Token", "Idempotency-Key", "If-Match", "X-Request-Id", "X-D1-Bookmark"],
      exposeHeaders: ["X-Request-Id", "ETag", "X-D1-Bookmark", "RateLimit", "RateLimit-Policy", "Retry-After"],
      maxAge: 600,
    })(c, next);
  };
}

export function parseOrigins(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim().replace(/\/+$/, ""))
    .filter(Boolean);
}
