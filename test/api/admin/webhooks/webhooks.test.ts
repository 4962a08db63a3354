import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { makeJpeg } from "../../../../scripts/lib/media-fixtures";
import { FieldCipher, fieldCipher, loadKeyRing } from "../../../../src/crypto/fields";
import { rotateEncryptedFields } from "../../../../src/crypto/rotate";
import { ENCRYPTED_COLUMNS } from "../../../../src/domain/encrypted-columns";
import worker from "../../../../src/index";
import { consumeDeadLetters } from "../../../../src/media/queue";
import { createServices } from "../../../../src/platform/services";
import { runSlaCheck } from "../../../../src/sla/check";
import { consumeWebhookDeadLetters, consumeWebhooks, deliverWebhook, retryDelaySeconds } from "../../../../src/webhooks/deliver";
import { type AuditRow, WEBHOOK_EVENT_TYPES, webhookEventsFor } from "../../../../src/webhooks/events";
import { relayWebhookEvents, type WebhookMessage } from "../../../../src/webhooks/relay";
import { checkTargetUrl, classifyAddress } from "../../../../src/webhooks/target";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { jobInStatus, rows, send } from "../../../support/workflow-helpers";

const ADMIN_PATH = "/api/admin/webhooks";
const DELIVERIES_PATH = "/api/admin/webhooks/deliveries";
// Nothing listens on the discard port: deliveries the real queue attempts there fail and back off.
const DEAD_TARGET = "http://127.0.0.1:9/hooks";

let fx: Fixtures;
let admin: Actor;
let manager: Actor;
let staff: Actor;
let contractor: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  admin = await actor("admin");
  manager = await actor("manager");
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
});

interface Created {
  uuid: string;
  secret: string;
}

async function subscribe(body: Record<string, unknown> = {}): Promise<Created> {
  const res = await send(admin, "POST", ADMIN_PATH, { action: "create", url: DEAD_TARGET, ...body });
  expectStatus(res, 201);
  return { uuid: res.body.subscription.uuid, secret: res.body.secret };
}

interface DeliveryRow {
  id: number;
  uuid: string;
  audit_event_id: number;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
}

/** Relays what is pending, then the delivery rows of one subscription in event order. */
async function deliveriesOf(subscriptionUuid: string): Promise<DeliveryRow[]> {
  await relayWebhookEvents(createServices(env));
  return rows<DeliveryRow>(
    `SELECT d.* FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
     WHERE s.uuid = ? ORDER BY d.audit_event_id, d.id`,
    subscriptionUuid,
  );
}

const eventsFor = async (subscriptionUuid: string, jobUuid: string) =>
  (await deliveriesOf(subscriptionUuid))
    .map((d) => ({ type: d.event_type, payload: JSON.parse(d.payload) }))
    .filter((e) => e.payload.data.job_uuid === jobUuid);

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
  redirect: string | undefined;
}

/** An outbound HTTP recorder answering with a fixed status (the e2e test uses a real receiver). */
function receiver(status = 200, headers: Record<string, string> = {}) {
  const sent: Sent[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    sent.push({ url: req.url, headers: Object.fromEntries(req.headers), body: await req.text(), redirect: init?.redirect });
    return new Response(status === 204 || (status >= 300 && status < 400) ? null : "ok", { status, headers });
  }) as typeof fetch;
  return { sent, fetcher };
}

describe("subscriptions (admin API)", () => {
  it("creates, lists, reads, updates, rotates and deletes; the secret is shown once and stored encrypted", async () => {
    const created = await send(admin, "POST", ADMIN_PATH, {
      action: "create",
      url: "https://hooks.example.com/propops",
      event_types: ["job.created", "job.status_changed"],
      description: "ERP sync",
    });
    expectStatus(created, 201);
    expect(created.body).toEqual({
      success: true,
      subscription: {
        uuid: expect.any(String),
        url: "https://hooks.example.com/propops",
        description: "ERP sync",
        event_types: ["job.created", "job.status_changed"],
        enabled: true,
        created_at: expect.stringMatching(/Z$/),
        updated_at: expect.stringMatching(/Z$/),
      },
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      message: "Webhook subscription created: store the secret now, it is not shown again",
    });
    const { uuid } = created.body.subscription;
    const secret: string = created.body.secret;
    const [stored] = await rows<{ secret: string }>("SELECT secret FROM webhook_subscriptions WHERE uuid = ?", uuid);
    expect(stored?.secret).toMatch(/^v1\.k2\./);
    expect(stored?.secret).not.toContain(secret.slice(6));
    const cipher = await fieldCipher(env);
    expect(await cipher.decrypt({ table: "webhook_subscriptions", column: "secret", rowUuid: uuid }, String(stored?.secret))).toBe(secret);

    const listed = await api("GET", `${ADMIN_PATH}?action=list`, { token: admin.token });
    expectStatus(listed, 200);
    expect(listed.body.data.map((s: { uuid: string }) => s.uuid)).toContain(uuid);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const got = await api("GET", `${ADMIN_PATH}?action=get&uuid=${uuid}`, { token: admin.token });
    expectStatus(got, 200);
    expect(got.body.data).toEqual(created.body.subscription);
    expect(JSON.stringify(got.body)).not.toContain("whsec_");

    // Form bodies work too; event types as a comma list.
    const updated = await send(
      admin,
      "POST",
      ADMIN_PATH,
      { action: "update", uuid, url: "https://hooks.example.com/v2", event_types: "job.deleted,note.added", enabled: "false" },
      "form",
    );
    expectStatus(updated, 200);
    expect(updated.body.subscription).toMatchObject({
      url: "https://hooks.example.com/v2",
      event_types: ["job.deleted", "note.added"],
      enabled: false,
    });

    const rotated = await send(admin, "POST", ADMIN_PATH, { action: "rotate_secret", uuid });
    expectStatus(rotated, 200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);

    expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "delete", uuid }), 200);
    expectStatus(await api("GET", `${ADMIN_PATH}?action=get&uuid=${uuid}`, { token: admin.token }), 404);
    expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "delete", uuid }), 404);
    expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "rotate_secret", uuid }), 404);
  });

  it("marks an Idempotency-Key committed with each write: a retry whose answer was lost never writes again", async () => {
    const withKey = (key: string, body: Record<string, unknown>, path = ADMIN_PATH) =>
      api("POST", path, { token: admin.token, csrf: admin.csrf, body, headers: { "Idempotency-Key": key } });
    const committed = async (key: string) =>
      (await rows<{ committed_at: string | null }>("SELECT committed_at FROM idempotency_keys WHERE idem_key = ?", key))[0]?.committed_at;
    const create = { action: "create", url: "https://hooks.example.com/idem", description: "Idem" };
    const key = crypto.randomUUID();
    expectStatus(await withKey(key, create), 201);
    expect(await committed(key)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The Worker died before storing the answer, and the lease ran out: "applied", not a second subscription.
    await env.DB.prepare(
      "UPDATE idempotency_keys SET status = NULL, body = NULL, content_type = NULL, created_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?",
    )
      .bind(key)
      .run();
    const lost = await withKey(key, create);
    expectStatus(lost, 409);
    expect(lost.body.errors).toEqual([{ field: "Idempotency-Key", message: "was applied; its answer was not kept" }]);
    expect(await rows("SELECT id FROM webhook_subscriptions WHERE url = ?", "https://hooks.example.com/idem")).toHaveLength(1);

    const [sub] = await rows<{ uuid: string }>("SELECT uuid FROM webhook_subscriptions WHERE url = ?", "https://hooks.example.com/idem");
    const uuid = String(sub?.uuid);
    for (const body of [
      { action: "update", uuid, enabled: false },
      { action: "rotate_secret", uuid },
      { action: "delete", uuid },
    ]) {
      const k = crypto.randomUUID();
      expectStatus(await withKey(k, body), 200);
      expect(await committed(k), body.action).toEqual(expect.any(String));
    }
  });

  it("is for administrators only: other roles get 403 and change nothing", async () => {
    const before = await rows("SELECT * FROM webhook_subscriptions ORDER BY id");
    for (const who of [manager, staff, contractor]) {
      const read = await api("GET", `${ADMIN_PATH}?action=list`, { token: who.token });
      expectStatus(read, 403);
      expect(read.body.message).toBe("Missing permission: api.admin.webhooks");
      expectStatus(await send(who, "POST", ADMIN_PATH, { action: "create", url: "https://hooks.example.com/x" }), 403);
      expectStatus(await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${crypto.randomUUID()}`, { token: who.token }), 403);
    }
    expect(await rows("SELECT * FROM webhook_subscriptions ORDER BY id")).toEqual(before);
  });

  it("refuses non-https and private, link-local, reserved or intranet targets (400 on url)", async () => {
    const refused: [string, RegExp][] = [
      ["http://hooks.example.com/x", /must be an https URL/],
      ["ftp://hooks.example.com/x", /must be an https URL/],
      ["not a url", /must be an absolute URL/],
      ["https://user:pw@hooks.example.com/x", /must not carry credentials/],
      ["https://10.0.0.7/x", /private, link-local or reserved/],
      ["https://172.16.4.1/x", /private/],
      ["https://192.168.1.10/x", /private/],
      ["https://169.254.169.254/latest/meta-data", /private/],
      ["https://100.64.0.1/x", /private/],
      ["https://0.0.0.0/x", /private/],
      ["https://[fd00::1]/x", /private/],
      ["https://[fe80::1]/x", /private/],
      ["https://[::ffff:10.0.0.1]/x", /private/],
      ["https://[::ffff:169.254.169.254]/x", /private/],
      ["https://intranet/x", /must name a public host/],
      ["https://db.internal/x", /must name a public host/],
      ["https://printer.local/x", /must name a public host/],
    ];
    for (const [url, message] of refused) {
      const res = await send(admin, "POST", ADMIN_PATH, { action: "create", url });
      expectStatus(res, 400);
      expect(res.body.errors, url).toEqual([{ field: "url", message: expect.stringMatching(message) }]);
    }
    const badType = await send(admin, "POST", ADMIN_PATH, {
      action: "create",
      url: "https://hooks.example.com/x",
      event_types: ["job.exploded"],
    });
    expectStatus(badType, 400);
    expect(badType.body.errors[0]).toMatchObject({
      field: "event_types.0",
      message: expect.stringMatching(/must be event types from: job.created/),
    });
    const missing = await send(admin, "POST", ADMIN_PATH, { action: "create" });
    expectStatus(missing, 400);
    expect(missing.body.errors).toEqual([{ field: "url", message: "is required" }]);
    const sub = await subscribe();
    const nothing = await send(admin, "POST", ADMIN_PATH, { action: "update", uuid: sub.uuid });
    expectStatus(nothing, 400);
    const badUpdate = await send(admin, "POST", ADMIN_PATH, { action: "update", uuid: sub.uuid, url: "https://10.1.2.3/" });
    expectStatus(badUpdate, 400);
    expect((await api("GET", `${ADMIN_PATH}?action=get&uuid=${sub.uuid}`, { token: admin.token })).body.data.url).toBe(DEAD_TARGET);
  });

  it("allows http to loopback only under WEBHOOKS_ALLOW_LOOPBACK (tests and dev set it)", async () => {
    expect(String(env.WEBHOOKS_ALLOW_LOOPBACK)).toBe("true");
    for (const url of ["http://127.0.0.1:8841/hooks", "http://localhost:8841/hooks", "http://[::1]:8841/hooks"]) {
      expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "create", url }), 201);
    }
    // Loopback is the only relaxation: private addresses stay refused.
    expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "create", url: "http://10.0.0.1/hooks" }), 400);
  });
});

describe("key rotation", () => {
  it("re-encrypts a subscription's secret under the active key; deliveries still verify", async () => {
    const sub = await subscribe();
    const keys = JSON.parse(String(env.ENCRYPTION_KEYS)) as { keys: Record<string, string> };
    const k1 = new FieldCipher(await loadKeyRing(JSON.stringify({ active: "k1", keys: { k1: keys.keys.k1 } })));
    const context = { table: "webhook_subscriptions", column: "secret", rowUuid: sub.uuid };
    await env.DB.prepare("UPDATE webhook_subscriptions SET secret = ? WHERE uuid = ?")
      .bind(await k1.encrypt(context, sub.secret), sub.uuid)
      .run();
    const current = await fieldCipher(env);
    expect((await rotateEncryptedFields(env.DB, current, ENCRYPTED_COLUMNS)).complete).toBe(true);
    const [row] = await rows<{ secret: string }>("SELECT secret FROM webhook_subscriptions WHERE uuid = ?", sub.uuid);
    expect(row?.secret).toMatch(/^v1\.k2\./);
    expect(await current.decrypt(context, String(row?.secret))).toBe(sub.secret);
  });
});

describe("target checks in production mode (no loopback, literal addresses; no DNS here)", () => {
  it("refuses loopback in every spelling and takes public https targets", () => {
    const loopback = [
      "https://127.0.0.1/",
      "https://127.1.2.3/",
      "https://2130706433/",
      "https://0x7f.0.0.1/",
      "https://localhost/",
      "https://api.localhost/",
      "https://[::1]/",
      "https://[::ffff:127.0.0.1]/",
      "https://[0:0:0:0:0:ffff:7f00:1]/",
      "http://127.0.0.1:8841/",
    ];
    for (const url of loopback) {
      expect(checkTargetUrl(url, false), url).toEqual({ ok: false, reason: "must not point at a loopback address" });
    }
    expect(checkTargetUrl("https://[64:ff9b::a00:1]/", false)).toMatchObject({ ok: false });
    expect(checkTargetUrl("https://[2002:c0a8:101::1]/", false)).toMatchObject({ ok: false });
    expect(checkTargetUrl("https://[2001:db8::1]/", false)).toMatchObject({ ok: false });
    expect(checkTargetUrl("https://[ff02::1]/", false)).toMatchObject({ ok: false });
    expect(checkTargetUrl("https://93.184.215.14/hook", false)).toMatchObject({ ok: true, host: "public-ip" });
    expect(checkTargetUrl("https://[2606:4700:4700::1111]/hook", false)).toMatchObject({ ok: true, host: "public-ip" });
    expect(checkTargetUrl("https://hooks.example.com/hook", false)).toMatchObject({ ok: true, host: "name" });
    expect(checkTargetUrl("http://93.184.215.14/hook", false)).toEqual({ ok: false, reason: "must be an https URL" });
  });

  it("classifies resolved (DNS answer) addresses", () => {
    expect(classifyAddress("8.8.8.8")).toBe("public-ip");
    expect(classifyAddress("10.1.1.1")).toBe("private");
    expect(classifyAddress("127.0.0.53")).toBe("loopback");
    expect(classifyAddress("::ffff:192.168.0.1")).toBe("private");
    expect(classifyAddress("2a00:1450:4001:80b::200e")).toBe("public-ip");
    expect(classifyAddress("fe80::1%eth0")).toBe("invalid");
  });
});

describe("relay", () => {
  it("claims each audit event once: concurrent relays never both deliver it", async () => {
    const sub = await subscribe();
    await relayWebhookEvents(createServices(env)); // drain what earlier requests left
    const job = await createJob(staff, fx);
    await relayWebhookEvents(createServices(env));
    // Events written straight to the outbox (no request, so no request-time relay runs meanwhile).
    const n = 30;
    await env.DB.batch(
      Array.from({ length: n }, (_, i) =>
        env.DB.prepare(
          "INSERT INTO audit_events (uuid, job_id, job_uuid, actor_name, action, changes) VALUES (?, ?, ?, 'Relay test', 'job.updated', ?)",
        ).bind(crypto.randomUUID(), job.job_id, job.job_uuid, JSON.stringify({ invoice_no: { before: null, after: `INV-${i}` } })),
      ),
    );
    const [first] = await rows<{ id: number }>("SELECT min(id) AS id FROM audit_events WHERE actor_name = 'Relay test'");
    const results = await Promise.all([
      relayWebhookEvents(createServices(env)),
      relayWebhookEvents(createServices(env)),
      relayWebhookEvents(createServices(env)),
    ]);
    expect(results.reduce((sum, r) => sum + r.claimed, 0)).toBe(n);
    // Every delivery made (one per event and enabled subscription) was enqueued by exactly one relay.
    const [madeCount] = await rows<{ n: number }>("SELECT count(*) AS n FROM webhook_deliveries WHERE audit_event_id >= ?", first?.id ?? 0);
    expect(results.reduce((sum, r) => sum + r.deliveries, 0)).toBe(madeCount?.n);
    const made = (await deliveriesOf(sub.uuid)).filter((d) => d.payload.includes("INV-"));
    expect(made).toHaveLength(n);
    expect(new Set(made.map((d) => d.audit_event_id)).size).toBe(n);
    expect(await relayWebhookEvents(createServices(env))).toEqual({ claimed: 0, deliveries: 0 });
  });

  it("sends a subscription only events after it was made, of its types, while enabled", async () => {
    const early = await createJob(staff, fx);
    await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: early.job_uuid, job_title: "Before the subscription" });
    const filtered = await subscribe({ event_types: ["job.deleted"] });
    const disabled = await subscribe({ enabled: false });
    const all = await subscribe();
    expect(await eventsFor(all.uuid, early.job_uuid)).toEqual([]);
    const job = await createJob(staff, fx);
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: job.job_uuid }), 200);
    expect((await eventsFor(all.uuid, job.job_uuid)).map((e) => e.type)).toEqual(["job.created", "job.deleted"]);
    expect((await eventsFor(filtered.uuid, job.job_uuid)).map((e) => e.type)).toEqual(["job.deleted"]);
    expect(await eventsFor(disabled.uuid, job.job_uuid)).toEqual([]);
  });
});

describe("cron catch-all", () => {
  it("relays events no request relayed, and re-enqueues deliveries whose queue message was lost", async () => {
    const sub = await subscribe();
    const job = await createJob(staff, fx);
    await relayWebhookEvents(createServices(env));
    // An event written outside any request (so nothing relayed it yet).
    await env.DB.prepare(
      "INSERT INTO audit_events (uuid, job_id, job_uuid, actor_name, action) VALUES (?, ?, ?, 'Cron test', 'job.deleted')",
    )
      .bind(crypto.randomUUID(), job.job_id, job.job_uuid)
      .run();
    const stalledUuid = crypto.randomUUID();
    const [subRow] = await rows<{ id: number }>("SELECT id FROM webhook_subscriptions WHERE uuid = ?", sub.uuid);
    const stalled = await env.DB.prepare(
      "INSERT INTO webhook_deliveries (uuid, subscription_id, audit_event_id, event_type, payload, created_at) VALUES (?, ?, 0, 'job.updated', '{}', '2026-01-01T00:00:00Z') RETURNING id",
    )
      .bind(stalledUuid, subRow?.id)
      .first<{ id: number }>();
    const sent = vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch");
    try {
      await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), env, createExecutionContext());
      const queued = sent.mock.calls.flatMap(([messages]) => [...messages].map((m) => (m.body as WebhookMessage).deliveryId));
      expect(queued).toContain(stalled?.id);
    } finally {
      sent.mockRestore();
    }
    const [deleted] = await rows<DeliveryRow>(
      `SELECT d.* FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
       JOIN audit_events a ON a.id = d.audit_event_id WHERE s.uuid = ? AND a.actor_name = 'Cron test'`,
      sub.uuid,
    );
    expect(deleted).toMatchObject({ event_type: "job.deleted", status: expect.any(String) });
  });
});

describe("event mapping (through the real workflows)", () => {
  let sub: Created;
  beforeAll(async () => {
    sub = await subscribe();
  });

  it("jobs: created, updated, status changed, deleted; private fields never leave", async () => {
    const job = await createJob(staff, fx, {
      private_contact_name: "Priya Private",
      private_contact_email: "priya@private.example",
      access_details: "Key under the blue mat",
    });
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, job_title: "Boiler repair" }), 200);
    expectStatus(
      await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 2, access_details: "Code 1234" }),
      200,
    );
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: job.job_uuid }), 200);
    const events = await eventsFor(sub.uuid, job.job_uuid);
    expect(events.map((e) => e.type)).toEqual(["job.created", "job.updated", "job.updated", "job.status_changed", "job.deleted"]);
    for (const e of events) {
      expect(e.payload).toEqual({
        type: e.type,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        data: expect.any(Object),
      });
      expect(e.payload.data.job_uuid).toBe(job.job_uuid);
    }
    expect(events[0]?.payload.data.changes).toMatchObject({
      job_title: { before: null, after: "Boiler Service - Unit 001" },
      access_details: { changed: true },
      private_contact_name: { changed: true },
    });
    expect(events[1]?.payload.data).toMatchObject({
      action: "job.updated",
      changes: { job_title: { before: "Boiler Service - Unit 001", after: "Boiler repair" } },
    });
    expect(events[3]?.payload.data).toMatchObject({
      job_ref: job.job_ref,
      status_id: { before: 1, after: 2 },
      status: { before: "Open", after: "Awaiting Approval" },
      actor: { user_id: staff.userId },
    });
    const all = JSON.stringify(events);
    for (const secret of ["Priya Private", "priya@private.example", "Key under the blue mat", "Code 1234"])
      expect(all).not.toContain(secret);
  });

  it("recall raised and completed, approval decided, amendment requested and decided, note added (without its text)", async () => {
    const job = await jobInStatus(staff, fx, 6, { contractor_budget: 180 });
    expectStatus(await send(staff, "POST", "/api/jobs/recall", { job_uuid: job.job_uuid, recall_reason: "Leak is back" }), 200);
    expectStatus(await send(staff, "POST", "/api/jobs/mark-recall-completed", { job_uuid: job.job_uuid }), 200);
    const amend = await send(staff, "POST", "/api/jobs/amend-request", {
      job_uuid: job.job_uuid,
      field_name: "job_title",
      requested_value: "Boiler repair",
      reason: "Scope",
    });
    expectStatus(amend, 201);
    expectStatus(await send(manager, "PATCH", "/api/jobs/amend-request", { uuid: amend.body.uuid, status: "approved" }), 200);
    const note = await send(staff, "POST", "/api/jobs/case-notes", {
      action: "create",
      job_uuid: job.job_uuid,
      message: "Tenant said the code is 9911",
    });
    expectStatus(note, 201);
    const gated = await createJob(staff, fx, { status_id: 2 });
    expectStatus(await send(manager, "POST", "/api/jobs/approval-gate", { job_uuid: gated.job_uuid, decision: "approve" }), 200);

    const events = await eventsFor(sub.uuid, job.job_uuid);
    expect(events.map((e) => e.type)).toEqual([
      "job.created",
      "recall.raised",
      "job.status_changed",
      "recall.completed",
      "job.status_changed",
      "amendment.requested",
      "amendment.decided",
      "job.updated",
      "note.added",
    ]);
    const byType = (t: string) => events.find((e) => e.type === t)?.payload.data;
    expect(byType("recall.raised")).toMatchObject({ reason: "Leak is back" });
    expect(events[2]?.payload.data.status_id).toEqual({ before: 6, after: 5 });
    expect(byType("amendment.requested")).toMatchObject({ amendment_uuid: amend.body.uuid, field: "job_title", reason: "Scope" });
    expect(byType("amendment.decided")).toMatchObject({ amendment_uuid: amend.body.uuid, decision: "approved" });
    expect(byType("note.added")).toMatchObject({ note_uuid: note.body.note_uuid, source: "api", changes: { message: { changed: true } } });
    expect(JSON.stringify(events)).not.toContain("9911");

    const gate = await eventsFor(sub.uuid, gated.job_uuid);
    expect(gate.map((e) => e.type)).toEqual(["job.created", "approval.decided", "job.status_changed"]);
    expect(gate[1]?.payload.data).toMatchObject({ decision: "approve", changes: { status_id: { before: 2, after: 3 } } });
  });

  it("SLA breached (cron), media processed (photo queue) and media failed (dead letter)", async () => {
    const late = await createJob(staff, fx, { priority_id: 3 });
    await runSlaCheck(createServices(env), new Date(Date.now() + 48 * 3_600_000), {
      send: async (m) => m.to.map((to) => ({ to, ok: true })),
    });
    const sla = (await eventsFor(sub.uuid, late.job_uuid)).filter((e) => e.type === "sla.breached");
    expect(sla).toHaveLength(1);
    expect(sla[0]?.payload.data).toMatchObject({ sla_deadline: expect.stringMatching(/Z$/), hours_overdue: expect.any(Number) });

    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(late.job_id));
    form.append("file", new Blob([makeJpeg(64, 48)], { type: "image/jpeg" }), "site.jpg");
    const up = await api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form });
    expectStatus(up, 201);
    const deadline = Date.now() + 20_000;
    let processed: { type: string; payload: { data: Record<string, unknown> } }[] = [];
    while (Date.now() < deadline && processed.length === 0) {
      await new Promise((r) => setTimeout(r, 250));
      processed = (await eventsFor(sub.uuid, late.job_uuid)).filter((e) => e.type === "media.processed");
    }
    expect(processed[0]?.payload.data).toMatchObject({ photo_uuid: up.body.photo_uuid, kind: "image" });

    const photoUuid = crypto.randomUUID();
    const photo = await env.DB.prepare(
      "INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size, processing_status) VALUES (?, ?, 'video', ?, 'v.mp4', 'video/mp4', 10, 'processing') RETURNING id",
    )
      .bind(photoUuid, late.job_id, `jobs/${late.job_uuid}/photos/${photoUuid}/original.mp4`)
      .first<{ id: number }>();
    await consumeDeadLetters(
      createMessageBatch("propops-media-dlq", [
        { id: "dl1", timestamp: new Date(), attempts: 6, body: { type: "video.transcode", photoId: photo?.id ?? 0 } },
      ]),
      createServices(env),
    );
    const failed = (await eventsFor(sub.uuid, late.job_uuid)).filter((e) => e.type === "media.failed");
    expect(failed.map((e) => e.payload.data)).toEqual([expect.objectContaining({ photo_uuid: photoUuid, kind: "video" })]);
  });

  it("maps every listed event type, and nothing for actions outside the mapping", () => {
    const row = (action: string, changes: unknown): AuditRow => ({
      id: 1,
      jobUuid: "j",
      actorUserId: null,
      actorName: "Media pipeline",
      action,
      changes: JSON.stringify(changes),
      createdAt: "2026-11-30T12:00:00Z",
    });
    expect(webhookEventsFor(row("photo.video_processed", { photo_uuid: "p", variants: ["720p"] })).map((e) => e.type)).toEqual([
      "media.processed",
    ]);
    expect(webhookEventsFor(row("photo.video_failed", { photo_uuid: "p", reason: "ffmpeg" }))[0]?.data).toMatchObject({
      kind: "video",
      reason: "ffmpeg",
    });
    expect(webhookEventsFor(row("job.recall_cancelled", { status_id: { before: 5, after: 6 } })).map((e) => e.type)).toEqual([
      "recall.cancelled",
      "job.status_changed",
    ]);
    // The pipeline's internal steps and outbound mail results are not integrator facts.
    for (const action of ["photo.video_dispatched", "case_note.emailed", "case_note.email_failed"]) {
      expect(webhookEventsFor(row(action, {}))).toEqual([]);
    }
    // The work on a job and media deletions are named events (issue 20).
    expect(webhookEventsFor(row("document.deleted", { document_uuid: "d-1" }))[0]?.data).toMatchObject({
      kind: "document",
      document_uuid: "d-1",
    });
    const declined = webhookEventsFor(
      row("job.declined", { contractor_id: { before: 4, after: null }, decline_reason: { before: null, after: "Booked up" } }),
    );
    expect(declined.map((e) => e.type)).toEqual(["job.declined"]);
    expect(declined[0]?.data).toMatchObject({ reason: "Booked up", contractor_id: 4 });
    const completed = webhookEventsFor(row("job.completed", { status_id: { before: 4, after: 6 } }));
    expect(completed.map((e) => e.type)).toEqual(["job.completed", "job.status_changed"]);
    expect(completed[1]?.data.status).toEqual({ before: "In Progress", after: "Completed" });
    expect(WEBHOOK_EVENT_TYPES).toHaveLength(27);
  });
});

describe("delivery", () => {
  async function pendingDelivery(subscription: Created): Promise<DeliveryRow> {
    const job = await createJob(staff, fx);
    const [row] = (await deliveriesOf(subscription.uuid)).filter((d) => d.payload.includes(job.job_uuid));
    if (!row) throw new Error("no delivery made");
    return row;
  }

  it("signs with Standard Webhooks: the receiver's Webhook.verify accepts what was sent", async () => {
    const sub = await subscribe();
    const row = await pendingDelivery(sub);
    const rx = receiver(204);
    expect(await deliverWebhook(createServices(env), row.id, { fetcher: rx.fetcher })).toBe("delivered");
    const sent = rx.sent.at(-1);
    if (!sent) throw new Error("nothing sent");
    expect(sent.url).toBe(DEAD_TARGET);
    expect(sent.redirect).toBe("manual");
    expect(sent.headers["webhook-id"]).toBe(`msg_${row.uuid}`);
    expect(sent.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(sent.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(sent.headers["content-type"]).toBe("application/json");
    const verified = new Webhook(sub.secret).verify(sent.body, sent.headers);
    expect(verified).toEqual(JSON.parse(row.payload));
    expect(() => new Webhook(sub.secret).verify(sent.body.replace("job.created", "job.deleted"), sent.headers)).toThrow();
    const [after] = await rows<DeliveryRow & { latency_ms: number; delivered_at: string }>(
      "SELECT * FROM webhook_deliveries WHERE id = ?",
      row.id,
    );
    expect(after).toMatchObject({
      status: "delivered",
      attempts: 1,
      response_status: 204,
      last_error: null,
      delivered_at: expect.stringMatching(/Z$/),
    });
    expect(after?.latency_ms).toBeGreaterThanOrEqual(0);
    // Delivered: a duplicate queue message sends nothing again.
    expect(await deliverWebhook(createServices(env), row.id, { fetcher: rx.fetcher })).toBe("skipped");
    expect(rx.sent).toHaveLength(1);

    // After a rotation the next delivery verifies with the new secret only.
    const rotated = await send(admin, "POST", ADMIN_PATH, { action: "rotate_secret", uuid: sub.uuid });
    const next = await pendingDelivery(sub);
    expect(await deliverWebhook(createServices(env), next.id, { fetcher: rx.fetcher })).toBe("delivered");
    const last = rx.sent.at(-1);
    if (!last) throw new Error("nothing sent");
    expect(new Webhook(rotated.body.secret).verify(last.body, last.headers)).toEqual(JSON.parse(next.payload));
    expect(() => new Webhook(sub.secret).verify(last.body, last.headers)).toThrow();
  });

  it("a 500 is retried with exponential backoff and logged; the dead letter marks the delivery failed", async () => {
    const sub = await subscribe();
    const row = await pendingDelivery(sub);
    const rx = receiver(500);
    const batch = createMessageBatch<WebhookMessage>("propops-webhooks", [
      { id: "w1", timestamp: new Date(), attempts: 3, body: { type: "webhook.deliver", deliveryId: row.id } },
    ]);
    const message = batch.messages[0];
    if (!message) throw new Error("no message");
    const retry = vi.spyOn(message, "retry");
    await consumeWebhooks(batch, createServices(env), { fetcher: rx.fetcher });
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "w1" }]);
    // Third attempt: 5 s × 4² of backoff.
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 80 });
    expect([1, 2, 3, 4, 9].map(retryDelaySeconds)).toEqual([5, 20, 80, 320, 43_200]);
    const [after] = await rows<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE id = ?", row.id);
    expect(after).toMatchObject({ status: "pending", response_status: 500, last_error: "HTTP 500" });
    expect(after?.attempts).toBeGreaterThanOrEqual(1);

    await consumeWebhookDeadLetters(
      createMessageBatch<WebhookMessage>("propops-webhooks-dlq", [
        { id: "d1", timestamp: new Date(), attempts: 9, body: { type: "webhook.deliver", deliveryId: row.id } },
      ]),
      createServices(env),
    );
    const log = await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${sub.uuid}&status=failed`, { token: admin.token });
    expectStatus(log, 200);
    expect(log.body.count).toBe(1);
    expect(log.body.data[0]).toMatchObject({
      uuid: row.uuid,
      webhook_id: `msg_${row.uuid}`,
      event_type: "job.created",
      status: "failed",
      response_status: 500,
      last_error: expect.stringMatching(/^gave up after \d+ attempts: HTTP 500$/),
      payload: JSON.parse(row.payload),
    });

    // Redelivery on request: same webhook-id, queued again; a pending one is not queued twice.
    const again = await send(admin, "POST", DELIVERIES_PATH, { action: "redeliver", uuid: row.uuid });
    expectStatus(again, 202);
    expect(again.body).toEqual({ success: true, delivery_uuid: row.uuid, message: "Delivery queued again" });
    expectStatus(await send(admin, "POST", DELIVERIES_PATH, { action: "redeliver", uuid: row.uuid }), 409);
    const ok = receiver(200);
    await deliverWebhook(createServices(env), row.id, { fetcher: ok.fetcher });
    const [redelivered] = await rows<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE id = ?", row.id);
    // The real queue may have tried the dead target first; either way it ends delivered once.
    expect(redelivered?.status === "delivered" || redelivered?.status === "pending").toBe(true);
    if (ok.sent[0]) expect(ok.sent[0].headers["webhook-id"]).toBe(`msg_${row.uuid}`);
    expectStatus(await send(admin, "POST", DELIVERIES_PATH, { action: "redeliver", uuid: crypto.randomUUID() }), 404);
  });

  it("does not follow redirects, refuses a target that became unsafe, and fails deliveries of a disabled subscription", async () => {
    const sub = await subscribe();
    const redirected = await pendingDelivery(sub);
    const rx = receiver(302, { location: "http://169.254.169.254/latest" });
    expect(await deliverWebhook(createServices(env), redirected.id, { fetcher: rx.fetcher })).toBe("retry");
    expect(rx.sent).toHaveLength(1);
    const [r] = await rows<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE id = ?", redirected.id);
    expect(r).toMatchObject({ status: "pending", response_status: 302, last_error: "HTTP 302: redirects are not followed" });

    const unsafe = await pendingDelivery(sub);
    await env.DB.prepare("UPDATE webhook_subscriptions SET url = 'https://10.0.0.5/hook' WHERE uuid = ?").bind(sub.uuid).run();
    const none = receiver(200);
    expect(await deliverWebhook(createServices(env), unsafe.id, { fetcher: none.fetcher })).toBe("failed");
    expect(none.sent).toEqual([]);
    const [u] = await rows<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE id = ?", unsafe.id);
    expect(u).toMatchObject({
      status: "failed",
      last_error: "target refused: must not point at a private, link-local or reserved address",
    });

    const off = await subscribe();
    const queued = await pendingDelivery(off);
    expectStatus(await send(admin, "POST", ADMIN_PATH, { action: "update", uuid: off.uuid, enabled: false }), 200);
    expect(await deliverWebhook(createServices(env), queued.id, { fetcher: none.fetcher })).toBe("failed");
    expect(none.sent).toEqual([]);
  });

  it("lists a subscription's delivery log newest first, paged; 404 for an unknown subscription, 400 for bad input", async () => {
    const sub = await subscribe();
    await pendingDelivery(sub);
    await pendingDelivery(sub);
    const page = await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${sub.uuid}&limit=1`, { token: admin.token });
    expectStatus(page, 200);
    expect(page.body.count).toBe(2);
    expect(page.body.data).toHaveLength(1);
    const second = await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${sub.uuid}&limit=1&offset=1`, { token: admin.token });
    expect(second.body.data[0].uuid).not.toBe(page.body.data[0].uuid);
    expect(page.body.data[0].created_at >= second.body.data[0].created_at).toBe(true);
    expectStatus(await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${crypto.randomUUID()}`, { token: admin.token }), 404);
    const bad = await api("GET", `${DELIVERIES_PATH}?subscription_uuid=${sub.uuid}&status=lost`, { token: admin.token });
    expectStatus(bad, 400);
    expect(bad.body.errors[0].field).toBe("status");
  });
});

describe("GET /api/jobs/manage?action=list&updated_since=", () => {
  it("returns the jobs updated at or after the instant; any offset; fractions floored", async () => {
    const old = await createJob(staff, fx, { job_title: "Quiet job" });
    const fresh = await createJob(staff, fx, { job_title: "Busy job" });
    await env.DB.prepare("UPDATE jobs SET updated_at = '2026-01-01T10:00:00Z' WHERE uuid = ?").bind(old.job_uuid).run();
    await env.DB.prepare("UPDATE jobs SET updated_at = '2026-06-01T10:00:00Z' WHERE uuid = ?").bind(fresh.job_uuid).run();
    const list = async (since: string) => {
      const res = await api("GET", `/api/jobs/manage?action=list&limit=200&updated_since=${encodeURIComponent(since)}`, {
        token: staff.token,
      });
      expectStatus(res, 200);
      return (res.body.data as { uuid: string }[]).map((j) => j.uuid).filter((u) => u === old.job_uuid || u === fresh.job_uuid);
    };
    expect(await list("2026-06-01T10:00:00Z")).toEqual([fresh.job_uuid]);
    expect(await list("2026-06-01T11:00:00+01:00")).toEqual([fresh.job_uuid]);
    expect(await list("2026-06-01T10:00:00.900Z")).toEqual([fresh.job_uuid]);
    expect(await list("2026-06-01T10:00:01Z")).toEqual([]);
    expect((await list("2025-12-31T00:00:00Z")).sort()).toEqual([old.job_uuid, fresh.job_uuid].sort());
    // Updating a job brings it back into the window.
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: old.job_uuid, job_title: "Woken up" }), 200);
    expect((await list("2026-06-01T10:00:00Z")).sort()).toEqual([old.job_uuid, fresh.job_uuid].sort());
  });

  it("refuses a malformed or zone-less timestamp (400 on updated_since)", async () => {
    for (const since of ["yesterday", "2026-11-30", "2026-11-30T09:00:00", "2026-13-01T00:00:00Z", "1700000000"]) {
      const res = await api("GET", `/api/jobs/manage?action=list&updated_since=${encodeURIComponent(since)}`, { token: staff.token });
      expectStatus(res, 400);
      expect(res.body.errors, since).toEqual([
        { field: "updated_since", message: expect.stringMatching(/ISO-8601 date-time with a time zone/) },
      ]);
    }
  });
});

describe("OpenAPI document", () => {
  it("describes the webhook admin operations and the updated_since filter", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expectStatus(doc, 200);
    const paths = doc.body.paths;
    expect(Object.keys(paths["/api/admin/webhooks"])).toEqual(["get", "post"]);
    expect(Object.keys(paths["/api/admin/webhooks/deliveries"])).toEqual(["get", "post"]);
    expect(paths["/api/admin/webhooks"].post.operationId).toBe("manageWebhookSubscriptions");
    expect(paths["/api/admin/webhooks"].post.description).toContain("Required permission: `api.admin.webhooks`");
    expect(paths["/api/admin/webhooks/deliveries"].post.responses["202"]).toBeDefined();
    const since = paths["/api/jobs/manage"].get.parameters.find((p: { name: string }) => p.name === "updated_since");
    expect(since).toMatchObject({ in: "query", required: false });
    expect(JSON.stringify(since)).toContain("for polling clients");
  });
});

describe("delivery isolation (a hanging receiver delays only its own deliveries)", () => {
  it("deliveries of other subscriptions run beside a receiver that never answers, each subscription in order", async () => {
    // Two subscriptions on the discard port, told apart by path: the fetcher below plays both receivers.
    const hanging = await subscribe({ url: "http://127.0.0.1:9/hang" });
    const healthy = await subscribe({ url: "http://127.0.0.1:9/ok" });
    const jobs = [await createJob(staff, fx), await createJob(staff, fx), await createJob(staff, fx)];
    const created = async (sub: Created) =>
      (await deliveriesOf(sub.uuid)).filter((d) => d.event_type === "job.created" && jobs.some((j) => d.payload.includes(j.job_uuid)));
    const hangingRows = await created(hanging);
    const healthyRows = await created(healthy);
    expect([hangingRows.length, healthyRows.length]).toEqual([3, 3]);

    const healthyGot: string[] = [];
    const hangingCalls: { aborted: boolean }[] = [];
    const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      if (new URL(req.url).pathname === "/hang") {
        // Never answers: only the deliverer's own timeout ends the request.
        const call = { aborted: false };
        hangingCalls.push(call);
        return new Promise<Response>((_, reject) =>
          init?.signal?.addEventListener("abort", () => {
            call.aborted = true;
            reject(new Error("The operation was aborted due to timeout"));
          }),
        );
      }
      healthyGot.push((JSON.parse(await req.text()) as { data: { job_uuid: string } }).data.job_uuid);
      return new Response(null, { status: 204 });
    }) as typeof fetch;

    // The hanging subscription's deliveries first in the batch, interleaved with the healthy one's.
    const order = hangingRows.flatMap((h, i) => [h, healthyRows[i] as DeliveryRow]);
    const batch = createMessageBatch<WebhookMessage>(
      "propops-webhooks",
      order.map((d, i) => ({ id: `iso${i}`, timestamp: new Date(), attempts: 1, body: { type: "webhook.deliver", deliveryId: d.id } })),
    );
    const started = Date.now();
    const consumed = consumeWebhooks(batch, createServices(env), { fetcher });
    // Bounded wait: every healthy delivery arrives, or the hanging request's timeout fires first.
    let healthyDoneMs: number | undefined;
    while (Date.now() - started < 25_000) {
      if (healthyGot.length === 3) {
        healthyDoneMs = Date.now() - started;
        break;
      }
      if (hangingCalls.some((c) => c.aborted)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(healthyGot, "the healthy receiver got its events before the hanging one's request timed out").toHaveLength(3);
    expect(hangingCalls.every((c) => !c.aborted)).toBe(true);
    expect(healthyDoneMs).toBeDefined();
    // In event order for the healthy subscription.
    expect(healthyGot).toEqual(jobs.map((j) => j.job_uuid));

    await consumed;
    const result = await getQueueResult(batch, createExecutionContext());
    // Healthy: acked. Hanging: its first delivery timed out (retry); the two after it were not attempted
    // behind it (each would have waited its own 10 s timeout, holding the batch), and retry after it.
    expect(result.explicitAcks.sort()).toEqual(["iso1", "iso3", "iso5"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["iso0", "iso2", "iso4"]);
    expect(hangingCalls).toHaveLength(1);
    const status = async (id: number) => (await rows<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE id = ?", id))[0];
    for (const d of healthyRows) expect((await status(d.id))?.status).toBe("delivered");
    for (const d of hangingRows) expect((await status(d.id))?.status).toBe("pending");
    expect((await status(hangingRows[0]?.id ?? 0))?.last_error).toMatch(/^request failed: /);
  });
});
