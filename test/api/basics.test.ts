import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectStatus, makeUser } from "../support/helpers";

describe("CSRF token endpoint", () => {
  it("issues a token bound to the caller's API token, valid for two hours", async () => {
    const user = await makeUser("contractor");
    const res = await api("GET", "/api/security/csrf-token", { token: user.token });
    expectStatus(res, 200);
    expect(res.body).toMatchObject({
      success: true,
      csrf_token: expect.stringMatching(/^\d+\.[A-Za-z0-9_-]{43}$/),
      message: "CSRF token issued",
    });
    const ttl = Date.parse(res.body.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(119 * 60_000);
    expect(ttl).toBeLessThanOrEqual(120 * 60_000);
  });
});

describe("reference lists", () => {
  it.each([
    ["/api/jobs/statuses", "Open"],
    ["/api/jobs/types", "Gas & Heating"],
    ["/api/jobs/priorities", "Medium"],
    ["/api/jobs/payment-statuses", "Paid"],
    ["/api/jobs/time-ranges", "Morning (08:00-12:00)"],
    ["/api/jobs/file-types", "Invoice"],
  ])("%s?action=list", async (path, name) => {
    const user = await makeUser("contractor");
    const res = await api("GET", `${path}?action=list`, { token: user.token });
    expectStatus(res, 200);
    expect(res.body.success).toBe(true);
    expect(res.body.count).toBe(res.body.data.length);
    expect(res.body.data.map((r: { name: string }) => r.name)).toContain(name);
    const bad = await api("GET", `${path}?action=delete`, { token: user.token });
    expectStatus(bad, 400);
  });

  it("priorities carry their SLA hours and statuses their workflow flags", async () => {
    const user = await makeUser("staff");
    const priorities = await api("GET", "/api/jobs/priorities?action=list", { token: user.token });
    expect(priorities.body.data.map((p: { name: string; sla_hours: number }) => [p.name, p.sla_hours])).toEqual([
      ["Emergency", 4],
      ["High", 24],
      ["Medium", 72],
      ["Low", 336],
    ]);
    const statuses = await api("GET", "/api/jobs/statuses?action=list", { token: user.token });
    expect(statuses.body.data.find((s: { name: string }) => s.name === "Awaiting Approval")).toMatchObject({ requires_approval: true });
    expect(statuses.body.data.find((s: { name: string }) => s.name === "Archived")).toMatchObject({ is_archived: true });
  });

  it("searches addresses by every word, case-insensitively, paged", async () => {
    const { env } = await import("cloudflare:test");
    await env.DB.prepare(
      "INSERT INTO addresses (line1, town, postcode, search_text) VALUES ('7 Mill Lane', 'Oldtown', 'OT1 2BB', '7 mill lane oldtown ot1 2bb')",
    ).run();
    const user = await makeUser("agent");
    const res = await api("GET", "/api/jobs/addresses?action=list&search=MILL%20ot1", { token: user.token });
    expectStatus(res, 200);
    expect(res.body.data).toEqual([
      {
        ID: expect.any(Number),
        line1: "7 Mill Lane",
        line2: null,
        town: "Oldtown",
        postcode: "OT1 2BB",
        full_address: "7 Mill Lane, Oldtown, OT1 2BB",
      },
    ]);
    const none = await api("GET", "/api/jobs/addresses?action=list&search=%25", { token: user.token });
    expect(none.body.count).toBe(0);
  });
});

describe("documentation and errors", () => {
  it("serves an OpenAPI 3.1 document naming every operation, and the reference page", async () => {
    const res = await api("GET", "/api/openapi.json");
    expectStatus(res, 200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.paths["/api/jobs/manage"].get.operationId).toBe("listOrGetJobs");
    expect(res.body.paths["/api/jobs/manage"].post.requestBody.content).toHaveProperty("application/x-www-form-urlencoded");
    expect(res.body.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [name, path] of Object.entries(res.body.paths) as [
      string,
      Record<string, { responses: Record<string, unknown>; tags: string[]; summary: string }>,
    ][]) {
      for (const op of Object.values(path)) {
        // /health is for monitors: no token, so no 401.
        if (name !== "/health") expect(op.responses).toHaveProperty("401");
        expect(op.tags.length).toBeGreaterThan(0);
        expect(op.summary).toBeTruthy();
      }
    }
    const docs = await api("GET", "/docs");
    expectStatus(docs, 200);
    expect(String(docs.body)).toContain("/api/openapi.json");
  });

  // Issue 25: the Host header was echoed into `servers`, so a forged Host sent "try it" clients (and
  // their tokens) elsewhere. The document names the configured origin, whatever the request says.
  it("names the configured PUBLIC_URL in the OpenAPI servers, never the request's Host", async () => {
    const configured = new URL(env.PUBLIC_URL).origin;
    for (const url of ["http://evil.example/api/openapi.json", "https://attacker.test:8443/api/openapi.json"]) {
      const res = await exports.default.fetch(new Request(url, { headers: { Host: new URL(url).host } }));
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { servers: { url: string }[]; info: { contact: { url: string } } };
      expect(doc.servers.map((s) => s.url)).toEqual([configured]);
      expect(doc.info.contact.url).toBe(`${configured}/docs`);
      expect(JSON.stringify(doc)).not.toMatch(/evil\.example|attacker\.test/);
    }
  });

  it("answers unknown routes with the error envelope", async () => {
    const res = await api("GET", "/api/jobs/nothing-here");
    expectStatus(res, 404);
    expect(res.body).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(res.headers.get("x-request-id")).toBe(res.body.request_id);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("request bodies", () => {
  it("413 for a streamed multipart body over the limit, even without Content-Length", async () => {
    const { exports } = await import("cloudflare:workers");
    const { csrfFor } = await import("../support/helpers");
    const user = await makeUser("staff");
    const csrf = await csrfFor(user.token);
    const boundary = "----propopsboundary";
    const head = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(head);
        if (sent >= 22) {
          controller.enqueue(new TextEncoder().encode(`\r\n--${boundary}--\r\n`));
          controller.close();
          return;
        }
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await exports.default.fetch(
      new Request("https://propops.test/api/jobs/manage", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${user.token}`,
          "X-CSRF-Token": csrf,
          "Content-Type": `multipart/form-data; boundary=${boundary}`,
        },
        body,
        duplex: "half",
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
  });
});
