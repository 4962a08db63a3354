import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/**
 * CORS for browser clients on other origins: only the origins listed in CORS_ORIGINS
 * (comma-separated, exact `scheme://host[:port]`; none by default). Preflights are answered
 * (204) for any origin, but only a listed one gets Access-Control-Allow-Origin back.
 */
export function corsPolicy(): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    // tus discovery is an OPTIONS request too: only a preflight (it names a method) is CORS's to answer.
    if (c.req.method === "OPTIONS" && !c.req.header("access-control-request-method") && c.req.path.startsWith("/api/uploads")) {
      return next();
    }
    const allowed = parseOrigins(c.env.CORS_ORIGINS);
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "X-CSRF-Token",
        "Idempotency-Key",
        "If-Match",
        "X-Request-Id",
        "X-D1-Bookmark",
        // tus (src/uploads/tus.ts)
        "Tus-Resumable",
        "Upload-Length",
        "Upload-Offset",
        "Upload-Metadata",
        "Upload-Defer-Length",
      ],
      exposeHeaders: [
        "X-Request-Id",
        "ETag",
        "X-D1-Bookmark",
        "RateLimit",
        "RateLimit-Policy",
        "Retry-After",
        "Location",
        "Tus-Resumable",
        "Tus-Version",
        "Tus-Extension",
        "Tus-Max-Size",
        "Upload-Offset",
        "Upload-Length",
        "Upload-Expires",
        "Upload-Record",
        "Upload-Complete",
        "Upload-Limit",
      ],
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
