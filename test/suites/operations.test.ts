/**
 * Operations: GET /health (database, media service, backlog), structured JSON request logs with
 * the request id, an incoming X-Request-Id honoured only when well formed, and the CORS
 * allow-list with its preflights.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";

const original = { MEDIA_SERVICE: env.MEDIA_SERVICE, TRANSCODER_URL: env.TRANSCODER_URL, CORS_ORIGINS: env.CORS_ORIGINS };
afterEach(() => {
  Object.assign(env, original);
  vi.restoreAllMocks();
});

let fx: Fixtures;
beforeAll(async () => {
  fx = await seedFixtures();
});

describe("GET /health", () => {
  it("is 200 with the database and the real media service up, without a token, and says nothing private", async () => {
    Object.assign(env, { MEDIA_SERVICE: "process", TRANSCODER_URL: inject("transcoderUrl") });
    const res = await api("GET", "/health");
    expectStatus(res, 200);
    expect(res.body.status).toBe("ok");
    expect(res.body.checks.database.status).toBe("ok");
    expect(res.body.checks.media_service.status).toBe("ok");
    expect(res.body.queue.media_pending).toBe(0);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(JSON.stringify(res.body)).not.toContain(inject("transcoderUrl"));
  });

  it("is 503 with the failing check named when the media service does not answer", async () => {
    // Nothing listens on port 9.
    Object.assign(env, { MEDIA_SERVICE: "process", TRANSCODER_URL: "http://127.0.0.1:9" });
    const res = await api("GET", "/health");
    expectStatus(res, 503);
    expect(res.body.status).toBe("degraded");
    expect(res.body.checks.database.status).toBe("ok");
    expect(res.body.checks.media_service).toMatchObject({ status: "down", detail: "unreachable" });
  });

  it("does not start a container to answer: the container media service is reported as not checked", async () => {
    Object.assign(env, { MEDIA_SERVICE: "container" });
    const res = await api("GET", "/health");
    expectStatus(res, 200);
    expect(res.body.checks.media_service.status).toBe("not_checked");
  });

  it("counts uploads still waiting for the media service as the backlog", async () => {
    Object.assign(env, { MEDIA_SERVICE: "container" });
    const job = await createJob(await actor("staff"), fx);
    const before = (await api("GET", "/health")).body.queue.media_pending as number;
    await env.DB.prepare(
      "INSERT INTO photos (uuid, job_id, photo_type, kind, filename, content_type, size, r2_key, processing_status) VALUES (?, ?, 'before', 'video', 'a.mp4', 'video/mp4', 1, ?, 'pending')",
    )
      .bind(crypto.randomUUID(), job.job_id, `jobs/${job.job_uuid}/photos/health-test/original.mp4`)
      .run();
    const after = await api("GET", "/health");
    expect(after.body.queue.media_pending).toBe(before + 1);
  });
});

describe("request ids and structured logs", () => {
  it("logs one JSON line per request with method, path (no query), status, duration and the request id", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const res = await api("GET", "/api/jobs/statuses?action=list&search=private", { headers: { "X-Request-Id": "trace-abc.123_X" } });
    expectStatus(res, 401);
    expect(res.headers.get("x-request-id")).toBe("trace-abc.123_X");
    expect(res.body.request_id).toBe("trace-abc.123_X");
    const entries = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const entry = entries.find((e) => e.event === "request" && e.request_id === "trace-abc.123_X");
    expect(entry).toMatchObject({ level: "info", method: "GET", path: "/api/jobs/statuses", status: 401 });
    expect(typeof entry?.duration_ms).toBe("number");
    expect(JSON.stringify(entry)).not.toContain("private");
  });

  it.each([
    ["too long", "a".repeat(129)],
    ["a space", "abc def"],
    ["a header injection attempt", "abc\u0000def"],
    ["empty", ""],
  ])("replaces an incoming X-Request-Id that is %s with a fresh UUID", async (_, value) => {
    const headers = new Headers();
    try {
      headers.set("X-Request-Id", value);
    } catch {
      // The runtime refuses some values outright: nothing to send then.
    }
    const res = await api("GET", "/health", { headers: Object.fromEntries(headers) });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("logs an unexpected error as JSON with the request id, and answers without internals", async () => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      errors.push(String(line));
    });
    const staff = await actor("staff");
    // A broken binding: the first query of the request fails inside the handler.
    const db = env.DB;
    const broken = {
      prepare: () => {
        throw new Error("D1 exploded");
      },
      batch: () => Promise.reject(new Error("D1 exploded")),
    };
    // Requests read through a D1 session (src/db/session.ts): the session is broken too.
    Object.assign(env, { DB: { ...broken, withSession: () => broken } });
    try {
      const res = await api("GET", "/api/jobs/statuses?action=list", { token: staff.token, headers: { "X-Request-Id": "err-1" } });
      expectStatus(res, 500);
      expect(res.body).toMatchObject({ code: "INTERNAL", request_id: "err-1" });
      expect(JSON.stringify(res.body)).not.toContain("exploded");
    } finally {
      Object.assign(env, { DB: db });
    }
    const logged = errors.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.event === "unhandled_error");
    expect(logged).toMatchObject({ level: "error", request_id: "err-1", path: "/api/jobs/statuses", message: "D1 exploded" });
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    api("OPTIONS", "/api/jobs/manage", {
      headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,x-csrf-token" },
    });

  it("allows no cross-origin caller by default", async () => {
    const res = await preflight("https://app.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const get = await api("GET", "/api/jobs/statuses?action=list", { headers: { Origin: "https://app.example.com" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers a preflight from a listed origin with 204, the methods and the headers a client sends", async () => {
    Object.assign(env, { CORS_ORIGINS: "https://app.example.com, https://admin.example.com/" });
    const res = await preflight("https://admin.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    const methods = res.headers.get("access-control-allow-methods") ?? "";
    for (const m of ["GET", "POST", "PATCH", "DELETE"]) expect(methods).toContain(m);
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "x-csrf-token", "idempotency-key", "if-match", "content-type"]) expect(allowed).toContain(h);
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("refuses an origin not on the list, even one that only looks alike", async () => {
    Object.assign(env, { CORS_ORIGINS: "https://app.example.com" });
    for (const origin of ["https://app.example.com.evil.test", "http://app.example.com", "https://evil.test"]) {
      const res = await preflight(origin);
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("exposes the request id, ETag, bookmark and rate-limit headers on an actual cross-origin response", async () => {
    Object.assign(env, { CORS_ORIGINS: "https://app.example.com" });
    const staff = await actor("staff");
    const res = await api("GET", "/api/jobs/statuses?action=list", { token: staff.token, headers: { Origin: "https://app.example.com" } });
    expectStatus(res, 200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const h of ["x-request-id", "etag", "x-d1-bookmark", "ratelimit", "ratelimit-policy", "retry-after"]) expect(exposed).toContain(h);
  });
});
