import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { makeJpeg } from "../../../../scripts/lib/media-fixtures";
import { createServices } from "../../../../src/platform/services";
import { relayWebhookEvents } from "../../../../src/webhooks/relay";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, getJob, seedFixtures } from "../../../support/helpers";
import { auditActions, jobInStatus, jobRow, rows, send } from "../../../support/workflow-helpers";

// POST /api/jobs/work: the contractor's side of the work and the office's sign-off, as the
// reference's client sends them (form bodies, CSRF token in the header).

let fx: Fixtures;
let staff: Actor;
let manager: Actor;
let contractor: Actor;
let otherContractor: Actor;
let admin: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  manager = await actor("manager");
  admin = await actor("admin");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId });
});

const work = (who: Actor, body: Record<string, unknown>) => send(who, "POST", "/api/jobs/work", body, "form");

function uploadAfterPhoto(who: Actor, jobId: number) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(jobId));
  form.append("photo_type", "after");
  form.append("file", new Blob([makeJpeg(64, 48, 80)], { type: "image/jpeg" }), "after.jpg");
  return api("POST", "/api/jobs/photos", { token: who.token, csrf: who.csrf, body: form });
}

describe("POST /api/jobs/work", () => {
  it("a contractor accepts, starts and completes with evidence; a manager signs off; every step is audited and sent", async () => {
    const hook = await send(admin, "POST", "/api/admin/webhooks", { action: "create", url: "http://127.0.0.1:9/hooks" });
    expectStatus(hook, 201);
    const job = await jobInStatus(staff, fx, 3); // Approved
    const accept = await work(contractor, { action: "accept", job_uuid: job.job_uuid });
    expectStatus(accept, 200);
    expect(accept.body).toMatchObject({ message: "Job accepted", status_name: "Approved", job_ref: job.job_ref });
    expect(accept.body.next_statuses.map((s: { via: string }) => s.via)).toEqual(["start"]);
    // Every job read tells the caller the same: a UI offers only the buttons that will work.
    const read = await getJob(contractor, job.job_uuid);
    expect(read.next_statuses).toEqual(accept.body.next_statuses);
    expect(read.accepted_at).toBeTruthy();
    const asStaff = await getJob(staff, job.job_uuid);
    expect(asStaff.next_statuses.map((n: { status_name: string; via: string }) => `${n.status_name}/${n.via}`)).toEqual([
      "In Progress/start",
      "In Progress/update",
      "Cancelled/update",
    ]);

    const start = await work(contractor, { action: "start", job_uuid: job.job_uuid });
    expectStatus(start, 200);
    expect(start.body.status_name).toBe("In Progress");

    // Without an "after" photo and a note the completion is refused and nothing changes.
    const before = await jobRow(job.job_uuid);
    const early = await work(contractor, { action: "complete", job_uuid: job.job_uuid });
    expectStatus(early, 409);
    expect(early.body.code).toBe("TRANSITION_REQUIRES_EVIDENCE");
    expect(early.body.message).toContain('1 "after" photo');
    expect(early.body.message).toContain("a completion note");
    expect(early.body.current_status).toEqual({ status_id: 4, status_name: "In Progress" });
    expect(await jobRow(job.job_uuid)).toEqual(before);

    expectStatus(await uploadAfterPhoto(contractor, job.job_id), 201);
    const done = await work(contractor, { action: "complete", job_uuid: job.job_uuid, completion_note: "Boiler serviced; flue checked." });
    expectStatus(done, 200);
    expect(done.body.status_name).toBe("Completed");
    // The contractor cannot sign their own work off: nothing more is open to them.
    expect(done.body.next_statuses).toEqual([]);

    // The completion note is a case note of the job, encrypted at rest like every note.
    const notes = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${job.job_uuid}`, { token: staff.token });
    expectStatus(notes, 200);
    expect(JSON.stringify(notes.body.data)).toContain("Boiler serviced; flue checked.");
    const stored = await rows<{ message: string }>("SELECT message FROM case_notes WHERE job_id = ?", job.job_id);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.message).not.toContain("Boiler serviced");

    const signOff = await work(manager, { action: "sign_off", job_uuid: job.job_uuid });
    expectStatus(signOff, 200);
    expect(signOff.body.status_name).toBe("Closed");
    const row = await jobRow(job.job_uuid);
    expect(row?.status_id).toBe(7);
    expect(row?.accepted_at).toBeTruthy();
    expect(row?.started_at).toBeTruthy();
    expect(row?.completed_at).toBeTruthy();
    expect(row?.signed_off_at).toBeTruthy();

    expect(await auditActions(job.job_uuid)).toEqual([
      "job.created",
      "job.accepted",
      "job.started",
      "photo.uploaded",
      "job.completed",
      "case_note.created",
      "job.signed_off",
    ]);
    const trail = await api("GET", `/api/jobs/audit?job_uuid=${job.job_uuid}`, { token: manager.token });
    expectStatus(trail, 200);
    const completed = trail.body.data.find((e: { action: string }) => e.action === "job.completed");
    expect(completed.changes.status).toEqual({ before: "In Progress", after: "Completed" });

    // Webhooks name every step, with the job's reference and the status names.
    await relayWebhookEvents(createServices(env));
    const sent = (
      await rows<{ event_type: string; payload: string }>(
        `SELECT d.event_type, d.payload FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
         WHERE s.uuid = ? ORDER BY d.audit_event_id, d.id`,
        hook.body.subscription.uuid,
      )
    )
      .map((d) => ({ type: d.event_type, data: JSON.parse(d.payload).data }))
      .filter((e) => e.data.job_uuid === job.job_uuid);
    expect(sent.map((e) => e.type)).toEqual([
      "job.created",
      "job.accepted",
      "job.started",
      "job.status_changed",
      "media.uploaded", // the "after" photo the completion needs
      "job.completed",
      "job.status_changed",
      "note.added",
      "job.signed_off",
      "job.status_changed",
    ]);
    for (const e of sent) expect(e.data.job_ref).toBe(job.job_ref);
    expect(sent.at(-1)?.data.status).toEqual({ before: "Completed", after: "Closed" });
  });

  it("starting needs the contractor's acceptance first (the office may start without it)", async () => {
    const job = await jobInStatus(staff, fx, 3);
    const res = await work(contractor, { action: "start", job_uuid: job.job_uuid });
    expectStatus(res, 409);
    expect(res.body.code).toBe("TRANSITION_REQUIRES_EVIDENCE");
    expect(res.body.message).toContain("action=accept");
    expectStatus(await work(staff, { action: "start", job_uuid: job.job_uuid }), 200);
  });

  it("a decline needs a reason, unassigns the job and records why", async () => {
    const job = await createJob(staff, fx); // Open, assigned to the contractor
    const missing = await work(contractor, { action: "decline", job_uuid: job.job_uuid });
    expectStatus(missing, 400);
    expect(missing.body.errors).toEqual([{ field: "reason", message: "is required" }]);
    const res = await work(contractor, { action: "decline", job_uuid: job.job_uuid, reason: "No gas-safe engineer free this week" });
    expectStatus(res, 200);
    expect(res.body.next_statuses).toEqual([]);
    expect((await jobRow(job.job_uuid))?.contractor_id).toBeNull();
    const [event] = await rows<{ changes: string }>(
      "SELECT changes FROM audit_events WHERE job_uuid = ? AND action = 'job.declined'",
      job.job_uuid,
    );
    expect(JSON.parse(event?.changes ?? "{}")).toMatchObject({
      contractor_id: { before: fx.contractorId, after: null },
      decline_reason: { after: "No gas-safe engineer free this week" },
    });
    // No longer theirs: the contractor now gets 404 like for any job not assigned to them.
    expectStatus(await work(contractor, { action: "accept", job_uuid: job.job_uuid }), 404);
  });

  it("only the assigned contractor accepts or declines; other contractors do not see the job", async () => {
    const job = await createJob(staff, fx);
    const byStaff = await work(staff, { action: "accept", job_uuid: job.job_uuid });
    expectStatus(byStaff, 403);
    expect(byStaff.body.message).toBe("Only the contractor assigned to this job can accept it");
    expectStatus(await work(otherContractor, { action: "accept", job_uuid: job.job_uuid }), 404);
    expectStatus(await work(contractor, { action: "accept", job_uuid: job.job_uuid }), 200);
    const again = await work(contractor, { action: "accept", job_uuid: job.job_uuid });
    expectStatus(again, 409);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "job.accepted"]);
  });

  it("a started job can no longer be declined", async () => {
    const job = await jobInStatus(staff, fx, 4);
    const res = await work(contractor, { action: "decline", job_uuid: job.job_uuid, reason: "Changed my mind" });
    expectStatus(res, 409);
    expect(res.body.code).toBe("TRANSITION_NOT_ALLOWED");
    expect((await jobRow(job.job_uuid))?.contractor_id).toBe(fx.contractorId);
  });

  it("the office sends completed work back with a reason; the SLA clock restarts", async () => {
    const job = await jobInStatus(staff, fx, 6);
    // Started long ago, so a restart is visible whatever second the test runs in.
    await env.DB.prepare("UPDATE jobs SET sla_started_at = '2026-01-05T09:00:00Z', sla_deadline = '2026-01-06T09:00:00Z' WHERE uuid = ?")
      .bind(job.job_uuid)
      .run();
    const noReason = await work(staff, { action: "send_back", job_uuid: job.job_uuid });
    expectStatus(noReason, 400);
    const byContractor = await work(contractor, { action: "send_back", job_uuid: job.job_uuid, reason: "x" });
    expectStatus(byContractor, 409);
    expect(byContractor.body.code).toBe("TRANSITION_NOT_ALLOWED");
    const before = await jobRow(job.job_uuid);
    const res = await work(staff, { action: "send_back", job_uuid: job.job_uuid, reason: "Radiator in bedroom 2 still cold" });
    expectStatus(res, 200);
    expect(res.body.status_name).toBe("In Progress");
    const after = await jobRow(job.job_uuid);
    expect(after?.completed_at).toBeNull();
    expect(before?.sla_started_at).toBe("2026-01-05T09:00:00Z");
    expect(after?.sla_started_at).not.toBe(before?.sla_started_at);
    expect(after?.sla_deadline).not.toBe(before?.sla_deadline);
  });

  it("a contractor cannot sign off, nor any step skip the lifecycle (409 with the statuses open)", async () => {
    const job = await jobInStatus(staff, fx, 6);
    const res = await work(contractor, { action: "sign_off", job_uuid: job.job_uuid });
    expectStatus(res, 409);
    expect(res.body.current_status).toEqual({ status_id: 6, status_name: "Completed" });
    const open = await createJob(staff, fx);
    const skip = await work(staff, { action: "complete", job_uuid: open.job_uuid, completion_note: "done" });
    expectStatus(skip, 409);
    expect(skip.body.code).toBe("TRANSITION_NOT_ALLOWED");
    expect(await auditActions(open.job_uuid)).toEqual(["job.created"]);
  });

  it("refuses unknown actions, foreign fields, a missing CSRF token and archived jobs", async () => {
    const job = await createJob(staff, fx);
    const unknown = await work(contractor, { action: "finish", job_uuid: job.job_uuid });
    expectStatus(unknown, 400);
    expect(unknown.body.errors[0].message).toContain("accept, decline, start, complete, sign_off, send_back");
    const extra = await work(contractor, { action: "accept", job_uuid: job.job_uuid, status_id: 7 });
    expectStatus(extra, 400);
    const noCsrf = await api("POST", "/api/jobs/work", { token: contractor.token, body: { action: "accept", job_uuid: job.job_uuid } });
    expectStatus(noCsrf, 403);
    expect(noCsrf.body.code).toBe("CSRF_INVALID");
    const archived = await jobInStatus(staff, fx, 9);
    expectStatus(await work(staff, { action: "start", job_uuid: archived.job_uuid }), 403);
    expect(await env.DB.prepare("SELECT accepted_at FROM jobs WHERE uuid = ?").bind(job.job_uuid).first()).toEqual({ accepted_at: null });
  });
});
