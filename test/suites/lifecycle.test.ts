import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";
import { auditActions, jobRow, send } from "../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let manager: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  manager = await actor("manager");
});

describe("the job lifecycle is enforced on every channel", () => {
  it("staff cannot walk around the approval gate with action=update (409 APPROVAL_REQUIRED, job unchanged)", async () => {
    const job = await createJob(staff, fx, { status_id: 2 });
    const gate = await send(staff, "POST", "/api/jobs/approval-gate", { job_uuid: job.job_uuid, decision: "approve" });
    expectStatus(gate, 403);
    expect(gate.body.message).toBe("Only managers and admins can decide approval gates");
    const before = await jobRow(job.job_uuid);
    const res = await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 3 });
    expectStatus(res, 409);
    expect(res.body.code).toBe("APPROVAL_REQUIRED");
    expect(res.body.current_status).toEqual({ status_id: 2, status_name: "Awaiting Approval" });
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
    // Not even a manager leaves the gate by update: the gate is the only way out.
    const byManager = await send(manager, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 3 });
    expectStatus(byManager, 409);
    expect(byManager.body.code).toBe("APPROVAL_REQUIRED");
    expect(byManager.body.next_statuses.map((s: { via: string }) => s.via)).toEqual(["approval_gate", "approval_gate"]);
  });

  it("staff cannot move a job from Open straight to Completed (409 TRANSITION_NOT_ALLOWED, next statuses named)", async () => {
    const job = await createJob(staff, fx, { status_id: 1 });
    const before = await jobRow(job.job_uuid);
    const res = await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 6 });
    expectStatus(res, 409);
    expect(res.body.code).toBe("TRANSITION_NOT_ALLOWED");
    expect(res.body.current_status).toEqual({ status_id: 1, status_name: "Open" });
    expect(res.body.next_statuses.map((s: { status_name: string }) => s.status_name)).toEqual(["Awaiting Approval", "Cancelled"]);
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });
});
