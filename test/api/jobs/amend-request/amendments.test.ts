import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { auditActions, jobRow, rows, seedStatus, send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let manager: Actor;
let admin: Actor;
let contractor: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  manager = await actor("manager");
  admin = await actor("admin");
  contractor = await actor("contractor", { contractorId: fx.contractorId, name: "Contractor_001" });
});

const submit = (who: Actor, body: Record<string, unknown>) => send(who, "POST", "/api/jobs/amend-request", body);
const decide = (who: Actor, body: Record<string, unknown>) => send(who, "PATCH", "/api/jobs/amend-request", body);
const listRequests = (who: { token: string }, query: string) => api("GET", `/api/jobs/amend-request?${query}`, { token: who.token });
const fieldsOf = (who: { token: string }, jobUuid: string) =>
  api("GET", `/api/jobs/amendable-fields?job_uuid=${jobUuid}`, { token: who.token });
const requestsOf = (jobId: number) =>
  rows<{ uuid: string; status: string; field_name: string }>("SELECT * FROM amendment_requests WHERE job_id = ? ORDER BY id", jobId);
const budgetJob = () => createJob(staff, fx, { contractor_budget: 180, contractor_id: fx.contractorId });

async function pendingBudgetRequest(value = "220.00") {
  const job = await budgetJob();
  const res = await submit(contractor, {
    job_uuid: job.job_uuid,
    field_name: "contractor_budget",
    requested_value: value,
    reason: "Additional materials required.",
  });
  expectStatus(res, 201);
  return { job, uuid: res.body.uuid as string };
}

describe("GET /api/jobs/amendable-fields", () => {
  it("shows staff the staff set with current values, as the reference shows", async () => {
    const job = await budgetJob();
    const res = await fieldsOf(staff, job.job_uuid);
    expectStatus(res, 200);
    const data = res.body.data;
    expect(data).toMatchObject({ job_uuid: job.job_uuid, job_ref: job.job_ref, user_type: "staff" });
    expect(data.fields.map((f: { key: string }) => f.key)).toEqual([
      "job_title",
      "job_description",
      "priority_id",
      "job_type_id",
      "job_total_budget",
      "contractor_budget",
      "vat_percentage",
      "date_works_start_date",
      "date_works_end_date",
      "time_range_id",
      "payment_status_id",
      "works_order_ref",
      "invoice_no",
    ]);
    expect(data.fields[0]).toEqual({
      key: "job_title",
      label: "Job Title",
      type: "text",
      current_value: "Boiler Service - Unit 001",
      required: true,
      description: "The title/name of the job",
    });
    const byKey = Object.fromEntries(data.fields.map((f: { key: string }) => [f.key, f]));
    expect(byKey.contractor_budget).toMatchObject({ type: "money", current_value: "180.00", required: false });
    expect(byKey.priority_id).toMatchObject({ type: "choice", current_value: "2" });
    expect(byKey.priority_id.options).toEqual([
      { value: "4", label: "Emergency" },
      { value: "3", label: "High" },
      { value: "2", label: "Medium" },
      { value: "1", label: "Low" },
    ]);
    expect(byKey.job_title.options).toBeUndefined();
    expect(JSON.stringify(data)).not.toMatch(/private_contact|access_details/);
  });

  it("lists job_description as not required, exactly as the reference's example does", async () => {
    const job = await createJob(staff, fx, { job_description: "Annual boiler service required." });
    const res = await fieldsOf(staff, job.job_uuid);
    expectStatus(res, 200);
    const description = res.body.data.fields.find((f: { key: string }) => f.key === "job_description");
    expect(description).toEqual({
      key: "job_description",
      label: "Job Description",
      type: "textarea",
      current_value: "Annual boiler service required.",
      required: false,
      description: "Detailed description of the job",
    });
  });

  it("the OpenAPI document says what required means", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expectStatus(doc, 200);
    expect(doc.body.components.schemas.AmendableField.properties.required.description).toMatch(
      /^Whether a proposal must carry this field .*A requested value of "" clears a field whose value may be empty/,
    );
  });

  it("lets an amendment propose a new description, but never clear the title or the description", async () => {
    const job = await createJob(staff, fx);
    const title = await submit(staff, { job_uuid: job.job_uuid, field_name: "job_title", requested_value: " ", reason: "r" });
    expectStatus(title, 400);
    expect(title.body.errors).toEqual([{ field: "requested_value", message: "must not be empty" }]);
    const reworded = await submit(staff, {
      job_uuid: job.job_uuid,
      field_name: "job_description",
      requested_value: "Replace the boiler's pressure valve.",
      reason: "Scope changed",
    });
    expectStatus(reworded, 201);
    expectStatus(await decide(manager, { uuid: reworded.body.uuid, status: "approved" }), 200);
    expect((await jobRow(job.job_uuid))?.job_description).toBe("Replace the boiler's pressure valve.");

    // A job always has a description (create and update require one), so an amendment cannot empty it.
    const cleared = await submit(staff, { job_uuid: job.job_uuid, field_name: "job_description", requested_value: "", reason: "r" });
    expectStatus(cleared, 400);
    expect(cleared.body.errors).toEqual([{ field: "requested_value", message: "must not be empty" }]);
    expect((await jobRow(job.job_uuid))?.job_description).toBe("Replace the boiler's pressure valve.");
  });

  it("shows contractors a smaller set, and only on their own jobs", async () => {
    const job = await budgetJob();
    const res = await fieldsOf(contractor, job.job_uuid);
    expectStatus(res, 200);
    expect(res.body.data.user_type).toBe("contractor");
    expect(res.body.data.fields.map((f: { key: string }) => f.key)).toEqual([
      "contractor_budget",
      "date_works_start_date",
      "date_works_end_date",
      "time_range_id",
    ]);
    const other = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    expectStatus(await fieldsOf(contractor, other.job_uuid), 404);
  });

  it("answers 404 for unknown jobs and 400 without job_uuid", async () => {
    const unknown = await fieldsOf(staff, UNKNOWN_UUID);
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
    const missing = await api("GET", "/api/jobs/amendable-fields", { token: staff.token });
    expectStatus(missing, 400);
    expect(missing.body.errors).toEqual([{ field: "job_uuid", message: "is required" }]);
  });
});

describe("POST /api/jobs/amend-request", () => {
  it("records a request, listed exactly as the reference shows", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    const res = await listRequests(staff, `job_uuid=${job.job_uuid}&status=pending`);
    expectStatus(res, 200);
    expect(res.body).toEqual({
      success: true,
      data: [
        {
          uuid,
          job_uuid: job.job_uuid,
          job_ref: job.job_ref,
          field_name: "contractor_budget",
          current_value: "180.00",
          requested_value: "220.00",
          reason: "Additional materials required.",
          status: "pending",
          requested_by: "Contractor_001",
          requested_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
          decided_by: null,
          decided_at: null,
          decision_notes: null,
        },
      ],
      count: 1,
      message: "Operation completed successfully",
    });
    // The job itself is unchanged until a manager approves.
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(180);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "amendment.requested"]);
  });

  it("answers as the reference shows, with the new request's uuid", async () => {
    const job = await budgetJob();
    const res = await submit(staff, { job_uuid: job.job_uuid, field_name: "job_title", requested_value: "Boiler repair", reason: "Scope" });
    expectStatus(res, 201);
    expect(res.body).toEqual({ success: true, uuid: expect.any(String), message: "Amendment request submitted" });
  });

  it("refuses fields not amendable for the caller's role (400), recording nothing", async () => {
    const job = await budgetJob();
    const cases: [Actor, string][] = [
      [contractor, "job_title"],
      [contractor, "priority_id"],
      [staff, "private_contact_name"],
      [staff, "status_id"],
      [staff, "no_such_field"],
    ];
    for (const [who, field] of cases) {
      const res = await submit(who, { job_uuid: job.job_uuid, field_name: field, requested_value: "x", reason: "r" });
      expectStatus(res, 400);
      expect(res.body.errors).toEqual([
        { field: "field_name", message: `${field} is not amendable by your role; see GET /api/jobs/amendable-fields` },
      ]);
    }
    expect(await requestsOf(job.job_id)).toEqual([]);
    expect(await auditActions(job.job_uuid)).toEqual(["job.created"]);
  });

  it("validates the value by the field's type (400), recording nothing", async () => {
    const job = await createJob(staff, fx, {
      contractor_budget: 180,
      date_works_start_date: "2024-06-01",
      date_works_end_date: "2024-06-02",
    });
    const cases: [string, unknown, string][] = [
      ["contractor_budget", "abc", "must be a number"],
      ["contractor_budget", "-5", "must not be negative"],
      ["contractor_budget", "10.123", "must have at most 2 decimal places"],
      ["vat_percentage", "150", "must be at most 100"],
      ["date_works_start_date", "2024-13-01", "is not a real date"],
      ["date_works_end_date", "next week", "must be a date (YYYY-MM-DD)"],
      ["date_works_start_date", "2024-07-01", "must not be after date_works_end_date"],
      ["time_range_id", "99", "no time slot with id 99"],
      ["priority_id", "1.5", "must be an integer"],
      ["job_title", "", "must not be empty"],
      ["contractor_budget", "180", "is already the field's current value"],
    ];
    for (const [field, value, message] of cases) {
      const res = await submit(staff, { job_uuid: job.job_uuid, field_name: field, requested_value: value, reason: "r" });
      expectStatus(res, 400);
      expect(res.body.errors, `${field}=${value}`).toEqual([{ field: "requested_value", message }]);
    }
    expect(await requestsOf(job.job_id)).toEqual([]);
  });

  it("answers 404 for unknown or invisible jobs and 403 for archived ones", async () => {
    const body = { field_name: "contractor_budget", requested_value: "1", reason: "r" };
    expectStatus(await submit(contractor, { ...body, job_uuid: UNKNOWN_UUID }), 404);
    const other = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    expectStatus(await submit(contractor, { ...body, job_uuid: other.job_uuid }), 404);
    const archived = await budgetJob();
    await seedStatus(archived.job_uuid, 9);
    const res = await submit(contractor, { ...body, job_uuid: archived.job_uuid });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    expect(await requestsOf(other.job_id)).toEqual([]);
    expect(await requestsOf(archived.job_id)).toEqual([]);
  });

  it("lets a newer request on the same field supersede the pending one", async () => {
    const { job, uuid: first } = await pendingBudgetRequest("220.00");
    const second = await submit(staff, {
      job_uuid: job.job_uuid,
      field_name: "contractor_budget",
      requested_value: 250,
      reason: "Revised quote",
    });
    expectStatus(second, 201);
    const stored = await requestsOf(job.job_id);
    expect(stored.map((r) => [r.uuid, r.status])).toEqual([
      [first, "superseded"],
      [second.body.uuid, "pending"],
    ]);
    const old = await listRequests(staff, `uuid=${first}`);
    expect(old.body.data[0]).toMatchObject({ status: "superseded", decision_notes: `Superseded by amendment request ${second.body.uuid}` });
    // Deciding the superseded one is a conflict; a pending one on another field is untouched.
    const res = await decide(manager, { uuid: first, status: "approved" });
    expectStatus(res, 409);
    expect(res.body.message).toBe("This amendment request has already been superseded");
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(180);
  });
});

describe("PATCH /api/jobs/amend-request", () => {
  it("approves: applies the value to the job and audits the decision and the change", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    const res = await decide(manager, { uuid, status: "approved" });
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Amendment request approved" });
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(220);
    const listed = await listRequests(staff, `uuid=${uuid}`);
    expect(listed.body.data[0]).toMatchObject({ status: "approved", decided_by: expect.stringMatching(/^Manager_/) });
    expect(await auditActions(job.job_uuid)).toEqual(["job.created", "amendment.requested", "amendment.approved", "job.updated"]);
    const [change] = await rows<{ changes: string }>(
      "SELECT changes FROM audit_events WHERE job_uuid = ? AND action = 'job.updated'",
      job.job_uuid,
    );
    expect(JSON.parse(String(change?.changes))).toEqual({
      contractor_budget: { before: 180, after: 220 },
      amendment_uuid: { before: null, after: uuid },
    });
  });

  it("rejects: the job stays as it was, the notes are kept", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    const before = await jobRow(job.job_uuid);
    const res = await decide(admin, { uuid, status: "rejected", decision_notes: "Not agreed" });
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Amendment request rejected" });
    expect(await jobRow(job.job_uuid)).toEqual(before);
    const listed = await listRequests(staff, `uuid=${uuid}`);
    expect(listed.body.data[0]).toMatchObject({ status: "rejected", decision_notes: "Not agreed" });
  });

  it("applies a priority change with its SLA deadline, and clears an optional field", async () => {
    const job = await createJob(staff, fx, { works_order_ref: "WO-1" });
    const p = await submit(staff, { job_uuid: job.job_uuid, field_name: "priority_id", requested_value: "3", reason: "Urgent" });
    const w = await submit(staff, { job_uuid: job.job_uuid, field_name: "works_order_ref", requested_value: "", reason: "Wrong ref" });
    expectStatus(await decide(manager, { uuid: p.body.uuid, status: "approved" }), 200);
    expectStatus(await decide(manager, { uuid: w.body.uuid, status: "approved" }), 200);
    const row = await jobRow(job.job_uuid);
    expect(row?.priority_id).toBe(3);
    expect(row?.works_order_ref).toBeNull();
    expect(Date.parse(String(row?.sla_deadline)) - Date.parse(String(row?.sla_started_at))).toBe(24 * 3_600_000);
  });

  it("refuses non-management callers (403), changing nothing", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    for (const who of [staff, contractor, await actor("agent")]) {
      const res = await decide(who, { uuid, status: "approved" });
      expectStatus(res, 403);
      expect(res.body.message).toBe("Only managers and admins can approve or reject amendment requests");
    }
    expect((await requestsOf(job.job_id))[0]?.status).toBe("pending");
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(180);
  });

  it("answers 409 for a request already decided, 404 for an unknown one, 400 for a bad status", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    expectStatus(await decide(manager, { uuid, status: "rejected" }), 200);
    const again = await decide(manager, { uuid, status: "approved" });
    expectStatus(again, 409);
    expect(again.body.message).toBe("This amendment request has already been rejected");
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(180);
    const unknown = await decide(manager, { uuid: UNKNOWN_UUID, status: "approved" });
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Amendment request not found");
    const bad = await decide(manager, { uuid, status: "maybe" });
    expectStatus(bad, 400);
    expect(bad.body.errors).toEqual([{ field: "status", message: "must be approved or rejected" }]);
  });

  it("refuses to decide on an archived job (403), changing nothing", async () => {
    const { job, uuid } = await pendingBudgetRequest();
    await seedStatus(job.job_uuid, 9);
    const before = await jobRow(job.job_uuid);
    const res = await decide(manager, { uuid, status: "approved" });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect((await requestsOf(job.job_id))[0]?.status).toBe("pending");
  });

  it("lets exactly one of two concurrent decisions win; the job changes once", async () => {
    for (const [a, b] of [
      ["approved", "approved"],
      ["approved", "rejected"],
    ]) {
      const { job, uuid } = await pendingBudgetRequest();
      const results = await Promise.all([decide(manager, { uuid, status: a }), decide(admin, { uuid, status: b })]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(results.find((r) => r.status === 409)?.body.message).toMatch(/^This amendment request has already been/);
      const actions = await auditActions(job.job_uuid);
      expect(actions.filter((x) => x === "amendment.approved" || x === "amendment.rejected")).toHaveLength(1);
      const winner = (await requestsOf(job.job_id))[0]?.status;
      expect(actions.filter((x) => x === "job.updated")).toHaveLength(winner === "approved" ? 1 : 0);
      expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(winner === "approved" ? 220 : 180);
    }
  });
});

describe("GET /api/jobs/amend-request", () => {
  it("shows contractors only their jobs' requests", async () => {
    const { uuid: mine } = await pendingBudgetRequest();
    const other = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const theirs = await submit(staff, { job_uuid: other.job_uuid, field_name: "job_title", requested_value: "Other", reason: "r" });
    expectStatus(theirs, 201);
    const res = await listRequests(contractor, "status=pending&limit=200");
    expectStatus(res, 200);
    const uuids = res.body.data.map((r: { uuid: string }) => r.uuid);
    expect(uuids).toContain(mine);
    expect(uuids).not.toContain(theirs.body.uuid);
    expectStatus(await listRequests(contractor, `uuid=${theirs.body.uuid}`), 404);
    expectStatus(await listRequests(contractor, `job_uuid=${other.job_uuid}`), 404);
  });

  it("answers 404 for unknown uuids and 400 for bad filters", async () => {
    const unknown = await listRequests(staff, `uuid=${UNKNOWN_UUID}`);
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Amendment request not found");
    expectStatus(await listRequests(staff, `job_uuid=${UNKNOWN_UUID}`), 404);
    const bad = await listRequests(staff, "status=open");
    expectStatus(bad, 400);
    expect(bad.body.errors).toEqual([{ field: "status", message: "must be pending, approved, rejected or superseded" }]);
  });
});
