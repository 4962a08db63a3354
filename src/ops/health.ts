import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { systemClock } from "../domain/time";
import { errorFields, log } from "../http/log";
import { COMMON_HEADERS } from "../http/openapi-examples";
import { ErrorBody } from "../http/openapi-shapes";

/** How long the media service may take to answer its /healthz before it counts as down. */
const MEDIA_TIMEOUT_MS = 1500;
/** The backlog count reads only the latest uploads (rowid range), so a check stays cheap on a big table. */
const BACKLOG_WINDOW = 10_000;

type Check = { status: "ok" | "down" | "not_checked"; latency_ms?: number; detail?: string };

/**
 * GET /health, for load balancers and monitors: D1 answers a trivial query, the media service
 * answers its health check (plain process: within 1.5 s; container: started on demand, not
 * probed), and the media backlog (uploads still pending or processing). 200 when the database
 * and the media service are up, 503 with the failing check otherwise. No auth, no private data.
 */
export async function health(c: Context<{ Bindings: Env }>) {
  const [database, backlog] = await checkDatabase(c.env);
  const media = await checkMedia(c.env);
  const healthy = database.status === "ok" && media.status !== "down";
  const body = {
    status: healthy ? "ok" : "degraded",
    checks: { database, media_service: media },
    ...(backlog === undefined ? {} : { queue: { media_pending: backlog } }),
    // Milliseconds kept (monitors compare clocks); the route has no request scope to carry a clock.
    time: systemClock.now().toISOString(),
  };
  if (!healthy) log("warn", "health_degraded", { checks: body.checks });
  return c.json(body, healthy ? 200 : 503, { "Cache-Control": "no-store" });
}

async function checkDatabase(env: Env): Promise<[Check, number | undefined]> {
  const started = Date.now();
  try {
    await env.DB.prepare("SELECT 1").first();
    const database: Check = { status: "ok", latency_ms: Date.now() - started };
    const row = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM photos WHERE id > (SELECT COALESCE(MAX(id), 0) FROM photos) - ? AND processing_status IN ('pending', 'processing')",
    )
      .bind(BACKLOG_WINDOW)
      .first<{ n: number }>();
    return [database, row?.n ?? 0];
  } catch (err) {
    log("error", "health_database_down", errorFields(err));
    return [{ status: "down", latency_ms: Date.now() - started, detail: "database query failed" }, undefined];
  }
}

async function checkMedia(env: Env): Promise<Check> {
  // wrangler.toml types it as its default ("container"); dev and tests pass "process".
  if (String(env.MEDIA_SERVICE) !== "process") return { status: "not_checked", detail: "container, started on demand" };
  const started = Date.now();
  try {
    const res = await fetch(new URL("/healthz", env.TRANSCODER_URL), { signal: AbortSignal.timeout(MEDIA_TIMEOUT_MS) });
    await res.body?.cancel();
    const latency_ms = Date.now() - started;
    return res.ok ? { status: "ok", latency_ms } : { status: "down", latency_ms, detail: `health check answered ${res.status}` };
  } catch (err) {
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    return { status: "down", latency_ms: Date.now() - started, detail: timedOut ? "no answer in time" : "unreachable" };
  }
}

const CheckSchema = z.object({
  status: z.enum(["ok", "down", "not_checked"]),
  latency_ms: z.number().int().optional(),
  detail: z.string().optional(),
});
const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    checks: z.object({ database: CheckSchema, media_service: CheckSchema }),
    queue: z.object({ media_pending: z.number().int() }).optional(),
    time: z.string(),
  })
  .openapi("Health");

const healthExample = (media: z.infer<typeof CheckSchema>) => ({
  status: media.status === "down" ? "degraded" : "ok",
  checks: { database: { status: "ok", latency_ms: 3 }, media_service: media },
  queue: { media_pending: 2 },
  time: "2024-06-01T14:00:00Z",
});

/** /health in the OpenAPI document (no security: monitors call it without a token). */
export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  summary: "Health of the deployment",
  description:
    "D1 answers a trivial query; the media service answers its health check within 1.5 s (a container is started on demand, not probed); the media backlog counts uploads still pending or processing. No authentication and no private data.",
  tags: ["Operations"],
  security: [],
  responses: {
    200: {
      description: "Healthy",
      headers: { "X-Request-Id": COMMON_HEADERS["X-Request-Id"] },
      content: {
        "application/json": {
          schema: HealthSchema,
          examples: { healthy: { summary: "All checks pass", value: healthExample({ status: "ok", latency_ms: 12 }) } },
        },
      },
    },
    503: {
      description: "A check failed: the body names it",
      headers: { "X-Request-Id": COMMON_HEADERS["X-Request-Id"] },
      content: {
        "application/json": {
          schema: HealthSchema,
          examples: {
            media_down: {
              summary: "The media service does not answer",
              value: healthExample({ status: "down", latency_ms: 1500, detail: "no answer in time" }),
            },
          },
        },
      },
    },
    429: {
      description:
        "Rate limited: this client address sent more unauthenticated requests than its allowance (the address limits of /api apply here too)",
      headers: {
        "X-Request-Id": COMMON_HEADERS["X-Request-Id"],
        "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } },
      },
      content: {
        "application/json": {
          schema: ErrorBody,
          examples: {
            limited: {
              summary: "Too many requests from this address",
              value: {
                success: false,
                message: "Too many requests: slow down and retry shortly",
                code: "RATE_LIMITED",
                errors: [],
                request_id: "0b5c2a8e-4f3d-4a51-9c8e-2f6d1b7a9e10",
              },
            },
          },
        },
      },
    },
  },
});
