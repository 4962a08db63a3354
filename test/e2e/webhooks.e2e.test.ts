/**
 * Signed webhooks end to end, with real processes: the Worker under `wrangler dev` (local mode, fresh
 * state in a temp dir, WEBHOOKS_ALLOW_LOOPBACK=true) and a receiver written as an integrator would
 * write one: a Node http server on loopback that verifies every request with the `standardwebhooks`
 * library. Subscriptions are made through the admin API; jobs are created and updated through the
 * API; the events arrive signed. A receiver answering 500 is retried (with the same webhook-id) and
 * the delivery log shows the attempts.
 *
 * Run: node --test test/e2e/webhooks.e2e.test.ts   (Node ≥ 22.12). About 30–60 s, mostly wrangler's start.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { freePort, type LocalApi, sleep, startLocalApi } from "../../scripts/lib/local-api.ts";

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

async function call(method: string, pathname: string, body?: Record<string, unknown>) {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(`${wranglerUrl}${pathname}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
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
