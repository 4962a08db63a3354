import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff", { name: "Staff Sam" });
});

const trail = (who: { token: string }, query: string) => api("GET", `/api/jobs/audit?${query}`, { token: who.token });

describe("GET /api/jobs/audit", () => {
  it("returns who, when, what and before/after, newest first, paginated", async () => {
    // A completed job, put there directly: the lifecycle's own steps would add events to this trail.
    const job = await createJob(staff, fx);
    await env.DB.prepare("UPDATE jobs SET status_id = 6 WHERE uuid = ?").bind(job.job_uuid).run();
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, job_title: "Boiler repair" }), 200);
    expectStatus(await send(staff, "POST", "/api/jobs/recall", { job_uuid: job.job_uuid, recall_reason: "Leak" }), 200);
    const res = await trail(staff, `job_uuid=${job.job_uuid}`);
    expectStatus(res, 200);
    expect(res.body.count).toBe(3);
    expect(res.body.message).toBe("Operation completed successfully");
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(["job.recalled", "job.updated", "job.created"]);
    expect(res.body.data[1]).toEqual({
      uuid: expect.any(String),
      action: "job.updated",
      actor_name: "Staff Sam",
      actor_user_id: staff.userId,
      changes: { job_title: { before: "Boiler Service - Unit 001", after: "Boiler repair" } },
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      // The HTTP API's changes: null ("mcp" through the MCP server, test/api/mcp/mcp.test.ts).
      via: null,
    });
    const page = await trail(staff, `job_uuid=${job.job_uuid}&limit=1&offset=1`);
    expectStatus(page, 200);
    expect(page.body.count).toBe(3);
    expect(page.body.data.map((e: { action: string }) => e.action)).toEqual(["job.updated"]);
  });

  it("names encrypted fields as changed without their values", async () => {
    const job = await createJob(staff, fx);
    expectStatus(
      await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, private_contact_name: "Jane Secret" }),
      200,
    );
    const res = await trail(staff, `job_uuid=${job.job_uuid}`);
    expect(res.body.data[0].changes).toEqual({ private_contact_name: { changed: true } });
    expect(JSON.stringify(res.body)).not.toContain("Jane Secret");
  });

  it("shows contractors only their own jobs' trails (others 404)", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const own = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const other = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const ok = await trail(contractor, `job_uuid=${own.job_uuid}`);
    expectStatus(ok, 200);
    expect(ok.body.count).toBe(1);
    const hidden = await trail(contractor, `job_uuid=${other.job_uuid}`);
    expectStatus(hidden, 404);
    expect(hidden.body.message).toBe("Job not found");
    expect(hidden.body.data).toBeUndefined();
  });

  it("never names to a contractor a job they cannot see (remedial links); their own and everyone's for staff", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const mine = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const alsoMine = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const foreign = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const foreignRemedial = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const link = (job_uuid: string, remedials_job_uuid: string) =>
      send(staff, "POST", "/api/jobs/remedials", { action: "link", job_uuid, remedials_job_uuid });
    // `mine` is a remedial of a foreign job and has a foreign remedial of its own; `alsoMine` of `mine`.
    expectStatus(await link(foreign.job_uuid, mine.job_uuid), 200);
    expectStatus(await link(mine.job_uuid, foreignRemedial.job_uuid), 200);
    expectStatus(await link(mine.job_uuid, alsoMine.job_uuid), 200);
    expectStatus(await send(staff, "POST", "/api/jobs/remedials", { action: "unlink", job_uuid: mine.job_uuid }), 200);

    const res = await trail(contractor, `job_uuid=${mine.job_uuid}`);
    expectStatus(res, 200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(foreign.job_ref);
    expect(text).not.toContain(foreignRemedial.job_ref);
    const changes = (action: string) =>
      res.body.data.filter((e: { action: string }) => e.action === action).map((e: { changes: unknown }) => e.changes);
    expect(changes("job.remedial_linked")).toEqual([{ remedial_parent: { changed: true } }]);
    expect(changes("job.remedial_unlinked")).toEqual([{ remedial_parent: { changed: true } }]);
    // A job the contractor sees is named as before.
    expect(changes("job.remedial_added")).toEqual([
      { remedial_job: { before: null, after: alsoMine.job_ref } },
      { remedial_job: { changed: true } },
    ]);

    // Staff see every job: the trail names them all.
    const asStaff = JSON.stringify((await trail(staff, `job_uuid=${mine.job_uuid}`)).body);
    for (const ref of [foreign.job_ref, foreignRemedial.job_ref, alsoMine.job_ref]) expect(asStaff).toContain(ref);
  });

  it("keeps a deleted job's trail readable by management; 404 for other roles and unknown uuids", async () => {
    const job = await createJob(staff, fx);
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: job.job_uuid }), 200);
    const manager = await actor("manager");
    const res = await trail(manager, `job_uuid=${job.job_uuid}`);
    expectStatus(res, 200);
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(["job.deleted", "job.created"]);
    const asStaff = await trail(staff, `job_uuid=${job.job_uuid}`);
    expectStatus(asStaff, 404);
    const unknown = await trail(manager, `job_uuid=${UNKNOWN_UUID}`);
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
  });

  it("validates its query (400) and needs a token (401)", async () => {
    const missing = await trail(staff, "");
    expectStatus(missing, 400);
    expect(missing.body.errors).toEqual([{ field: "job_uuid", message: "is required" }]);
    const badLimit = await trail(staff, `job_uuid=${UNKNOWN_UUID}&limit=500`);
    expectStatus(badLimit, 400);
    expect(badLimit.body.errors).toEqual([{ field: "limit", message: "must be at most 200" }]);
    expectStatus(await api("GET", `/api/jobs/audit?job_uuid=${UNKNOWN_UUID}`), 401);
  });
});
