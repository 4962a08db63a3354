/**
 * @propops/client (packages/client) against the Worker itself: what it does for the caller. Between
 * the client and the Worker sits a faulty network, as integrators meet one: it can answer 503/429
 * itself with a Retry-After, lose an answer after the Worker acted, or hand over a CSRF token that
 * no longer verifies. The Worker, D1 and R2 are the real local ones.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createPropOpsClient, PropOpsError, verifyWebhook, WebhookVerificationError } from "../../packages/client/src/index.ts";
import { makeJpeg, makePdf } from "../../scripts/lib/media-fixtures";
import { signedHeaders } from "../../src/webhooks/deliver";
import { type Actor, actor, api, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";

const BASE = "https://propops.test";

/** What the client sent (method, path, Idempotency-Key) and a fault to apply to the next matching request. */
function network() {
  const sent: { method: string; path: string; key: string | null; csrf: string | null }[] = [];
  const faults: ((req: Request) => Promise<Response | "forward"> | Response | "forward")[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    sent.push({ method: req.method, path: url.pathname, key: req.headers.get("Idempotency-Key"), csrf: req.headers.get("X-CSRF-Token") });
    const fault = req.method !== "GET" ? faults.shift() : undefined;
    const outcome = fault ? await fault(req.clone()) : "forward";
    return outcome === "forward" ? exports.default.fetch(req) : outcome;
  };
  return { fetch, sent, faults, writes: () => sent.filter((s) => s.method !== "GET") };
}

let fx: Fixtures;
let staff: Actor;
const job = (title: string) => ({
  job_title: title,
  job_description: "Annual boiler service",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
  address_id: fx.addressId,
});
const jobsTitled = async (title: string) => {
  const res = await api("GET", `/api/jobs/manage?action=list&search=${encodeURIComponent(title)}`, { token: staff.token });
  return (res.body.data as { job_title: string }[]).filter((j) => j.job_title === title).length;
};

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
});

describe("@propops/client against the Worker", () => {
  it("lists, creates, uploads a photo and adds a note with files: CSRF fetched once, a key per write", async () => {
    const net = network();
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net.fetch });
    const page = await client.listJobs({ limit: 5 });
    expect(page.success).toBe(true);
    const created = await client.createJob(job("Sdk boiler one"));
    expect(created.job_ref).toMatch(/^JOB-/);
    const photo = await client.uploadPhoto({
      job_id: created.job_id,
      photo_type: "before",
      file: new Blob([makeJpeg(64, 48)]),
      filename: "a.jpg",
    });
    expect(photo.processing_status).toBe("pending");
    const note = await client.addNote({
      job_uuid: created.job_uuid,
      message: "Quote attached",
      attachments: [new File([makePdf()], "quote.pdf", { type: "application/pdf" })],
    });
    const notes = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${created.job_uuid}`, { token: staff.token });
    expect(notes.body.data).toMatchObject([{ uuid: note.note_uuid, message: "Quote attached", attachments_count: 1 }]);

    expect(net.sent.filter((s) => s.path === "/api/security/csrf-token")).toHaveLength(1);
    const keys = net.writes().map((w) => w.key);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(3);
    expect(net.writes().every((w) => w.csrf)).toBe(true);
  });

  it("an answer lost after the write: the retry carries the same Idempotency-Key and replays it (one job)", async () => {
    const net = network();
    let kept = false;
    net.faults.push(async (req) => {
      const key = req.headers.get("Idempotency-Key");
      const answered = await exports.default.fetch(req); // the Worker acts…
      expect(answered.status).toBe(201);
      await answered.text(); // sent in full (the Worker keeps the answer once it is sent)
      // …and keeps its answer (just after sending it): polled, not timed, so load cannot race it.
      for (let i = 0; i < 200; i++) {
        const row = await env.DB.prepare("SELECT status FROM idempotency_keys WHERE idem_key = ?")
          .bind(key)
          .first<{ status: number | null }>();
        if (row?.status) {
          kept = true;
          break;
        }
        await scheduler.wait(25);
      }
      throw new TypeError("network connection lost"); // …but its answer never reaches the client
    });
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net.fetch, retry: { baseDelayMs: 50 } });
    const created = await client.createJob(job("Sdk lost answer"));
    expect(created.job_ref).toMatch(/^JOB-/);
    const writes = net.writes();
    expect(kept).toBe(true);
    expect(writes).toHaveLength(2); // the retry was answered by the replay
    expect(new Set(writes.map((w) => w.key)).size).toBe(1);
    expect(await jobsTitled("Sdk lost answer")).toBe(1);
  });

  it("503 and 429 with Retry-After: waited for, then the same write again", async () => {
    const net = network();
    const refusal = (status: number, after: string) => () =>
      new Response(
        JSON.stringify({
          success: false,
          message: "busy",
          code: status === 429 ? "RATE_LIMITED" : "UNAVAILABLE",
          errors: [],
          request_id: "r1",
        }),
        {
          status,
          headers: { "Retry-After": after, "Content-Type": "application/json" },
        },
      );
    net.faults.push(refusal(503, "1"), refusal(429, "0"));
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net.fetch });
    const started = Date.now();
    await client.createJob(job("Sdk retried"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(net.writes()).toHaveLength(3);
    expect(new Set(net.writes().map((w) => w.key)).size).toBe(1);
    expect(await jobsTitled("Sdk retried")).toBe(1);
  });

  it("gives up after its retries, or at once when Retry-After is beyond its limit, with the last answer as a PropOpsError", async () => {
    const net = network();
    const busy = () => new Response("upstream busy", { status: 503, headers: { "Retry-After": "120" } });
    net.faults.push(busy);
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net.fetch, retry: { maxDelayMs: 5_000 } });
    const err = await client.createJob(job("Sdk never")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PropOpsError);
    expect(err).toMatchObject({ status: 503, code: "UNAVAILABLE" });
    expect(net.writes()).toHaveLength(1);

    const net2 = network();
    for (let i = 0; i < 5; i++) net2.faults.push(() => new Response("", { status: 502 }));
    const client2 = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net2.fetch, retry: { retries: 2, baseDelayMs: 10 } });
    await expect(client2.createJob(job("Sdk never"))).rejects.toMatchObject({ status: 502 });
    expect(net2.writes()).toHaveLength(3);
    expect(await jobsTitled("Sdk never")).toBe(0);
  });

  it("a CSRF token that no longer verifies is replaced once and the write goes through", async () => {
    const net = network();
    net.faults.push((req) => {
      const headers = new Headers(req.headers);
      headers.set("X-CSRF-Token", "1733011200.bm90LWEtcmVhbC1zaWduYXR1cmU"); // e.g. minted before a secret rotation
      return exports.default.fetch(new Request(req, { headers }));
    });
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: net.fetch });
    await client.createJob(job("Sdk fresh csrf"));
    expect(net.sent.filter((s) => s.path === "/api/security/csrf-token")).toHaveLength(2);
    expect(await jobsTitled("Sdk fresh csrf")).toBe(1);
  });

  it("refusals are typed errors with the API's code, field errors and request id", async () => {
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: (r) => exports.default.fetch(r) });
    const missing = await client.updateJob({ uuid: crypto.randomUUID(), job_title: "x" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PropOpsError);
    expect(missing).toMatchObject({ status: 404, code: "NOT_FOUND" });
    expect((missing as PropOpsError).requestId).toBe((missing as PropOpsError).response.headers.get("X-Request-Id"));

    // Hostile input: the client sends it as given, the API refuses it field by field, nothing is stored.
    const bad = await client.createJob({ ...job("Sdk bad"), priority_id: -1 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: "BAD_REQUEST" });
    expect((bad as PropOpsError).errors.map((e) => e.field)).toContain("priority_id");
    expect(await jobsTitled("Sdk bad")).toBe(0);

    const stranger = createPropOpsClient({ baseUrl: BASE, token: "pp_not-a-token", fetch: (r) => exports.default.fetch(r) });
    await expect(stranger.listJobs()).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    await expect(stranger.createJob(job("Sdk stranger"))).rejects.toMatchObject({ status: 401 });
  });

  it("an upload the API refuses (not an image) is a 415 PropOpsError, and nothing is stored", async () => {
    const client = createPropOpsClient({ baseUrl: BASE, token: staff.token, fetch: (r) => exports.default.fetch(r) });
    const created = await client.createJob(job("Sdk upload refused"));
    const err = await client
      .uploadPhoto({ job_id: created.job_id, file: new Blob(["<script>alert(1)</script>"], { type: "image/jpeg" }), filename: "x.jpg" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    const photos = await api("GET", `/api/jobs/photos?job_id=${created.job_id}`, { token: staff.token });
    expectStatus(photos, 200);
    expect(JSON.stringify(photos.body.data)).not.toContain("x.jpg");
  });
});

describe("webhook verification (standardwebhooks)", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const payload = JSON.stringify({
    type: "job.created",
    timestamp: "2024-06-01T09:30:00Z",
    data: { job_uuid: "550e8400-e29b-41d4-a716-446655440000" },
  });

  it("accepts what the Worker signs and returns the typed event", () => {
    const headers = signedHeaders(secret, crypto.randomUUID(), payload, new Date());
    const event = verifyWebhook(payload, new Headers(headers), secret);
    expect(event.type).toBe("job.created");
    expect(event.data.job_uuid).toBe("550e8400-e29b-41d4-a716-446655440000");
  });

  it("refuses a changed body, another secret, a stale timestamp and missing headers", () => {
    const headers = signedHeaders(secret, crypto.randomUUID(), payload, new Date());
    expect(() => verifyWebhook(payload.replace("job.created", "job.deleted"), headers, secret)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(payload, headers, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toThrow(WebhookVerificationError);
    const stale = signedHeaders(secret, crypto.randomUUID(), payload, new Date(Date.now() - 3_600_000));
    expect(() => verifyWebhook(payload, stale, secret)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(payload, {}, secret)).toThrow(WebhookVerificationError);
  });
});
