import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { HTTPException } from "hono/http-exception";
import { DecryptionError } from "./crypto/fields";
import { requestD1 } from "./db/session";
import { RequestContext } from "./http/context";
import { ApiError, ERROR_STATUS, type ErrorCode } from "./http/errors";
import { type AppEnv, mount, type Operation } from "./http/operation";
import { internalMediaRoutes } from "./media/internal-routes";
import { videoCallbackRoutes } from "./media/video-callback-route";
import { operations } from "./routes";

function errorBody(code: ErrorCode, message: string, requestId: string, errors: unknown[] = []) {
  return { success: false, message, code, errors, request_id: requestId };
}

export function createApp(ops: readonly Operation[] = operations) {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", async (c, next) => {
    const auth = c.req.header("authorization");
    const match = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    const ctx = new RequestContext(c.env, safeExecutionCtx(c), match?.[1], requestD1(c.env, c.req.raw));
    c.set("ctx", ctx);
    await next();
    ctx.d1?.stamp(c.res.headers);
    c.res.headers.set("X-Request-Id", ctx.requestId);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("Referrer-Policy", "no-referrer");
    if (c.req.path.startsWith("/api/")) c.res.headers.set("Cache-Control", "no-store");
  });

  // Per-token (or per-address) rate limit; cheap, no D1 round trip.
  app.use("/api/*", async (c, next) => {
    const key = c.req.header("authorization") ?? c.req.header("cf-connecting-ip") ?? "anonymous";
    const { success } = await c.env.RATE_LIMITER.limit({ key: await shortHash(key) });
    if (!success) throw new ApiError("RATE_LIMITED", "Too many requests: slow down and retry shortly");
    await next();
  });

  internalMediaRoutes(app);
  videoCallbackRoutes(app);
  mount(app, ops);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "API token (`npm run token -- --role staff` locally).",
  });
  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "PropOps Jobs API",
      version: "1.0.0",
      description:
        "Maintenance jobs for property management. Mutating requests need a CSRF token from GET /api/security/csrf-token, sent as the `csrf_token` field or the `X-CSRF-Token` header.",
    },
  });
  app.get("/docs", Scalar({ url: "/api/openapi.json", pageTitle: "PropOps Jobs API" }));
  app.get("/", (c) => c.json({ name: "PropOps Jobs API", docs: "/docs", openapi: "/api/openapi.json" }));

  app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`, c.var.ctx?.requestId ?? ""), 404));

  app.onError((err, c) => {
    const requestId = c.var.ctx?.requestId ?? crypto.randomUUID();
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, requestId, err.errors), err.status);
    if (err instanceof HTTPException) {
      const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === err.status)?.[0] ?? "BAD_REQUEST") as ErrorCode;
      return c.json(errorBody(code, err.message || "Request failed", requestId), err.status);
    }
    if (err instanceof DecryptionError) {
      // Key ring misconfigured or data tampered with: say so to operators, never return ciphertext.
      console.error(`[${requestId}] ${c.req.method} ${c.req.path}: ${err.message}`);
      return c.json(
        errorBody("INTERNAL", "Stored private data could not be decrypted; quote the request id when reporting it", requestId),
        500,
      );
    }
    // Unknown: log with the request id (never field values), answer without internals.
    console.error(`[${requestId}] ${c.req.method} ${c.req.path}:`, err instanceof Error ? err.stack : err);
    return c.json(errorBody("INTERNAL", "Internal error; quote the request id when reporting it", requestId), 500);
  });

  return app;
}

function safeExecutionCtx(c: { executionCtx: unknown }): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
}

async function shortHash(s: string) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  let out = "";
  for (const b of d.subarray(0, 12)) out += b.toString(16).padStart(2, "0");
  return out;
}

export type App = ReturnType<typeof createApp>;
