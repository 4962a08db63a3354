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
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Webhook } from "standardwebhooks";
import { freePort, sleep, stopGroup as stop } from "./harness.ts";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const WRANGLER_CLI = path.join(ROOT, "node_modules/wrangler/wrangler-dist/cli.js");
const EXIT_WITH_PARENT = ["--import", path.join(ROOT, "test/exit-with-parent.ts")];

let tmp = "";
let wranglerUrl = "";
let receiverUrl = "";
let wrangler: ChildProcess | undefined;
let receiver: Server | undefined;
const logs: string[] = [];
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

function collect(name: string, child: ChildProcess) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      logs.push(`[${name}] ${line}`);
      if (logs.length > 400) logs.shift();
    });
  }
}

const diagnostics = () =>
  `\n--- received ---\n${received.map((r) => `${r.path} ${r.answered} ${r.headers["webhook-id"]} ${r.body.slice(0, 120)}`).join("\n")}` +
  `\n--- process output (last lines) ---\n${logs.slice(-60).join("\n")}`;

async function wranglerCli(args: string[]) {
  return exec(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false" },
    maxBuffer: 16 * 1024 * 1024,
  });
}

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
    tmp = await mkdtemp(path.join(tmpdir(), "propops-webhooks-e2e-"));
    const persist = path.join(tmp, "state");
    const [wport, rport, iport] = [await freePort(), await freePort(), await freePort()];
    wranglerUrl = `http://127.0.0.1:${wport}`;
    receiverUrl = `http://127.0.0.1:${rport}`;
    receiver = await startReceiver(rport);

    // Fresh local state: schema, then one admin with a token (format of src/auth/tokens.ts).
    await wranglerCli(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
    const userUuid = randomUUID();
    token = `pp_${userUuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`;
    const hash = createHash("sha256").update(token).digest("hex");
    await wranglerCli([
      ...["d1", "execute", "DB", "--local", "--persist-to", persist, "--command"],
      [
        "INSERT INTO addresses (id, line1, town, postcode, search_text) VALUES (9001, '1 Example Street', 'Sample Town', 'EX1 1AA', '1 example street sample town ex1 1aa')",
        `INSERT INTO users (uuid, name, email, role) VALUES ('${userUuid}', 'E2E Admin', 'e2e-admin@example.test', 'admin')`,
        `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ('${randomUUID()}', (SELECT id FROM users WHERE uuid = '${userUuid}'), 'e2e', '${hash}')`,
      ].join("; "),
    ]);
    const envFile = path.join(tmp, "e2e.env");
    await writeFile(
      envFile,
      `ENCRYPTION_KEYS='${JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } })}'\nSIGNING_SECRET=${randomBytes(32).toString("hex")}\n`,
    );
    // Bundled once and served without watching: edits elsewhere in the tree must not reload it mid-test.
    const dist = path.join(tmp, "dist");
    await wranglerCli(["deploy", "--dry-run", "--outdir", dist, "--containers-rollout=none"]);
    wrangler = spawn(
      process.execPath,
      [
        ...EXIT_WITH_PARENT,
        WRANGLER_CLI,
        ...["dev", path.join(dist, "index.js"), "--no-bundle", "--config", path.join(ROOT, "wrangler.toml"), "--local"],
        ...["--ip", "127.0.0.1", "--port", String(wport), "--inspector-port", String(iport)],
        ...["--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false"],
        ...["--var", `PUBLIC_URL:${wranglerUrl}`, "--var", "MEDIA_SERVICE:process", "--var", "WEBHOOKS_ALLOW_LOOPBACK:true"],
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" },
      },
    );
    collect("wrangler", wrangler);
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        if ((await fetch(`${wranglerUrl}/`)).ok) break;
      } catch {
        // not listening yet
      }
      if (wrangler.exitCode !== null || Date.now() > deadline) throw new Error(`wrangler dev did not start${diagnostics()}`);
      await sleep(300);
    }
    const csrfRes = await call("GET", "/api/security/csrf-token");
    assert.equal(csrfRes.status, 200, `${csrfRes.text}${diagnostics()}`);
    csrf = String(csrfRes.json.csrf_token);
  },
  { timeout: 180_000 },
);

async function cleanup() {
  await stop(wrangler);
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
  if (tmp) await rm(tmp, { recursive: true, force: true });
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
    const updated = await call("POST", "/api/jobs/manage", { action: "update", uuid: jobUuid, status_id: 4, job_title: "Boiler repair" });
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
    assert.deepEqual(statusChanged?.data.status_id, { before: 1, after: 4 });

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
