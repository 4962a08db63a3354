/**
 * The MCP server end to end, with real processes: the Worker under `wrangler dev` (local mode, fresh
 * state, scripts/lib/local-api.ts), the SDK's own `Client` + `StreamableHTTPClientTransport` as an
 * assistant connects, and the MCP inspector's CLI as a developer would run it.
 *
 * The assistant session (find breached jobs, read one, add a note, propose an amendment, a manager
 * approves it) runs through MCP on one job and the same calls run over REST on its twin: the two
 * jobs, their notes, audit trails and webhook deliveries must match, but for identities, times and
 * the audit's `via`.
 *
 * Run: node --test --test-force-exit test/e2e/mcp.e2e.test.ts   (Node ≥ 22.12). About 40–70 s.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, type LocalApi, ROOT, sleep, startLocalApi } from "../../scripts/lib/local-api.ts";

const exec = promisify(execFile);

let api: LocalApi | undefined;
let receiver: Server | undefined;
const received: { type: string; data: Record<string, unknown> }[] = [];

/** A user with a token, as rows for the fresh database (the token format of src/auth/tokens.ts). */
function user(role: string, extra: { contractorId?: number } = {}) {
  const uuid = randomUUID();
  const token = `pp_${uuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`;
  const hash = createHash("sha256").update(token).digest("hex");
  const sql = [
    `INSERT INTO users (uuid, name, email, role, contractor_id) VALUES ('${uuid}', 'E2E ${role}', 'e2e-${role}-${uuid.slice(0, 6)}@example.test', '${role}', ${extra.contractorId ?? "NULL"})`,
    `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ('${randomUUID()}', (SELECT id FROM users WHERE uuid = '${uuid}'), 'e2e', '${hash}')`,
  ];
  return { token, sql };
}

const staff = user("staff");
const manager = user("manager");
const contractor = user("contractor", { contractorId: 9101 });
/** Two identical jobs past their SLA deadline: one for the MCP session, its twin for REST. */
const JOB_MCP = randomUUID();
const JOB_REST = randomUUID();
const twin = (uuid: string, ref: string) =>
  `INSERT INTO jobs (uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, contractor_id, vat_percentage,
     contractor_budget, job_total_budget, sla_started_at, sla_deadline)
   VALUES ('${uuid}', '${ref}', 'Boiler not firing - Portside', 'No heating or hot water since Monday.', 1, 3, 3, 9001, 9101, 20,
     180, 600, '2026-01-01T09:00:00Z', '2026-01-02T09:00:00Z')`;

async function rest(token: string, method: string, pathname: string, body?: Record<string, unknown>) {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (method !== "GET") {
    const csrf = await (await fetch(`${api?.url}/api/security/csrf-token`, { headers })).json();
    headers["X-CSRF-Token"] = String((csrf as { csrf_token: string }).csrf_token);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(`${api?.url}${pathname}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.status < 400, `${method} ${pathname}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "propops-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${api?.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/** A tool call's answer: the API's envelope, the tool's text content. */
async function tool(client: Client, name: string, args: Record<string, unknown>) {
  const res = await client.callTool({ name, arguments: args });
  const body = JSON.parse((res.content as { text: string }[])[0]?.text ?? "{}") as Record<string, unknown>;
  assert.equal(res.isError, false, `${name}: ${JSON.stringify(body)}`);
  return body;
}

const clients: Client[] = [];

before(
  async () => {
    const port = await freePort();
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        try {
          received.push(JSON.parse(body));
        } catch {
          // not JSON: not ours
        }
        res.writeHead(200).end();
      });
    }).listen(port, "127.0.0.1");
    api = await startLocalApi({
      role: "admin",
      vars: { TRANSCODER_URL: "http://127.0.0.1:9", WEBHOOKS_ALLOW_LOOPBACK: "true" },
      sql: [
        "INSERT INTO contractors (id, uuid, name, email) VALUES (9101, 'c0000000-0000-4000-8000-000000009101', 'Portside Heating', 'heating@example.test')",
        ...staff.sql,
        ...manager.sql,
        ...contractor.sql,
        twin(JOB_MCP, "JOB-E2E-1"),
        twin(JOB_REST, "JOB-E2E-2"),
      ],
    });
    const admin = api.token;
    const sub = await rest(admin, "POST", "/api/admin/webhooks", {
      action: "create",
      url: `http://127.0.0.1:${port}/hooks`,
      event_types: [],
    });
    assert.ok(sub.secret);
  },
  { timeout: 180_000 },
);

async function cleanup() {
  for (const c of clients) await c.close().catch(() => {});
  await api?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
}
after(cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

/** A value with the twin's identities and all times replaced, for comparing the two channels. */
function normalised(value: unknown, ids: Record<string, string>): unknown {
  const text = Object.entries(ids).reduce((t, [from, to]) => t.replaceAll(from, to), JSON.stringify(value));
  return JSON.parse(text, (key, v) => {
    if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?Z$/.test(v)) return "<time>";
    // Other records' own ids (a note's, an amendment's): the jobs' were replaced above.
    if (typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) return "<uuid>";
    if (["uuid", "id", "ID", "job_id", "note_id", "etag", "request_id", "amendment_uuid"].includes(key)) return "<id>";
    return v;
  });
}

describe("MCP server end to end (wrangler dev + the SDK's Client)", () => {
  test("admin, staff and contractor list three different sets of tools", { timeout: 60_000 }, async () => {
    const lists: string[][] = [];
    for (const token of [api?.token ?? "", staff.token, contractor.token]) {
      const client = await connect(token);
      clients.push(client);
      assert.equal(client.getServerVersion()?.name, "propops-jobs-api");
      lists.push((await client.listTools()).tools.map((t) => t.name));
    }
    const [adminTools = [], staffTools = [], contractorTools = []] = lists;
    assert.equal(new Set(lists.map((l) => l.join())).size, 3);
    assert.ok(adminTools.includes("decideAmendmentRequest") && !staffTools.includes("decideAmendmentRequest"));
    assert.ok(staffTools.includes("createUpdateDeleteJob_update") && !contractorTools.includes("createUpdateDeleteJob_update"));
    assert.ok(contractorTools.includes("reportWork_accept"));
  });

  test("an assistant session matches the same calls over REST: job, notes, audit and webhooks", { timeout: 120_000 }, async () => {
    const assistant = await connect(staff.token);
    const boss = await connect(manager.token);
    clients.push(assistant, boss);

    // 1. Find the breached jobs.
    const sla = (await tool(assistant, "getSlaStatus", {})).data as { jobs_breached: number; breach_details: { job_uuid: string }[] };
    assert.equal(sla.jobs_breached, 2);
    assert.deepEqual(sla.breach_details.map((b) => b.job_uuid).sort(), [JOB_MCP, JOB_REST].sort());
    const restSla = (await rest(staff.token, "GET", "/api/jobs/sla-status")).data;
    assert.deepEqual(sla, restSla);
    // 2. Read one (the tool and the job:// resource).
    const read = await tool(assistant, "listOrGetJobs_get", { uuid: JOB_MCP });
    assert.equal((read.data as { job_ref: string }).job_ref, "JOB-E2E-1");
    const resource = await assistant.readResource({ uri: `job://${JOB_MCP}` });
    assert.match(String((resource.contents[0] as { text: string }).text), /^# JOB-E2E-1/);
    await rest(staff.token, "GET", `/api/jobs/manage?action=get&uuid=${JOB_REST}`);
    // 3. Add a note.
    const note = { message: "Chased Portside Heating: attending tomorrow 8–10am." };
    await tool(assistant, "createUpdateDeleteCaseNote_create", { job_uuid: JOB_MCP, ...note });
    await rest(staff.token, "POST", "/api/jobs/case-notes", { job_uuid: JOB_REST, ...note });
    // 4. Propose an amendment.
    const amendment = { field_name: "contractor_budget", requested_value: "240.00", reason: "Replacement diverter valve needed." };
    const proposed = await tool(assistant, "submitAmendmentRequest", { job_uuid: JOB_MCP, ...amendment });
    const proposedRest = await rest(staff.token, "POST", "/api/jobs/amend-request", { job_uuid: JOB_REST, ...amendment });
    // 5. The manager approves it.
    const pending = (await tool(boss, "listAmendmentRequests", { job_uuid: JOB_MCP, status: "pending" })).data as { uuid: string }[];
    assert.deepEqual(
      pending.map((p) => p.uuid),
      [proposed.uuid],
    );
    const decision = { status: "approved", decision_notes: "Agreed by phone." };
    await tool(boss, "decideAmendmentRequest", { uuid: proposed.uuid, ...decision });
    await rest(manager.token, "PATCH", "/api/jobs/amend-request", { uuid: proposedRest.uuid, ...decision });

    // The two channels left the same traces (read as the admin, over REST).
    const ids = { [JOB_MCP]: "<job>", [JOB_REST]: "<job>", "JOB-E2E-1": "<ref>", "JOB-E2E-2": "<ref>" };
    const both = async (pathOf: (uuid: string) => string) => {
      const [a, b] = [await rest(api?.token ?? "", "GET", pathOf(JOB_MCP)), await rest(api?.token ?? "", "GET", pathOf(JOB_REST))];
      return [a, b] as const;
    };
    const [jobA, jobB] = await both((u) => `/api/jobs/manage?action=get&uuid=${u}`);
    assert.equal((jobA.data as { contractor_budget: number }).contractor_budget, 240);
    assert.deepEqual(normalised(jobA.data, ids), normalised(jobB.data, ids));
    const [notesA, notesB] = await both((u) => `/api/jobs/case-notes?action=list&job_uuid=${u}`);
    assert.equal((notesA.data as unknown[]).length, 1);
    assert.deepEqual(normalised(notesA.data, ids), normalised(notesB.data, ids));
    const [auditA, auditB] = await both((u) => `/api/jobs/audit?job_uuid=${u}`);
    const trail = (a: Record<string, unknown>) => (a.data as Record<string, unknown>[]).map(({ via, ...e }) => ({ ...e, via }));
    const viaA = trail(auditA).map((e) => e.via);
    const viaB = trail(auditB).map((e) => e.via);
    assert.ok(viaA.length >= 3 && viaA.every((v) => v === "mcp"), JSON.stringify(viaA));
    assert.ok(
      viaB.every((v) => v === null),
      JSON.stringify(viaB),
    );
    const strip = (a: Record<string, unknown>) => trail(a).map(({ via: _v, ...e }) => e);
    assert.deepEqual(normalised(strip(auditA), ids), normalised(strip(auditB), ids));

    // Webhooks: the same events for each job, with the same data.
    const hooksFor = (uuid: string) => received.filter((r) => r.data.job_uuid === uuid);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (hooksFor(JOB_MCP).length < viaA.length || hooksFor(JOB_REST).length < viaB.length)) await sleep(250);
    const events = (uuid: string) =>
      normalised(
        hooksFor(uuid)
          .map(({ type, data }) => ({ type, data }))
          .sort((x, y) => x.type.localeCompare(y.type)),
        ids,
      );
    assert.ok(hooksFor(JOB_MCP).length >= 3, JSON.stringify(received));
    assert.deepEqual(events(JOB_MCP), events(JOB_REST));
  });

  test("the MCP inspector's CLI lists the tools against the local server", { timeout: 60_000 }, async () => {
    const bin = path.join(ROOT, "node_modules/@modelcontextprotocol/inspector-cli/build/cli.js");
    const { stdout } = await exec(
      process.execPath,
      [
        bin,
        "--cli",
        `${api?.url}/mcp`,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--header",
        `Authorization: Bearer ${staff.token}`,
      ],
      // From its own folder: the CLI finds its package.json relative to the working directory (inspector-cli 1.0.3).
      { cwd: path.dirname(bin), timeout: 50_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const listed = JSON.parse(stdout.slice(stdout.indexOf("{"))) as { tools: { name: string }[] };
    const client = await connect(staff.token);
    clients.push(client);
    assert.deepEqual(
      listed.tools.map((t) => t.name),
      (await client.listTools()).tools.map((t) => t.name),
    );
  });
});
