import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, getJob, seedFixtures } from "../../../support/helpers";
import { archivedJob, auditActions, jobInStatus, jobRow, rows, send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let manager: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  manager = await actor("manager");
});

const completedJob = () => jobInStatus(staff, fx, 6);
const recall = (who: Actor, body: Record<string, unknown>, as: "json" | "form" = "json") => send(who, "POST", "/api/jobs/recall", body, as);
const recallsOf = (jobId: number) => rows("SELECT * FROM recalls WHERE job_id = ? ORDER BY id", jobId);

describe("POST /api/jobs/recall (is_recall=1)", () => {
  it("recalls a completed job as the reference shows: Recalled, SLA clock restarted, recall recorded", async () => {
    const job = await completedJob();
    const before = await jobRow(job.job_uuid);
    expect(before?.completed_at).not.toBeNull();
    const started = Date.now();
    const res = await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Repair was unsuccessful" }, "form");
    expectStatus(res, 200);
    expect(res.body).toEqual({
      success: true,
      message: "Job marked as recalled successfully",
      job_id: job.job_id,
      job_ref: job.job_ref,
      is_recall: 1,
      action: "marked as recalled",
    });
    const after = await jobRow(job.job_uuid);
    expect(after).toMatchObject({ status_id: 5, is_recall: 1, completed_at: null });
    const slaStart = Date.parse(String(after?.sla_started_at));
    expect(slaStart).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
    // Medium priority: 72 hours.
    expect(Date.parse(String(after?.sla_deadline)) - slaStart).toBe(72 * 3_600_000);
    const [r] = await recallsOf(job.job_id);
    expect(r).toMatchObject({ reason: "Repair was unsuccessful", previous_status_id: 6, raised_by: staff.userId, outcome: null });
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "job.recalled"]);
    const listed = await getJob(staff, job.job_uuid);
    expect(listed.is_recall).toBe(1);
    expect(listed.status_name).toBe("Recalled");
  });

  it("refuses to recall a job that is not completed (409), changing nothing", async () => {
    const job = await createJob(staff, fx);
    const before = await jobRow(job.job_uuid);
    const res = await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Not done" });
    expectStatus(res, 409);
    expect(res.body.message).toBe("Only a completed job can be recalled; this job is Open");
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await recallsOf(job.job_id)).toEqual([]);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });

  it("refuses to recall a job already in recall (409)", async () => {
    const job = await completedJob();
    expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: "First" }), 200);
    const before = await jobRow(job.job_uuid);
    const res = await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Second" });
    expectStatus(res, 409);
    expect(res.body.message).toBe("This job is already marked as a recall");
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await recallsOf(job.job_id)).toHaveLength(1);
  });

  it("requires recall_reason when recalling (400)", async () => {
    const job = await completedJob();
    const before = await jobRow(job.job_uuid);
    const res = await recall(staff, { job_uuid: job.job_uuid });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([{ field: "recall_reason", message: "is required when is_recall is 1" }]);
    expect(await jobRow(job.job_uuid)).toEqual(before);
  });

  it("rejects bad is_recall / action_type values (400)", async () => {
    const job = await completedJob();
    const res = await recall(staff, { job_uuid: job.job_uuid, recall_reason: "x", is_recall: 2 });
    expectStatus(res, 400);
    expect(res.body.errors[0].field).toBe("is_recall");
    const res2 = await recall(staff, { job_uuid: job.job_uuid, is_recall: 0, action_type: "undo" });
    expectStatus(res2, 400);
    expect(res2.body.errors[0]).toEqual({ field: "action_type", message: "must be standard or cancel" });
    expect((await jobRow(job.job_uuid))?.status_id).toBe(6);
  });

  it("answers 404 for an unknown job and 403 for an archived one, changing nothing", async () => {
    const unknown = await recall(staff, { job_uuid: UNKNOWN_UUID, recall_reason: "x" });
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
    const job = await archivedJob(staff, fx);
    const before = await jobRow(job.job_uuid);
    const res = await recall(staff, { job_uuid: job.job_uuid, recall_reason: "x" });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await recallsOf(job.job_id)).toEqual([]);
  });

  it("is refused to contractors, who do not hold api.jobs.recall.manage (403)", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const job = await completedJob();
    const res = await recall(contractor, { job_uuid: job.job_uuid, recall_reason: "x" });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Missing permission: api.jobs.recall.manage");
    expect((await jobRow(job.job_uuid))?.is_recall).toBe(0);
  });

  it("lets exactly one of two concurrent recalls win", async () => {
    const job = await completedJob();
    const results = await Promise.all([
      recall(staff, { job_uuid: job.job_uuid, recall_reason: "A" }),
      recall(manager, { job_uuid: job.job_uuid, recall_reason: "B" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await recallsOf(job.job_id)).toHaveLength(1);
    expect((await auditActions(job.job_uuid)).filter((a) => a === "job.recalled")).toHaveLength(1);
  });
});

describe("POST /api/jobs/recall (is_recall=0)", () => {
  it("completes the recall (action_type=standard): Completed again, completion time now, outcome recorded", async () => {
    const job = await completedJob();
    expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Leak returned" }), 200);
    const res = await recall(manager, { job_uuid: job.job_uuid, is_recall: 0, action_type: "standard" }, "form");
    expectStatus(res, 200);
    expect(res.body).toEqual({
      success: true,
      message: "Recall completed successfully",
      job_id: job.job_id,
      job_ref: job.job_ref,
      is_recall: 0,
      action: "recall completed",
    });
    const after = await jobRow(job.job_uuid);
    expect(after).toMatchObject({ status_id: 6, is_recall: 0 });
    expect(after?.completed_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const [r] = await recallsOf(job.job_id);
    expect(r).toMatchObject({ outcome: "completed", closed_by: manager.userId });
    expect(r?.closed_at).not.toBeNull();
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "job.recalled", "job.recall_completed"]);
  });

  it("cancels the recall (action_type=cancel): back to the previous status with the original completion time", async () => {
    const job = await completedJob();
    const original = await jobRow(job.job_uuid);
    expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Raised in error" }), 200);
    const res = await recall(staff, { job_uuid: job.job_uuid, is_recall: 0, action_type: "cancel", recall_reason: "Wrong job" });
    expectStatus(res, 200);
    expect(res.body.message).toBe("Recall cancelled successfully");
    expect(res.body.action).toBe("recall cancelled");
    const after = await jobRow(job.job_uuid);
    expect(after).toMatchObject({ status_id: 6, is_recall: 0, completed_at: original?.completed_at });
    const [r] = await recallsOf(job.job_id);
    expect(r?.outcome).toBe("cancelled");
    const [event] = await rows<{ changes: string }>(
      "SELECT changes FROM audit_events WHERE job_uuid = ? AND action = 'job.recall_cancelled'",
      job.job_uuid,
    );
    expect(JSON.parse(String(event?.changes)).note).toEqual({ before: null, after: "Wrong job" });
  });

  it("keeps one recall record per cycle", async () => {
    const job = await completedJob();
    for (const reason of ["First", "Second"]) {
      expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: reason }), 200);
      expectStatus(await recall(staff, { job_uuid: job.job_uuid, is_recall: 0 }), 200);
    }
    const cycles = await recallsOf(job.job_id);
    expect(cycles.map((r) => [r.reason, r.outcome])).toEqual([
      ["First", "completed"],
      ["Second", "completed"],
    ]);
  });

  it('answers 409 "This job is not marked as a recall" for a job not in recall, changing nothing', async () => {
    const job = await completedJob();
    const before = await jobRow(job.job_uuid);
    for (const action_type of ["standard", "cancel"]) {
      const res = await recall(staff, { job_uuid: job.job_uuid, is_recall: 0, action_type });
      expectStatus(res, 409);
      expect(res.body.message).toBe("This job is not marked as a recall");
    }
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });
});

describe("POST /api/jobs/mark-recall-completed", () => {
  const markCompleted = (who: Actor, job_uuid: string) => send(who, "POST", "/api/jobs/mark-recall-completed", { job_uuid });

  it("completes a recalled job, answering as the reference shows", async () => {
    const job = await completedJob();
    expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Leak" }), 200);
    const res = await markCompleted(staff, job.job_uuid);
    expectStatus(res, 200);
    expect(res.body).toEqual({
      success: true,
      message: "Recall marked as completed successfully",
      data: { job_id: job.job_id, job_title: "Boiler Service - Unit 001" },
    });
    expect(await jobRow(job.job_uuid)).toMatchObject({ status_id: 6, is_recall: 0 });
    expect((await recallsOf(job.job_id))[0]?.outcome).toBe("completed");
  });

  it("answers the reference's error for a job not in recall (409), changing nothing", async () => {
    const job = await completedJob();
    const before = await jobRow(job.job_uuid);
    const res = await markCompleted(staff, job.job_uuid);
    expectStatus(res, 409);
    expect(res.body).toMatchObject({ success: false, message: "This job is not marked as a recall", code: "CONFLICT" });
    expect(await jobRow(job.job_uuid)).toEqual(before);
  });

  it("answers 404 for unknown jobs, 403 for archived ones and without the permission", async () => {
    expectStatus(await markCompleted(staff, UNKNOWN_UUID), 404);
    const job = await archivedJob(staff, fx);
    const res = await markCompleted(staff, job.job_uuid);
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const denied = await markCompleted(contractor, job.job_uuid);
    expectStatus(denied, 403);
    expect(denied.body.message).toBe("Missing permission: api.jobs.mark_recall_completed.manage");
  });

  it("lets exactly one of two concurrent completions win", async () => {
    const job = await completedJob();
    expectStatus(await recall(staff, { job_uuid: job.job_uuid, recall_reason: "Leak" }), 200);
    const results = await Promise.all([markCompleted(staff, job.job_uuid), markCompleted(manager, job.job_uuid)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await auditActions(job.job_uuid)).filter((a) => a === "job.recall_completed")).toHaveLength(1);
  });

  it("requires job_uuid (400)", async () => {
    const res = await api("POST", "/api/jobs/mark-recall-completed", { token: staff.token, csrf: staff.csrf, body: {} });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([{ field: "job_uuid", message: "is required" }]);
  });
});
