import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { version } from "../package.json";
import { DecryptionError } from "./crypto/fields";
import { requestD1 } from "./db/session";
import { docsPage } from "./docs/page";
import { ApiError, ERROR_STATUS, type ErrorCode } from "./domain/errors";
import { prefersHtml } from "./http/accept";
import { RequestContext } from "./http/context";
import { errorBody } from "./http/envelope";
import { errorFields, log, requestIdFrom } from "./http/log";
import { refineDocument } from "./http/openapi-document";
import { OPENAPI_TAGS } from "./http/openapi-examples";
import { type AppEnv, mount, type Operation } from "./http/operation";
import { limitBeforeAuth, policyHeader } from "./http/rate-limit";
import { mountLiveSocket } from "./live/routes";
import { mcpRoutes } from "./mcp/server";
import { internalMediaRoutes } from "./media/internal-routes";
import { videoCallbackRoutes } from "./media/video-callback-route";
import { corsPolicy } from "./ops/cors";
import { health, healthRoute } from "./ops/health";
import { type AppSchema, operations } from "./routes";
import { tusRoutes } from "./uploads/tus";
import { scheduleWebhookRelay } from "./webhooks/relay";

export function createApp(ops: readonly Operation[] = operations) {
  const app = new OpenAPIHono<AppEnv>();

  // nosniff, no referrer, no framing, HSTS and the cross-origin isolation defaults of hono/secure-headers.
  app.use("*", secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: false }));
  // An incoming X-Request-Id kept when it is a plain token (requestIdFrom's rule, not the
  // middleware's own); the answer's header is set below, after everything else ran.
  app.use("*", requestId({ headerName: "", generator: (c) => requestIdFrom(c.req.header("x-request-id")) }));
  app.use("*", async (c, next) => {
    const started = Date.now();
    const auth = c.req.header("authorization");
    // The scheme is case-insensitive and any run of whitespace separates it (RFC 9110 §11.1).
    const match = auth ? /^\s*Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    const ctx = new RequestContext(c.env, safeExecutionCtx(c), match?.[1], c.var.requestId, requestD1(c.env, c.req.raw));
    c.set("ctx", ctx);
    await next();
    ctx.d1?.stamp(c.res.headers);
    // A change that succeeded wrote its audit event: relay it to webhook subscribers after answering.
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 400) scheduleWebhookRelay(ctx.services);
    // One line per request; the path without its query (search terms may be private).
    const { method, path } = c.req;
    log("info", "request", { method, path, status: c.res.status, duration_ms: Date.now() - started, request_id: ctx.requestId });
    c.res.headers.set("X-Request-Id", ctx.requestId);
    if (c.req.path.startsWith("/api/") || c.req.path === "/mcp") {
      c.res.headers.set("Cache-Control", "no-store");
      c.res.headers.set("RateLimit-Policy", policyHeader(c.env));
    }
  });

  // Before the rate limit and auth: a preflight carries no token and must not count.
  app.use("*", corsPolicy());

  // Client-address limits before any D1 work; the per-token limit runs once the token is verified (operation.ts).
  app.use("/api/*", async (c, next) => {
    await limitBeforeAuth(c);
    await next();
  });
  // /health is unauthenticated and reads D1: the same per-address limits keep it from being a lever.
  app.use("/health", async (c, next) => {
    await limitBeforeAuth(c);
    await next();
  });

  // The MCP server (src/mcp/): the same operations as tools, behind the same bearer tokens and limits.
  app.use("/mcp", async (c, next) => {
    await limitBeforeAuth(c);
    await next();
  });
  mcpRoutes(app);
  internalMediaRoutes(app);
  videoCallbackRoutes(app);
  mountLiveSocket(app);
  mount(app, ops);
  // Resumable uploads (tus 1.0): header-driven, so mounted beside the operations (src/uploads/tus.ts).
  tusRoutes(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "API token (`npm run token -- --role staff` locally).",
  });
  // Generated from the route schemas, then refined for integrators' tools (src/http/openapi-document.ts).
  // The configured origin (wrangler.toml PUBLIC_URL), never the request's Host: a forged Host would
  // otherwise get a document telling "try it" clients to send their tokens to another server.
  app.get("/api/openapi.json", (c) => c.json(openApiDocument(app, c.env)));
  app.get("/docs", docsPage);
  app.get("/health", health);
  app.openAPIRegistry.registerPath(healthRoute);
  // A browser (Accept ranking HTML above JSON) goes to the dashboard; API clients keep the index.
  app.get("/", (c) => {
    c.header("Vary", "Accept");
    if (prefersHtml(c.req.header("accept"))) return c.redirect("/app/", 303);
    return c.json({ name: "PropOps Jobs API", docs: "/docs", openapi: "/api/openapi.json", dashboard: "/app/" });
  });

  app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`, c.var.ctx?.requestId ?? ""), 404));

  app.onError((err, c) => {
    const requestId = c.var.ctx?.requestId ?? crypto.randomUUID();
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, requestId, err.errors, err.details), err.status);
    if (err instanceof HTTPException) {
      const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === err.status)?.[0] ?? "BAD_REQUEST") as ErrorCode;
      return c.json(errorBody(code, err.message || "Request failed", requestId), err.status);
    }
    if (err instanceof DecryptionError) {
      // Key ring misconfigured or data tampered with: say so to operators, never return ciphertext.
      log("error", "decryption_failed", { request_id: requestId, method: c.req.method, path: c.req.path, message: err.message });
      return c.json(
        errorBody("INTERNAL", "Stored private data could not be decrypted; quote the request id when reporting it", requestId),
        500,
      );
    }
    // Unknown: log with the request id (never field values), answer without internals.
    log("error", "unhandled_error", { request_id: requestId, method: c.req.method, path: c.req.path, ...errorFields(err) });
    return c.json(errorBody("INTERNAL", "Internal error; quote the request id when reporting it", requestId), 500);
  });

  return app;
}

/**
 * The OpenAPI document of an app built by `createApp`, for a deployment's `PUBLIC_URL` and
 * `EMAIL_FROM`. Served at /api/openapi.json; scripts/build-client.ts generates the SDK from it.
 */
export function openApiDocument(app: OpenAPIHono<AppEnv>, env: { PUBLIC_URL: string; EMAIL_FROM: string }) {
  const origin = new URL(env.PUBLIC_URL).origin;
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "PropOps Jobs API",
      version,
      description:
        "Maintenance jobs for property management. Mutating requests need a CSRF token from GET /api/security/csrf-token, sent as the `csrf_token` field or the `X-CSRF-Token` header.",
      contact: { name: "PropOps API support", email: env.EMAIL_FROM, url: `${origin}/docs` },
      license: { name: "Proprietary: PropOps terms of service", url: `${origin}/docs` },
    },
    servers: [{ url: origin, description: "This deployment" }],
    tags: [...OPENAPI_TAGS],
  });
  return refineDocument(doc);
}

function safeExecutionCtx(c: { executionCtx: unknown }): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
}

/** The app's type for Hono's typed client: `hc<AppType>(url)` knows every route's input and answers. */
export type AppType = OpenAPIHono<AppEnv, AppSchema>;
