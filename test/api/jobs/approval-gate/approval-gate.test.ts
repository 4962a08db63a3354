import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { archivedJob, auditActions, jobRow, rows, send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let manager: Actor;
let admin: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  manager = await actor("manager");
  admin = await actor("admin");
});

const gate = (who: Actor, body: Record<string, unknown>) => send(who, "POST", "/api/jobs/approval-gate", body);
const awaitingJob = () => createJob(staff, fx, { status_id: 2 });
const decisionsOf = (jobId: number) => rows("SELECT * FROM approval_decisions WHERE job_id = ? ORDER BY id", jobId);

describe("POST /api/jobs/approval-gate", () => {
  it("approves a job awaiting approval: moves it on, records the decision and its notes", async () => {
    const job = await awaitingJob();
    const res = await gate(manager, { job_uuid: job.job_uuid, decision: "approve", notes: "Checked on site — proceed." });
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Job approved and progressed to next status" });
    expect((await jobRow(job.job_uuid))?.status_id).toBe(3);
    const [d] = await decisionsOf(job.job_id);
    expect(d).toMatchObject({
      decision: "approve",
      notes: "Checked on site — proceed.",
      from_status_id: 2,
      to_status_id: 3,
      decided_by: manager.userId,
    });
    const [event] = await rows<{ changes: string; actor_name: string }>(
      "SELECT changes, actor_name FROM audit_events WHERE job_uuid = ? AND action = 'job.approval_approved'",
      job.job_uuid,
    );
    expect(JSON.parse(String(event?.changes))).toEqual({
      status_id: { before: 2, after: 3 },
      approval_notes: { before: null, after: "Checked on site — proceed." },
    });
  });

  it("rejects back to the status the workflow defines (Awaiting Approval → Open)", async () => {
    const job = await awaitingJob();
    const res = await gate(admin, { job_uuid: job.job_uuid, decision: "reject", notes: "Quote too high" });
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Job rejected and returned to Open" });
    expect((await jobRow(job.job_uuid))?.status_id).toBe(1);
    expect((await decisionsOf(job.job_id)).map((d) => [d.decision, d.to_status_id])).toEqual([["reject", 1]]);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "job.approval_rejected"]);
  });

  it("refuses a job that is not at an approval gate (409), changing nothing", async () => {
    const job = await createJob(staff, fx, { status_id: 1 });
    const before = await jobRow(job.job_uuid);
    const res = await gate(manager, { job_uuid: job.job_uuid, decision: "approve" });
    expectStatus(res, 409);
    expect(res.body.message).toBe("This job is not at an approval gate; its status (Open) does not require approval");
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await decisionsOf(job.job_id)).toEqual([]);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });

  it("refuses non-management callers (403), changing nothing", async () => {
    const job = await awaitingJob();
    const before = await jobRow(job.job_uuid);
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    for (const who of [staff, await actor("agent"), contractor]) {
      const res = await gate(who, { job_uuid: job.job_uuid, decision: "approve" });
      expectStatus(res, 403);
      expect(res.body.message).toBe("Only managers and admins can decide approval gates");
    }
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await decisionsOf(job.job_id)).toEqual([]);
  });

  it("answers 404 for unknown jobs and 403 for archived ones", async () => {
    const unknown = await gate(manager, { job_uuid: UNKNOWN_UUID, decision: "approve" });
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
    const job = await archivedJob(staff, fx);
    const before = await jobRow(job.job_uuid);
    const res = await gate(manager, { job_uuid: job.job_uuid, decision: "reject" });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    expect(await jobRow(job.job_uuid)).toEqual(before);
  });

  it("validates the decision (400)", async () => {
    const job = await awaitingJob();
    const res = await gate(manager, { job_uuid: job.job_uuid, decision: "maybe" });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([{ field: "decision", message: "must be approve or reject" }]);
    expect((await jobRow(job.job_uuid))?.status_id).toBe(2);
  });

  it("lets exactly one of two concurrent decisions win", async () => {
    const job = await awaitingJob();
    const results = await Promise.all([
      gate(manager, { job_uuid: job.job_uuid, decision: "approve" }),
      gate(admin, { job_uuid: job.job_uuid, decision: "reject" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await decisionsOf(job.job_id)).toHaveLength(1);
    expect((await auditActions(job.job_uuid)).filter((a) => a.startsWith("job.approval_"))).toHaveLength(1);
  });
});
