import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { PERMISSIONS } from "../../../src/auth/permissions";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, makeUser, seedFixtures } from "../../support/helpers";
import { callTool, mcpPost, rpc, toolNames } from "../../support/mcp";
import { auditActions, jobRow, rows, send } from "../../support/workflow-helpers";

/**
 * The MCP server at /mcp (src/mcp/), through the Worker's own fetch: the SDK's server on its
 * Streamable HTTP transport, stateless, with the API's tokens, admission, use cases and audit.
 */

let fx: Fixtures;
let admin: Actor;
let manager: Actor;
let staff: Actor;
let contractor: Actor;
let otherContractor: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  admin = await actor("admin");
  manager = await actor("manager");
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId, name: "Contractor_001" });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId, name: "Contractor_002" });
});

const text = (r: { content: { text: string }[] }) => JSON.parse(r.content[0]?.text ?? "null");

describe("transport and initialize", () => {
  it("initializes at the newest protocol version, statelessly (no session id), with tools, resources and prompts", async () => {
    const res = await rpc(staff.token, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "test", version: "1" },
    });
    expectStatus(res as never, 200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    expect(res.body.result).toMatchObject({
      protocolVersion: "2025-11-25",
      capabilities: { tools: {}, resources: {}, prompts: {} },
      serverInfo: { name: "propops-jobs-api" },
    });
    expect(res.body.result.instructions).toMatch(/confirm: true/);
  });

  it("answers an older client at its own supported version", async () => {
    const res = await rpc(staff.token, "initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "old", version: "1" },
    });
    expect(res.body.result.protocolVersion).toBe("2025-06-18");
  });

  it("a notification is accepted with 202 and no body", async () => {
    const res = await mcpPost(staff.token, { jsonrpc: "2.0", method: "notifications/initialized" });
    expect(res.status).toBe(202);
    expect(res.body).toBe("");
  });

  it("refuses batches, bad JSON, an unsupported protocol version header and GET (no stream)", async () => {
    const batch = await mcpPost(staff.token, [
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
    ]);
    expect(batch.status).toBe(400);
    expect(batch.body.error.message).toMatch(/no batches/);
    const huge = await mcpPost(staff.token, { jsonrpc: "2.0", id: 9, method: "ping", params: { pad: "x".repeat(1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toMatch(/at most 1 MiB/);
    const bad = await mcpPost(staff.token, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(-32700);
    const version = await mcpPost(staff.token, { jsonrpc: "2.0", id: 3, method: "tools/list" }, { "MCP-Protocol-Version": "1999-01-01" });
    expect(version.status).toBe(400);
    expect(version.body.error.message).toMatch(/Unsupported protocol version/);
    const res = await exports.default.fetch(
      new Request("https://propops.test/mcp", { headers: { Authorization: `Bearer ${staff.token}`, Accept: "text/event-stream" } }),
    );
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("an unknown method is a JSON-RPC error", async () => {
    const res = await rpc(staff.token, "sampling/createMessage", {});
    expect(res.body.error.code).toBe(-32601);
  });
});

describe("auth: the API's bearer tokens", () => {
  it("401 with the API's envelope without a token, or with an unknown, revoked or expired one, before any JSON-RPC", async () => {
    const revoked = await makeUser("admin", { revokedAt: "2020-01-01T00:00:00Z" });
    const expired = await makeUser("admin", { expiresAt: "2020-01-01T00:00:00Z" });
    const forged = `pp_${staff.userUuid.replaceAll("-", "")}_${"A".repeat(43)}`;
    for (const [token, message] of [
      [undefined, /Missing bearer token/],
      [forged, /Invalid bearer token/],
      [revoked.token, /revoked/],
      [expired.token, /expired/],
    ] as const) {
      const res = await mcpPost(token, { jsonrpc: "2.0", id: 1, method: "initialize", params: {} });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code: "UNAUTHORIZED" });
      expect(res.body.message).toMatch(message);
    }
  });

  it("a token revoked through the API is refused at once", async () => {
    const victim = await actor("staff");
    expect(await toolNames(victim.token)).toContain("listOrGetJobs_list");
    const [row] = await rows<{ uuid: string }>("SELECT uuid FROM api_tokens WHERE id = ?", victim.tokenId);
    expectStatus(await send(victim, "POST", "/api/security/tokens", { action: "revoke", uuid: row?.uuid }), 200);
    const res = await rpc(victim.token, "tools/list");
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/revoked/);
  });

  it("CSRF does not apply: a write needs no CSRF token (the bearer token is a header, never a cookie)", async () => {
    const res = await callTool(staff.token, "toggleJobPin", { job_uuid: (await createJob(staff, fx)).job_uuid });
    expect(res.isError).toBe(false);
  });
});

describe("tools/list: only the tools the caller may use", () => {
  it("differs for admin, staff and contractor: management decisions for admins, no job writes for contractors", async () => {
    const [a, s, c] = [await toolNames(admin.token), await toolNames(staff.token), await toolNames(contractor.token)];
    expect(a).toContain("decideApprovalGate");
    expect(a).toContain("decideAmendmentRequest");
    expect(s).not.toContain("decideApprovalGate");
    expect(s).not.toContain("decideAmendmentRequest");
    expect(s).toContain("createUpdateDeleteJob_update");
    expect(c).not.toContain("createUpdateDeleteJob_create");
    expect(c).not.toContain("createUpdateDeleteJob_update");
    expect(c).not.toContain("recallJob");
    expect(c).not.toContain("listStaff");
    expect(c).toContain("submitAmendmentRequest");
    expect(c).toContain("reportWork_accept");
    expect(new Set([a.join(), s.join(), c.join()]).size).toBe(3);
    // Admin-only operations stay out of MCP: tokens, key rotation and webhooks are not an assistant's.
    expect(a.some((n) => /token|rotate|webhook/i.test(n))).toBe(false);
  });

  it("a token narrowed to the list permission lists the list tools only", async () => {
    const narrowed = await makeUser("admin", { permissions: ["api.jobs.manage.list"] });
    const names = await toolNames(narrowed.token);
    // The list permission reads what the list shows: a job (private fields null), its audit trail and
    // the live event stream (polled), as over REST.
    expect(names).toEqual(["listOrGetJobs_list", "listOrGetJobs_get", "listJobAuditEvents", "pollLiveEvents"]);
    const none = await makeUser("admin", { permissions: [] });
    expect(await toolNames(none.token)).toEqual([]);
  });

  it("a tool the token may not use is refused as unknown, like a tool that does not exist", async () => {
    const narrowed = await makeUser("admin", { permissions: PERMISSIONS.filter((p) => p !== "api.jobs.case_notes.manage") });
    const job = await createJob(staff, fx);
    for (const name of ["createUpdateDeleteCaseNote_create", "noSuchTool"]) {
      const res = await rpc(narrowed.token, "tools/call", { name, arguments: { job_uuid: job.job_uuid, message: "x" } });
      expect(res.body.error.code).toBe(-32602);
      expect(res.body.error.message).toMatch(new RegExp(`Unknown tool: ${name}$`));
    }
    expect(await rows("SELECT id FROM case_notes WHERE job_id = ?", job.job_id)).toEqual([]);
  });

  it("each tool has its operation's description, JSON Schema input and annotations", async () => {
    const res = await rpc(admin.token, "tools/list");
    const tools = res.body.result.tools as {
      name: string;
      description: string;
      inputSchema: { type: string; required?: string[]; properties: Record<string, unknown> };
      annotations: Record<string, unknown>;
    }[];
    const get = tools.find((t) => t.name === "listOrGetJobs_get");
    expect(get?.inputSchema).toMatchObject({ type: "object", required: ["uuid"] });
    expect(get?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(get?.description).toMatch(/Required permission: api\.jobs\.manage\.list/);
    const del = tools.find((t) => t.name === "createUpdateDeleteJob_delete");
    expect(del?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(del?.inputSchema.required).toContain("confirm");
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object");
      // `action` is the tool's, never an argument.
      expect(t.inputSchema.properties.action).toBeUndefined();
      expect(t.inputSchema.required ?? []).not.toContain("action");
    }
  });
});

describe("tools/call", () => {
  it("reads a job with its next statuses, as GET /api/jobs/manage?action=get answers", async () => {
    const job = await createJob(staff, fx);
    const res = await callTool(staff.token, "listOrGetJobs_get", { uuid: job.job_uuid });
    expect(res.isError).toBe(false);
    const rest = await api("GET", `/api/jobs/manage?action=get&uuid=${job.job_uuid}`, { token: staff.token });
    expect(text(res)).toEqual(rest.body);
    expect(res._meta).toEqual({ "propops/status": 200 });
    expect(text(res).data.next_statuses).toBeDefined();
  });

  it("lists jobs with the reference filters (numbers and flags as JSON values)", async () => {
    const job = await createJob(staff, fx, { job_title: "MCP filter probe", priority_id: 3 });
    const res = await callTool(staff.token, "listOrGetJobs_list", { search: "MCP filter probe", priority_id: 3, limit: 5 });
    expect(res.isError).toBe(false);
    expect(text(res).data.map((j: { uuid: string }) => j.uuid)).toEqual([job.job_uuid]);
  });

  it("creates, adds a note, lists notes and toggles a pin", async () => {
    const created = await callTool(staff.token, "createUpdateDeleteJob_create", {
      job_title: "Leaking tap - Flat 2",
      job_description: "Kitchen tap drips constantly.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: fx.addressId,
      contractor_id: fx.contractorId,
    });
    expect(created.isError).toBe(false);
    expect(created._meta["propops/status"]).toBe(201);
    const uuid = text(created).job_uuid as string;
    const note = await callTool(staff.token, "createUpdateDeleteCaseNote_create", { job_uuid: uuid, message: "Tenant called again." });
    expect(note._meta["propops/status"]).toBe(201);
    const notes = await callTool(staff.token, "listCaseNotesOrDownloadAttachment_list", { job_uuid: uuid });
    expect(text(notes).data.map((n: { message: string }) => n.message)).toEqual(["Tenant called again."]);
    const pin = await callTool(staff.token, "toggleJobPin", { job_uuid: uuid });
    expect(text(pin)).toMatchObject({ success: true });
    expect(await auditActions(uuid)).toEqual(expect.arrayContaining(["job.created", "case_note.created"]));
  });

  it("bad arguments: a tool error (isError) with the API's message and field errors, nothing written", async () => {
    const job = await createJob(staff, fx);
    const before = await jobRow(job.job_uuid);
    const res = await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, priority_id: "high" });
    expect(res.isError).toBe(true);
    const rest = await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, priority_id: "high" });
    expectStatus(rest, 400);
    expect(text(res)).toMatchObject({ success: false, code: "BAD_REQUEST", message: rest.body.message, errors: rest.body.errors });
    expect(res._meta["propops/status"]).toBe(400);
    const unknown = await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, is_admin: true });
    expect(text(unknown).errors).toEqual([{ field: "is_admin", message: "is not a known field" }]);
    const notObject = await rpc(staff.token, "tools/call", { name: "listOrGetJobs_get", arguments: "uuid" });
    expect(notObject.body.error?.code ?? notObject.body.result?.isError).toBeTruthy();
    expect(await jobRow(job.job_uuid)).toEqual(before);
  });

  it("a contractor on another contractor's job gets the API's own 'not found', on every job tool", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const rest = await api("GET", `/api/jobs/manage?action=get&uuid=${job.job_uuid}`, { token: otherContractor.token });
    expectStatus(rest, 404);
    for (const [name, args] of [
      ["listOrGetJobs_get", { uuid: job.job_uuid }],
      ["listCaseNotesOrDownloadAttachment_list", { job_uuid: job.job_uuid }],
      ["createUpdateDeleteCaseNote_create", { job_uuid: job.job_uuid, message: "Let me in" }],
      ["submitAmendmentRequest", { job_uuid: job.job_uuid, field_name: "contractor_budget", requested_value: "999", reason: "x" }],
      ["reportWork_accept", { job_uuid: job.job_uuid }],
      ["listJobAuditEvents", { job_uuid: job.job_uuid }],
      ["listAmendableFields", { job_uuid: job.job_uuid }],
      ["toggleJobPin", { job_uuid: job.job_uuid }],
    ] as const) {
      const res = await callTool(otherContractor.token, name, args);
      expect(res.isError, name).toBe(true);
      expect(res._meta["propops/status"], name).toBe(404);
      expect(text(res).message, name).toBe(rest.body.message);
    }
    // …and the job's own contractor reads it.
    expect((await callTool(contractor.token, "listOrGetJobs_get", { uuid: job.job_uuid })).isError).toBe(false);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });

  it("private fields only to the roles the API returns them to", async () => {
    const job = await createJob(staff, fx, { private_contact_name: "Priya Private", contractor_id: fx.contractorId });
    const bystaff = text(await callTool(staff.token, "listOrGetJobs_get", { uuid: job.job_uuid }));
    const bycontractor = text(await callTool(contractor.token, "listOrGetJobs_get", { uuid: job.job_uuid }));
    expect(bystaff.data.private_contact_name).toBe("Priya Private");
    expect(bycontractor.data.private_contact_name).toBeNull();
  });
});

describe("the approval gate cannot be walked around through any tool", () => {
  it("a job Awaiting Approval leaves only through decideApprovalGate, by management", async () => {
    const job = await createJob(staff, fx, { status_id: 2, contractor_id: fx.contractorId });
    const before = await jobRow(job.job_uuid);
    const attempts: [Actor, string, Record<string, unknown>][] = [
      [admin, "createUpdateDeleteJob_update", { uuid: job.job_uuid, status_id: 3 }],
      [manager, "createUpdateDeleteJob_update", { uuid: job.job_uuid, status_id: 4 }],
      [staff, "createUpdateDeleteJob_update", { uuid: job.job_uuid, status_id: 1 }],
      [admin, "reportWork_start", { job_uuid: job.job_uuid }],
      [contractor, "reportWork_start", { job_uuid: job.job_uuid }],
      [admin, "reportWork_complete", { job_uuid: job.job_uuid, completion_note: "done" }],
      [admin, "reportWork_sign_off", { job_uuid: job.job_uuid }],
      [admin, "recallJob", { job_uuid: job.job_uuid, is_recall: 1, recall_reason: "x" }],
      [admin, "markRecallCompleted", { job_uuid: job.job_uuid }],
      [contractor, "submitAmendmentRequest", { job_uuid: job.job_uuid, field_name: "status_id", requested_value: 3, reason: "x" }],
    ];
    for (const [who, name, args] of attempts) {
      const res = await callTool(who.token, name, args);
      expect(res.isError, `${who.role} ${name}: ${JSON.stringify(text(res))}`).toBe(true);
      expect(res._meta["propops/status"]).toBeGreaterThanOrEqual(400);
    }
    // Staff are not offered the gate at all.
    expect(
      (await rpc(staff.token, "tools/call", { name: "decideApprovalGate", arguments: { job_uuid: job.job_uuid, decision: "approve" } }))
        .body.error.code,
    ).toBe(-32602);
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await rows("SELECT id FROM amendment_requests WHERE job_id = ?", job.job_id)).toEqual([]);
    // A job cannot be created past the gate by staff either.
    const past = await callTool(staff.token, "createUpdateDeleteJob_create", {
      job_title: "Skip the gate",
      job_description: "x",
      priority_id: 2,
      status_id: 3,
      job_type_id: 3,
      address_id: fx.addressId,
    });
    expect(past.isError).toBe(true);
    // The gate itself, by a manager, moves it on.
    const ok = await callTool(manager.token, "decideApprovalGate", { job_uuid: job.job_uuid, decision: "approve", notes: "Fine" });
    expect(text(ok)).toEqual({ success: true, message: "Job approved and progressed to next status" });
    expect((await jobRow(job.job_uuid))?.status_id).toBe(3);
  });
});

describe("destructive tools ask for confirm", () => {
  it("delete without confirm: true is refused with a tool error, and nothing is deleted", async () => {
    const job = await createJob(staff, fx);
    for (const args of [{ uuid: job.job_uuid }, { uuid: job.job_uuid, confirm: false }, { uuid: job.job_uuid, confirm: "true" }]) {
      const res = await callTool(admin.token, "createUpdateDeleteJob_delete", args);
      expect(res.isError).toBe(true);
      expect(text(res)).toMatchObject({ code: "BAD_REQUEST", errors: [{ field: "confirm", message: "must be true" }] });
    }
    expect(await jobRow(job.job_uuid)).not.toBeNull();
    const res = await callTool(admin.token, "createUpdateDeleteJob_delete", { uuid: job.job_uuid, confirm: true });
    expect(res.isError, JSON.stringify(text(res))).toBe(false);
  });

  it("an update that cancels the job needs confirm too; other updates do not", async () => {
    const job = await createJob(staff, fx);
    const refused = await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, status_id: 8 });
    expect(refused.isError).toBe(true);
    expect(text(refused).message).toMatch(/^confirm: must be true: status_id Cancelled cancels the job/);
    expect((await jobRow(job.job_uuid))?.status_id).toBe(1);
    expect((await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, job_title: "Renamed" })).isError).toBe(false);
    const ok = await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, status_id: 8, confirm: true });
    expect(ok.isError, JSON.stringify(text(ok))).toBe(false);
    expect((await jobRow(job.job_uuid))?.status_id).toBe(8);
  });
});

describe("idempotency and audit", () => {
  it("the same request id twice makes one change and answers the same", async () => {
    const job = await createJob(staff, fx);
    const args = { job_uuid: job.job_uuid, message: "Chased the contractor by phone." };
    const first = await callTool(staff.token, "createUpdateDeleteCaseNote_create", args, "req-note-1");
    const again = await callTool(staff.token, "createUpdateDeleteCaseNote_create", args, "req-note-1");
    expect(again).toEqual(first);
    expect(await rows("SELECT id FROM case_notes WHERE job_id = ?", job.job_id)).toHaveLength(1);
    // Another id is another call.
    await callTool(staff.token, "createUpdateDeleteCaseNote_create", args, "req-note-2");
    expect(await rows("SELECT id FROM case_notes WHERE job_id = ?", job.job_id)).toHaveLength(2);
  });

  it("a client's own _meta.idempotency_key is the key, across request ids", async () => {
    const job = await createJob(staff, fx);
    const call = (id: number) =>
      rpc(
        staff.token,
        "tools/call",
        {
          name: "createUpdateDeleteCaseNote_create",
          arguments: { job_uuid: job.job_uuid, message: "Once" },
          _meta: { idempotency_key: `k-${job.job_uuid}` },
        },
        id,
      );
    await call(101);
    await call(102);
    expect(await rows("SELECT id FROM case_notes WHERE job_id = ?", job.job_id)).toHaveLength(1);
  });

  it("every change through MCP records via='mcp' on its audit event; REST changes record null", async () => {
    const job = await createJob(staff, fx);
    await callTool(staff.token, "createUpdateDeleteJob_update", { uuid: job.job_uuid, job_title: "Via MCP" });
    const events = await rows<{ action: string; via: string | null }>(
      "SELECT action, via FROM audit_events WHERE job_uuid = ? ORDER BY id",
      job.job_uuid,
    );
    expect(events).toEqual([
      { action: "job.created", via: null },
      { action: "job.updated", via: "mcp" },
    ]);
    const trail = await callTool(staff.token, "listJobAuditEvents", { job_uuid: job.job_uuid });
    expect(text(trail).data.map((e: { via: string | null }) => e.via)).toEqual(expect.arrayContaining(["mcp", null]));
  });
});

describe("resources and prompts", () => {
  it("job://{uuid} reads the job, its notes and its timeline as Markdown; another contractor's job is not found", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    await send(staff, "POST", "/api/jobs/case-notes", { job_uuid: job.job_uuid, message: "Access via the side gate." });
    const templates = await rpc(staff.token, "resources/templates/list");
    expect(templates.body.result.resourceTemplates[0]).toMatchObject({ uriTemplate: "job://{uuid}", mimeType: "text/markdown" });
    const res = await rpc(staff.token, "resources/read", { uri: `job://${job.job_uuid}` });
    const content = res.body.result.contents[0];
    expect(content).toMatchObject({ uri: `job://${job.job_uuid}`, mimeType: "text/markdown" });
    expect(content.text).toContain(`# ${job.job_ref}`);
    expect(content.text).toContain("Access via the side gate.");
    expect(content.text).toContain("job.created");
    const foreign = await rpc(otherContractor.token, "resources/read", { uri: `job://${job.job_uuid}` });
    expect(foreign.body.error).toMatchObject({ code: -32002 });
    const bad = await rpc(staff.token, "resources/read", { uri: "file:///etc/passwd" });
    expect(bad.body.error).toMatchObject({ code: -32002 });
  });

  it("prompts list and render with their arguments", async () => {
    const list = await rpc(staff.token, "prompts/list");
    expect(list.body.result.prompts.map((p: { name: string }) => p.name)).toEqual([
      "triage_breach_list",
      "draft_contractor_chase",
      "summarise_job_for_landlord",
    ]);
    const uuid = "550e8400-e29b-41d4-a716-446655440000";
    const got = await rpc(staff.token, "prompts/get", { name: "draft_contractor_chase", arguments: { job_uuid: uuid } });
    expect(got.body.result.messages[0]).toMatchObject({ role: "user", content: { type: "text" } });
    expect(got.body.result.messages[0].content.text).toContain(`job://${uuid}`);
    const unknown = await rpc(staff.token, "prompts/get", { name: "nope" });
    expect(unknown.body.error.code).toBe(-32602);
  });
});

describe("rate limits apply per token", () => {
  it("tool calls count against the token's limit like API requests: past it, 429 with the API's envelope", async () => {
    // The bindings count in wall-clock windows: start early in one so the run does not straddle two.
    const into = (Date.now() / 1000) % 60;
    if (into > 30) await new Promise((r) => setTimeout(r, (60 - into) * 1000 + 50));
    const limit = Number(env.RATE_LIMIT_PER_TOKEN);
    const caller = await makeUser("staff");
    let limited: Awaited<ReturnType<typeof rpc>> | undefined;
    for (let i = 0; i <= limit + 5 && !limited; i++) {
      const res = await rpc(caller.token, "ping");
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited?.body).toMatchObject({ success: false, code: "RATE_LIMITED" });
    expect(limited?.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(limited?.headers.get("RateLimit-Policy")).toContain('"token";q=');
  }, 120_000);
});
