/**
 * Signed webhooks end to end, with real processes: the Worker under `wrangler dev` (local mode, fresh
 * state in a temp dir, WEBHOOKS_ALLOW_LOOPBACK=true) and a receiver written as an integrator would
 * write one: a Node http server on loopback that verifies every request with the `standardwebhooks`
 * library. Subscriptions are made through the admin API; jobs are created and updated through the
 * API; the events arrive signed. A receiver answering 500 is retried (with the same webhook-id) and
 * the delivery log shows the attempts.
 *
 * A second test drives every kind of change an integrator syncs through the API (the lifecycle, photos,
 * documents, notes, remedials, amendments, deletions) and validates every payload received against its
 * named schema in the OpenAPI document's `webhooks` section with ajv (2020-12, strict), and checks that
 * each job's `sequence` lets the receiver order what it got.
 *
 * Run: node --test test/e2e/webhooks.e2e.test.ts   (Node ≥ 22.12). About 30–60 s, mostly wrangler's start.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Webhook } from "standardwebhooks";
import { freePort, type LocalApi, sleep, startLocalApi } from "../../scripts/lib/local-api.ts";
import { makeJpeg, makePdf } from "../../scripts/lib/media-fixtures.ts";

let api: LocalApi | undefined;
let wranglerUrl = "";
let receiverUrl = "";
let receiver: Server | undefined;
let token = "";
let csrf = "";

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** What Webhook.verify returned, or why it threw. */
  verified: { ok: true; payload: { type: string; timestamp: string; data: Record<string, unknown> } } | { ok: false; error: string };
  answered: number;
}

const received: Received[] = [];
/** Secret per receiver path, filled in once the subscription is made. */
const secrets = new Map<string, string>();
/** Answers of the flaky path, in order; then 200. */
const flakyAnswers = [500];

const diagnostics = () =>
  `\n--- received ---\n${received.map((r) => `${r.path} ${r.answered} ${r.headers["webhook-id"]} ${r.body.slice(0, 120)}`).join("\n")}` +
  (api?.logs.tail(60) ?? "");

async function call(method: string, pathname: string, body?: Record<string, unknown> | FormData) {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const form = body instanceof FormData;
  if (body && !form) headers["Content-Type"] = "application/json";
  const res = await fetch(`${wranglerUrl}${pathname}`, { method, headers, body: form ? body : body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The integrator's receiver: verify first (raw body + headers), answer after. */
function startReceiver(port: number): Promise<Server> {
  const server = createHttpServer(async (req, res) => {
    const body = await readBody(req);
    const pathname = req.url ?? "/";
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]));
    let verified: Received["verified"];
    try {
      const payload = new Webhook(secrets.get(pathname) ?? "whsec_AAAA").verify(body, headers) as Extract<
        Received["verified"],
        { ok: true }
      >["payload"];
      verified = { ok: true, payload };
    } catch (err) {
      verified = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const answered = !verified.ok ? 401 : pathname === "/flaky" ? (flakyAnswers.shift() ?? 200) : 204;
    received.push({ path: pathname, headers, body, verified, answered });
    res.writeHead(answered).end();
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${diagnostics()}`);
    await sleep(200);
  }
}

before(
  async () => {
    const rport = await freePort();
    receiverUrl = `http://127.0.0.1:${rport}`;
    receiver = await startReceiver(rport);
    // Its own API (fresh state, an admin's token): loopback receivers allowed.
    api = await startLocalApi({ role: "admin", vars: { WEBHOOKS_ALLOW_LOOPBACK: "true" } });
    wranglerUrl = api.url;
    token = api.token;
    const csrfRes = await call("GET", "/api/security/csrf-token");
    assert.equal(csrfRes.status, 200, `${csrfRes.text}${diagnostics()}`);
    csrf = String(csrfRes.json.csrf_token);
  },
  { timeout: 180_000 },
);

async function cleanup() {
  await api?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
}

after(cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

async function subscribe(pathname: string, eventTypes: string[]) {
  const res = await call("POST", "/api/admin/webhooks", { action: "create", url: `${receiverUrl}${pathname}`, event_types: eventTypes });
  assert.equal(res.status, 201, res.text);
  const secret = String(res.json.secret);
  assert.match(secret, /^whsec_/);
  secrets.set(pathname, secret);
  return (res.json.subscription as { uuid: string }).uuid;
}

describe("signed webhooks end to end (wrangler dev + a verifying receiver)", () => {
  test("job events arrive signed and verify with standardwebhooks; a 500 is retried and logged", { timeout: 120_000 }, async () => {
    await subscribe("/hooks", []);
    const flaky = await subscribe("/flaky", ["job.created"]);

    const started = Date.now();
    const created = await call("POST", "/api/jobs/manage", {
      action: "create",
      job_title: "Boiler Service - Unit 001",
      job_description: "Annual boiler service.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
      private_contact_name: "Priya Private",
    });
    assert.equal(created.status, 201, created.text);
    const jobUuid = String(created.json.job_uuid);
    const updated = await call("POST", "/api/jobs/manage", { action: "update", uuid: jobUuid, status_id: 3, job_title: "Boiler repair" });
    assert.equal(updated.status, 200, updated.text);

    const hooks = await waitFor("three events on /hooks", () => {
      const got = received.filter((r) => r.path === "/hooks");
      return got.length >= 3 ? got : undefined;
    });
    process.stdout.write(`# first three events received ${((Date.now() - started) / 1000).toFixed(1)} s after the create\n`);
    for (const r of hooks) {
      assert.ok(r.verified.ok, `signature verifies: ${JSON.stringify(r.verified)}${diagnostics()}`);
      assert.match(r.headers["webhook-id"] ?? "", /^msg_[0-9a-f-]{36}$/);
      assert.ok(Math.abs(Number(r.headers["webhook-timestamp"]) - Date.now() / 1000) < 60, "timestamp is now");
      assert.match(r.headers["webhook-signature"] ?? "", /^v1,/);
      assert.equal(r.headers["content-type"], "application/json");
      assert.ok(!r.body.includes("Priya Private"), "no private value in the payload");
    }
    const events = hooks.map((r) => (r.verified.ok ? r.verified.payload : undefined));
    assert.deepEqual(events.map((e) => e?.type).sort(), ["job.created", "job.status_changed", "job.updated"]);
    for (const e of events) assert.equal(e?.data.job_uuid, jobUuid);
    assert.equal(new Set(hooks.map((r) => r.headers["webhook-id"])).size, 3, "one webhook-id per event");
    const statusChanged = events.find((e) => e?.type === "job.status_changed");
    assert.deepEqual(statusChanged?.data.status_id, { before: 1, after: 3 });

    // A tampered body fails verification at the receiver: the library really checks.
    const first = hooks[0];
    assert.ok(first);
    assert.throws(() => new Webhook(secrets.get("/hooks") ?? "").verify(first.body.replace("job.", "jab."), first.headers));

    // The flaky receiver answered 500 once; the queue retried with backoff and the same webhook-id.
    const flakyHits = await waitFor("a retried delivery on /flaky", () => {
      const got = received.filter((r) => r.path === "/flaky");
      return got.length >= 2 ? got : undefined;
    });
    assert.deepEqual(
      flakyHits.map((r) => r.answered),
      [500, 200],
    );
    assert.ok(flakyHits.every((r) => r.verified.ok));
    assert.equal(flakyHits[0]?.headers["webhook-id"], flakyHits[1]?.headers["webhook-id"]);
    const gapSeconds = Number(flakyHits[1]?.headers["webhook-timestamp"]) - Number(flakyHits[0]?.headers["webhook-timestamp"]);
    process.stdout.write(`# retry after a 500 came ${gapSeconds} s later\n`);

    let entry: Record<string, unknown> | undefined;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const res = await call("GET", `/api/admin/webhooks/deliveries?subscription_uuid=${flaky}`);
      assert.equal(res.status, 200, res.text);
      entry = (res.json.data as Record<string, unknown>[])[0];
      if (entry?.status === "delivered") break;
      await sleep(200);
    }
    assert.equal(entry?.status, "delivered", JSON.stringify(entry));
    assert.equal(entry?.attempts, 2);
    assert.equal(entry?.response_status, 200);
    assert.equal(entry?.webhook_id, flakyHits[0]?.headers["webhook-id"]);
    assert.equal(typeof entry?.latency_ms, "number");
  });
});

describe("every event an integrator syncs, checked against the OpenAPI document's webhooks schemas", () => {
  test("lifecycle, media, documents, notes, remedials, amendments and deletions: each payload valid, job_ref and sequence on all", {
    timeout: 150_000,
  }, async () => {
    const all = await subscribe("/all", []);
    const ok = (res: { status: number; text: string }, status = 200) => assert.equal(res.status, status, res.text.slice(0, 600));
    const create = (title: string) =>
      call("POST", "/api/jobs/manage", {
        action: "create",
        job_title: title,
        job_description: "Annual boiler service.",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: 9001,
      });
    const a = await create("Boiler not heating");
    ok(a, 201);
    const b = await create("Boiler follow-up");
    ok(b, 201);
    const job = String(a.json.job_uuid);
    const jobId = Number(a.json.job_id);
    const work = (body: Record<string, unknown>) => call("POST", "/api/jobs/work", { job_uuid: job, ...body });
    const upload = (pathname: string, fields: Record<string, string>, file: Blob, name: string) => {
      const form = new FormData();
      for (const [k, v] of Object.entries({ action: "upload", job_id: String(jobId), ...fields })) form.append(k, v);
      form.append("file", file, name);
      return call("POST", pathname, form);
    };

    ok(await call("POST", "/api/jobs/manage", { action: "update", uuid: job, status_id: 2, priority_id: 1 }));
    ok(await call("POST", "/api/jobs/approval-gate", { job_uuid: job, decision: "approve", notes: "Go" }));
    ok(await work({ action: "start" }));
    const photo = await upload(
      "/api/jobs/photos",
      { photo_type: "after" },
      new Blob([makeJpeg(64, 48)], { type: "image/jpeg" }),
      "after.jpg",
    );
    ok(photo, 201);
    const doc = await upload("/api/jobs/documents", { file_type_id: "1" }, new Blob([makePdf()], { type: "application/pdf" }), "quote.pdf");
    ok(doc, 201);
    ok(await work({ action: "complete", completion_note: "Serviced" }));
    ok(await call("POST", "/api/jobs/recall", { job_uuid: job, recall_reason: "Leak is back" }));
    ok(await call("POST", "/api/jobs/mark-recall-completed", { job_uuid: job }));
    ok(await work({ action: "send_back", reason: "Photos missing" }));
    const note = await call("POST", "/api/jobs/case-notes", { action: "create", job_uuid: job, message: "Code 4411" });
    ok(note, 201);
    ok(await call("POST", "/api/jobs/case-notes", { action: "update", uuid: String(note.json.note_uuid), message: "Code 5522" }));
    ok(await call("POST", "/api/jobs/case-notes", { action: "delete", uuid: String(note.json.note_uuid) }));
    const amend = await call("POST", "/api/jobs/amend-request", {
      job_uuid: job,
      field_name: "job_title",
      requested_value: "Boiler repair",
      reason: "Scope",
    });
    ok(amend, 201);
    ok(await call("PATCH", "/api/jobs/amend-request", { uuid: String(amend.json.uuid), status: "approved" }));
    ok(await call("POST", "/api/jobs/remedials", { action: "link", job_uuid: job, remedials_job_uuid: String(b.json.job_uuid) }));
    ok(await call("POST", "/api/jobs/remedials", { action: "unlink", job_uuid: String(b.json.job_uuid) }));
    ok(await call("DELETE", "/api/jobs/documents", { document_id: Number(doc.json.document_id) }));
    ok(await call("DELETE", "/api/jobs/photos", { id: Number(photo.json.photo_id) }));
    ok(await call("POST", "/api/jobs/manage", { action: "delete", uuid: job }));

    const expected = [
      "job.created",
      "job.updated",
      "approval.decided",
      "job.started",
      "job.status_changed",
      "media.uploaded",
      "media.processed",
      "job.completed",
      "recall.raised",
      "recall.completed",
      "job.sent_back",
      "note.added",
      "note.updated",
      "note.deleted",
      "amendment.requested",
      "amendment.decided",
      "remedial.linked",
      "remedial.unlinked",
      "media.deleted",
      "job.deleted",
    ];
    const got = await waitFor(
      "every event type on /all",
      () => {
        const events = received.filter((r) => r.path === "/all" && r.verified.ok);
        const types = new Set(events.map((r) => (r.verified.ok ? r.verified.payload.type : "")));
        return expected.every((t) => types.has(t)) ? events : undefined;
      },
      60_000,
    );

    const document = (await (await fetch(`${wranglerUrl}/api/openapi.json`)).json()) as {
      webhooks: Record<
        string,
        { post: { requestBody: { content: { "application/json": { schema: { $ref: string }; example: unknown } } } } }
      >;
      components: { schemas: Record<string, unknown> };
    };
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const schemaOf = (type: string) => {
      const ref = document.webhooks[type]?.post.requestBody.content["application/json"].schema.$ref ?? "";
      return document.components.schemas[ref.replace("#/components/schemas/", "")];
    };
    // Every documented type has a named schema, and its example validates against it.
    for (const [type, entry] of Object.entries(document.webhooks)) {
      const schema = schemaOf(type);
      assert.ok(schema, `${type} has a named schema`);
      const validate = ajv.compile(schema as object);
      assert.ok(
        validate(entry.post.requestBody.content["application/json"].example),
        `${type} example: ${ajv.errorsText(validate.errors)}`,
      );
    }
    // Every real delivery validates against its type's schema.
    const failures: string[] = [];
    for (const r of got) {
      if (!r.verified.ok) continue;
      const payload = JSON.parse(r.body) as { type: string; data: { job_uuid: string; job_ref: string | null; sequence: number | null } };
      const validate = ajv.compile(schemaOf(payload.type) as object);
      if (!validate(structuredClone(payload))) failures.push(`${payload.type}: ${ajv.errorsText(validate.errors)} in ${r.body}`);
      if (payload.data.job_uuid === job && payload.data.job_ref !== a.json.job_ref)
        failures.push(`${payload.type}: job_ref ${payload.data.job_ref}`);
    }
    assert.deepEqual(failures, []);
    process.stdout.write(
      `# ${got.length} deliveries of ${new Set(got.map((r) => (r.verified.ok ? r.verified.payload.type : ""))).size} types validated\n`,
    );

    // The receiver orders one job's events by sequence: 1 … n without a gap (two events of one change share a number).
    const mine = got
      .map((r) => JSON.parse(r.body) as { type: string; data: { job_uuid: string; sequence: number } })
      .filter((e) => e.data.job_uuid === job);
    const numbers = [...new Set(mine.map((e) => e.data.sequence))].sort((x, y) => x - y);
    assert.deepEqual(
      numbers,
      Array.from({ length: numbers.length }, (_, i) => i + 1),
    );
    const bySeq = [...mine].sort((x, y) => x.data.sequence - y.data.sequence);
    assert.equal(bySeq[0]?.type, "job.created");
    assert.equal(bySeq.at(-1)?.type, "job.deleted");
    assert.ok(!got.some((r) => r.body.includes("4411") || r.body.includes("5522")), "note text never leaves");

    // The delivery log has next_attempt_at on every entry: null once delivered.
    const log = await call("GET", `/api/admin/webhooks/deliveries?subscription_uuid=${all}&status=delivered&limit=5`);
    ok(log);
    for (const d of log.json.data as Record<string, unknown>[]) assert.equal(d.next_attempt_at, null);
  });
});
