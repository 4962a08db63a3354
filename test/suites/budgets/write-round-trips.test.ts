/**
 * D1 round trips per write, counted (D1_METRICS=on gives X-D1-Round-Trips): the budget is two,
 * the token check and one batch, or the token check folded into the read a change needs and then
 * the write. Media uploads also talk to R2 and the queue; only their D1 calls are counted here.
 */

import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Actor,
  type ApiResponse,
  actor,
  api,
  createJob,
  csrfFor,
  expectStatus,
  type Fixtures,
  makeUser,
  seedFixtures,
} from "../../support/helpers";
import { seedStatus, send } from "../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let manager: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  manager = await actor("manager");
});

const trips = (res: ApiResponse) => Number(res.headers.get("X-D1-Round-Trips"));

describe("D1 round trips per write", () => {
  it("every write of the reference takes at most two", async () => {
    const figures: Record<string, number> = {};
    const measure = async (name: string, res: Promise<ApiResponse>, status = 200) => {
      const r = await res;
      expectStatus(r, status);
      figures[name] = trips(r);
    };
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const other = await createJob(staff, fx);
    const uuid = job.job_uuid;
    await measure(
      "create",
      send(staff, "POST", "/api/jobs/manage", {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
      }),
      201,
    );
    await measure("update", send(staff, "POST", "/api/jobs/manage", { action: "update", uuid, job_title: "Renamed" }));
    await measure(
      "update with references",
      send(staff, "POST", "/api/jobs/manage", { action: "update", uuid, priority_id: 1, job_type_id: 2 }),
    );
    // A recall needs a completed job: seeded, the lifecycle's own writes are measured below.
    await seedStatus(uuid, 6);
    await measure("case note", send(staff, "POST", "/api/jobs/case-notes", { action: "create", job_uuid: uuid, message: "Hello" }), 201);
    await measure("toggle-pin", send(staff, "POST", "/api/jobs/toggle-pin", { job_uuid: uuid }));
    await measure(
      "amend-request",
      send(contractor, "POST", "/api/jobs/amend-request", {
        job_uuid: uuid,
        field_name: "contractor_budget",
        requested_value: "220.00",
        reason: "More materials",
      }),
      201,
    );
    await measure(
      "remedials link",
      send(staff, "POST", "/api/jobs/remedials", { action: "link", job_uuid: uuid, remedials_job_uuid: other.job_uuid }),
    );
    await measure("recall", send(staff, "POST", "/api/jobs/recall", { job_uuid: uuid, recall_reason: "Still leaking" }));
    await measure("mark-recall-completed", send(staff, "POST", "/api/jobs/mark-recall-completed", { job_uuid: uuid }));
    await measure(
      "update to a gated status",
      send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: other.job_uuid, status_id: 2 }),
    );
    await measure(
      "approval-gate decide",
      send(manager, "POST", "/api/jobs/approval-gate", { job_uuid: other.job_uuid, decision: "approve" }),
    );
    const request = await env.DB.prepare("SELECT uuid FROM amendment_requests ORDER BY id DESC LIMIT 1").first<{ uuid: string }>();
    await measure("amend-request decide", send(manager, "PATCH", "/api/jobs/amend-request", { uuid: request?.uuid, status: "rejected" }));
    const note = await env.DB.prepare("SELECT uuid FROM case_notes ORDER BY id DESC LIMIT 1").first<{ uuid: string }>();
    await measure("case note edit", send(staff, "POST", "/api/jobs/case-notes", { action: "update", uuid: note?.uuid, message: "Edited" }));
    await measure("case note delete", send(staff, "POST", "/api/jobs/case-notes", { action: "delete", uuid: note?.uuid }));
    await measure("delete", send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: other.job_uuid }));
    const minted = await send(staff, "POST", "/api/security/tokens", { action: "create", name: "round trips" });
    expectStatus(minted, 201);
    figures["token create"] = trips(minted);
    await measure("token revoke", send(staff, "POST", "/api/security/tokens", { action: "revoke", uuid: minted.body.token_info.uuid }));
    console.log("D1 round trips per write", figures);
    expect(Object.entries(figures).filter(([, n]) => n > 2)).toEqual([]);
  });

  // With an Idempotency-Key the key rides in the handler's own batches (looked up in its first
  // read, inserted by its write) and the answer is stored after it is sent: no round trip more than
  // without one. A create's replay meets the key at its write (one failed batch, one look-up).
  it("with an Idempotency-Key: as many as without one (one for a create, two for an update); a replay takes at most two", async () => {
    const job = await createJob(staff, fx);
    const withKey = (key: string, body: Record<string, unknown>) =>
      api("POST", "/api/jobs/manage", { token: staff.token, csrf: staff.csrf, body, headers: { "Idempotency-Key": key } });
    const create = {
      action: "create",
      job_title: "Keyed",
      job_description: "D",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: fx.addressId,
    };
    const figures: Record<string, number> = {};
    for (const [name, body, status] of [
      ["create", create, 201],
      ["update", { action: "update", uuid: job.job_uuid, job_title: "Keyed again" }, 200],
    ] as const) {
      const key = crypto.randomUUID();
      const first = await withKey(key, body);
      expectStatus(first, status);
      figures[name] = trips(first);
      const replay = await withKey(key, body);
      expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
      figures[`${name} replay`] = trips(replay);
    }
    console.log("D1 round trips per write with an Idempotency-Key", figures);
    expect(figures).toEqual({ create: 1, "create replay": 2, update: 2, "update replay": 1 });
  });

  // The token check rides in the write's first read: admission (token, permission, policy, rate
  // limit, CSRF) must still refuse before anything is written, with a body that would succeed.
  it("a valid write with a foreign CSRF token, a revoked token or a refused role changes nothing", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const uuid = job.job_uuid;
    const other = await actor("staff");
    const revoked = await makeUser("admin", { revokedAt: "2020-01-01T00:00:00Z" });
    const state = () =>
      env.DB.prepare(
        "SELECT (SELECT version FROM jobs WHERE uuid = ?1) AS version, (SELECT count(*) FROM audit_events WHERE job_uuid = ?1) AS events, (SELECT count(*) FROM case_notes) AS notes, (SELECT count(*) FROM amendment_requests) AS requests",
      )
        .bind(uuid)
        .first();
    const before = await state();
    const writes: [string, string, Record<string, unknown>][] = [
      ["POST", "/api/jobs/manage", { action: "update", uuid, job_title: "Forged" }],
      ["POST", "/api/jobs/manage", { action: "delete", uuid }],
      ["POST", "/api/jobs/case-notes", { action: "create", job_uuid: uuid, message: "Forged" }],
      ["POST", "/api/jobs/amend-request", { job_uuid: uuid, field_name: "job_title", requested_value: "Forged", reason: "x" }],
      ["POST", "/api/jobs/recall", { job_uuid: uuid, recall_reason: "Forged" }],
    ];
    const foreign = await csrfFor(other.token);
    for (const [method, path, body] of writes) {
      const forged = await api(method, path, { token: staff.token, csrf: foreign, body });
      expectStatus(forged, 403);
      expect(forged.body.code).toBe("CSRF_INVALID");
      const gone = await api(method, path, { token: revoked.token, body });
      expectStatus(gone, 401);
    }
    const refused = await send(contractor, "POST", "/api/jobs/manage", { action: "update", uuid, job_title: "Forged" });
    expectStatus(refused, 403);
    expect(refused.body.message).toMatch(/^Contractors cannot create, update or delete jobs/);
    const gate = await send(staff, "POST", "/api/jobs/approval-gate", { job_uuid: uuid, decision: "approve" });
    expectStatus(gate, 403);
    expect(await state()).toEqual(before);
  });
});
