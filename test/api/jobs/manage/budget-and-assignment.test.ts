/**
 * Issue 20: the budget rule (the contractor's total with VAT never silently exceeds the client
 * budget) and assignment validated against the directories (active agents, contractors, tenants of
 * the job's address), with the job.assigned event. Every refusal leaves the job row, its tenants
 * and its audit trail exactly as they were.
 */

import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_EVENT_TYPES, webhookEventsFor } from "../../../../src/webhooks/events";
import { type Actor, actor, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { jobRow, rows, send } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let agent: Actor;
let manager: Actor;
let admin: Actor;
let contractor: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  agent = await actor("agent");
  manager = await actor("manager");
  admin = await actor("admin");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
});

const manage = (who: Actor, body: Record<string, unknown>, as: "json" | "form" = "json") => send(who, "POST", "/api/jobs/manage", body, as);
const events = (uuid: string) =>
  rows<{ action: string; changes: string }>("SELECT action, changes FROM audit_events WHERE job_uuid = ? ORDER BY id", uuid);
const tenantsOf = (jobId: number) =>
  rows<{ tenant_id: number }>("SELECT tenant_id FROM job_tenants WHERE job_id = ? ORDER BY tenant_id", jobId);
/** Everything a refused change must leave alone. */
const state = async (job: { job_uuid: string; job_id: number }) => ({
  row: await jobRow(job.job_uuid),
  tenants: await tenantsOf(job.job_id),
  events: await events(job.job_uuid),
});
const jobCount = async () => (await rows<{ n: number }>("SELECT count(*) AS n FROM jobs"))[0]?.n;

const CREATE = {
  action: "create",
  job_title: "Boiler",
  job_description: "Service",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
};

const MESSAGE_312 =
  "£312.00 with VAT exceeds the client budget of £310.00: lower contractor_budget or vat_percentage, raise job_total_budget, or (managers and admins) send accept_budget_overrun=1";

describe("the budget rule", () => {
  it("create: 409 BUDGET_EXCEEDED naming both figures, nothing written; at the cap or without a client budget it passes", async () => {
    const before = await jobCount();
    const auditBefore = (await rows("SELECT id FROM audit_events")).length;
    const res = await manage(staff, {
      ...CREATE,
      address_id: fx.addressId,
      contractor_budget: 260,
      vat_percentage: 20,
      job_total_budget: 310,
    });
    expectStatus(res, 409);
    expect(res.body).toMatchObject({ success: false, code: "BUDGET_EXCEEDED", message: MESSAGE_312 });
    expect(await jobCount()).toBe(before);
    expect((await rows("SELECT id FROM audit_events")).length).toBe(auditBefore);

    // 258.33 at 20% is 310.00 to the penny: exactly at the cap is within it.
    await createJob(staff, fx, { contractor_budget: 258.33, vat_percentage: 20, job_total_budget: 310 });
    // No client budget: no cap.
    await createJob(staff, fx, { contractor_budget: 10_000 });
    // The platform's default VAT (20%) counts too.
    const byDefault = await manage(staff, { ...CREATE, address_id: fx.addressId, contractor_budget: 260, job_total_budget: 310 });
    expectStatus(byDefault, 409);
    expect(byDefault.body.code).toBe("BUDGET_EXCEEDED");
  });

  it("create: a manager's accept_budget_overrun=1 (form body) creates it and the audit event records the overrun", async () => {
    const res = await manage(
      manager,
      {
        ...CREATE,
        address_id: String(fx.addressId),
        contractor_budget: "260.00",
        vat_percentage: "20",
        job_total_budget: "310.00",
        accept_budget_overrun: "1",
      },
      "form",
    );
    expectStatus(res, 201);
    const [created] = await events(res.body.job_uuid);
    expect(created?.action).toBe("job.created");
    expect(JSON.parse(String(created?.changes)).budget_overrun_accepted).toEqual({ contractor_total: 312, client_budget: 310 });
  });

  it("staff and agents who send accept_budget_overrun get 403, nothing written", async () => {
    const job = await createJob(staff, fx, { contractor_budget: 200, job_total_budget: 310 });
    const before = await state(job);
    const jobs = await jobCount();
    for (const who of [staff, agent]) {
      const create = await manage(who, {
        ...CREATE,
        address_id: fx.addressId,
        contractor_budget: 260,
        job_total_budget: 310,
        accept_budget_overrun: true,
      });
      expectStatus(create, 403);
      expect(create.body.message).toBe("Only managers and admins can accept a budget overrun (accept_budget_overrun)");
      const update = await manage(who, { action: "update", uuid: job.job_uuid, contractor_budget: 260, accept_budget_overrun: 1 });
      expectStatus(update, 403);
    }
    expect(await jobCount()).toBe(jobs);
    expect(await state(job)).toEqual(before);
  });

  it("update: raising the contractor budget, the VAT or lowering the client budget past the cap is 409; nothing changes", async () => {
    const job = await createJob(staff, fx, { contractor_budget: 250, vat_percentage: 20, job_total_budget: 310 });
    const before = await state(job);
    for (const change of [{ contractor_budget: 260 }, { vat_percentage: 25 }, { job_total_budget: 299.99 }]) {
      const res = await manage(staff, { action: "update", uuid: job.job_uuid, ...change });
      expectStatus(res, 409);
      expect(res.body.code).toBe("BUDGET_EXCEEDED");
    }
    expect(await state(job)).toEqual(before);
    // Clearing the client budget lifts the cap; other fields never meet the rule.
    expectStatus(await manage(staff, { action: "update", uuid: job.job_uuid, job_title: "Renamed" }), 200);
    expectStatus(await manage(staff, { action: "update", uuid: job.job_uuid, job_total_budget: "", contractor_budget: 900 }), 200);
  });

  it("update: an admin accepts the overrun; job.updated records it, changed_fields stay the job's fields", async () => {
    const job = await createJob(staff, fx, { contractor_budget: 250, vat_percentage: 20, job_total_budget: 310 });
    const res = await manage(admin, { action: "update", uuid: job.job_uuid, contractor_budget: 260, accept_budget_overrun: true });
    expectStatus(res, 200);
    expect(res.body.changed_fields).toEqual(["contractor_budget"]);
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(260);
    const updated = (await events(job.job_uuid)).find((e) => e.action === "job.updated");
    expect(JSON.parse(String(updated?.changes))).toEqual({
      contractor_budget: { before: 250, after: 260 },
      budget_overrun_accepted: { contractor_total: 312, client_budget: 310 },
    });
    // Accepting when within the budget records nothing.
    const within = await manage(manager, { action: "update", uuid: job.job_uuid, job_total_budget: 400, accept_budget_overrun: true });
    expectStatus(within, 200);
    const last = (await events(job.job_uuid)).at(-1);
    expect(JSON.parse(String(last?.changes))).toEqual({ job_total_budget: { before: 310, after: 400 } });
  });

  it("amendment decision: approving a contractor_budget the cap cannot take is 409, nothing changes; accepted, it is recorded", async () => {
    // The case: £260 + 20% VAT = £312 against a £310 client budget.
    const job = await createJob(staff, fx, { contractor_budget: 250, vat_percentage: 20, job_total_budget: 310 });
    const proposed = await send(contractor, "POST", "/api/jobs/amend-request", {
      job_uuid: job.job_uuid,
      field_name: "contractor_budget",
      requested_value: "260.00",
      reason: "Extra materials",
    });
    expectStatus(proposed, 201);
    const uuid = proposed.body.uuid as string;
    const before = await state(job);
    const request = () => rows<{ status: string }>("SELECT status FROM amendment_requests WHERE uuid = ?", uuid);

    const refused = await send(manager, "PATCH", "/api/jobs/amend-request", { uuid, status: "approved" });
    expectStatus(refused, 409);
    expect(refused.body).toMatchObject({ code: "BUDGET_EXCEEDED", message: MESSAGE_312 });
    expect(await state(job)).toEqual(before);
    expect(await request()).toEqual([{ status: "pending" }]);

    const accepted = await send(manager, "PATCH", "/api/jobs/amend-request", { uuid, status: "approved", accept_budget_overrun: "1" });
    expectStatus(accepted, 200);
    expect((await jobRow(job.job_uuid))?.contractor_budget).toBe(260);
    const updated = (await events(job.job_uuid)).find((e) => e.action === "job.updated");
    expect(JSON.parse(String(updated?.changes))).toEqual({
      contractor_budget: { before: 250, after: 260 },
      amendment_uuid: { before: null, after: uuid },
      budget_overrun_accepted: { contractor_total: 312, client_budget: 310 },
    });
  });

  it("amendment decision: a VAT or client budget amendment meets the rule too; rejecting never does", async () => {
    const job = await createJob(staff, fx, { contractor_budget: 250, vat_percentage: 20, job_total_budget: 310 });
    for (const [field_name, requested_value] of [
      ["vat_percentage", "25"],
      ["job_total_budget", "299.00"],
    ]) {
      const proposed = await send(staff, "POST", "/api/jobs/amend-request", {
        job_uuid: job.job_uuid,
        field_name,
        requested_value,
        reason: "r",
      });
      expectStatus(proposed, 201);
      const approve = await send(admin, "PATCH", "/api/jobs/amend-request", { uuid: proposed.body.uuid, status: "approved" });
      expectStatus(approve, 409);
      expect(approve.body.code).toBe("BUDGET_EXCEEDED");
      expectStatus(await send(admin, "PATCH", "/api/jobs/amend-request", { uuid: proposed.body.uuid, status: "rejected" }), 200);
    }
    expect(await jobRow(job.job_uuid)).toMatchObject({ vat_percentage: 20, job_total_budget: 310 });
  });
});

describe("assignment from the directories", () => {
  let inactiveContractor: number;
  let inactiveAgent: number;
  let inactiveTenant: number;
  let elsewhereTenant: number;

  beforeAll(async () => {
    const id = async (sql: string, ...args: unknown[]) =>
      (
        await env.DB.prepare(`${sql} RETURNING id`)
          .bind(...args)
          .first<{ id: number }>()
      )?.id ?? 0;
    inactiveContractor = await id("INSERT INTO contractors (uuid, name, active) VALUES (?, 'Gone Plumbing', 0)", crypto.randomUUID());
    inactiveAgent = await id("INSERT INTO agents (uuid, name, active) VALUES (?, 'Gone Lettings', 0)", crypto.randomUUID());
    inactiveTenant = await id(
      "INSERT INTO tenants (uuid, name, address_id, active) VALUES (?, 'Moved Out', ?, 0)",
      crypto.randomUUID(),
      fx.addressId,
    );
    elsewhereTenant = await id(
      "INSERT INTO tenants (uuid, name, address_id) VALUES (?, 'Next Door', ?)",
      crypto.randomUUID(),
      fx.otherAddressId,
    );
  });

  it("create: an inactive contractor, agent or tenant, or a tenant of another address, is 400 naming the field; nothing written", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ contractor_id: inactiveContractor }, "contractor_id", `no active contractor ${inactiveContractor}`],
      [{ agent_id: inactiveAgent }, "agent_id", `no active agent ${inactiveAgent}`],
      [{ tenants_ids: [fx.tenantIds[0], inactiveTenant] }, "tenants_ids", `no active tenant ${inactiveTenant}`],
      [{ tenants_ids: [elsewhereTenant] }, "tenants_ids", `tenant ${elsewhereTenant} does not live at address ${fx.addressId}`],
    ];
    const jobs = await jobCount();
    const auditBefore = (await rows("SELECT id FROM audit_events")).length;
    for (const [fields, field, message] of cases) {
      const res = await manage(staff, { ...CREATE, address_id: fx.addressId, ...fields });
      expectStatus(res, 400);
      expect(res.body.message).toBe(`${field}: ${message}`);
      expect(res.body.errors).toEqual([{ field, message }]);
    }
    expect(await jobCount()).toBe(jobs);
    expect((await rows("SELECT id FROM audit_events")).length).toBe(auditBefore);
    // The tenant of the other address may be on a job there.
    await createJob(staff, fx, { address_id: fx.otherAddressId, tenants_ids: [elsewhereTenant] });
  });

  it("update: the same refusals change nothing; who is already on the job may stay after being made inactive", async () => {
    const job = await createJob(staff, fx, { tenants_ids: [fx.tenantIds[0]] });
    const before = await state(job);
    for (const [fields, field] of [
      [{ contractor_id: inactiveContractor }, "contractor_id"],
      [{ agent_id: inactiveAgent }, "agent_id"],
      [{ tenants_ids: [inactiveTenant] }, "tenants_ids"],
      [{ tenants_ids: [elsewhereTenant] }, "tenants_ids"],
    ] as const) {
      const res = await manage(staff, { action: "update", uuid: job.job_uuid, ...fields });
      expectStatus(res, 400);
      expect(res.body.errors[0]?.field).toBe(field);
    }
    expect(await state(job)).toEqual(before);

    // Deactivated while on the job: resending the same assignment is no refusal (and no change).
    const keeper = await env.DB.prepare("INSERT INTO contractors (uuid, name) VALUES (?, 'Soon Gone') RETURNING id")
      .bind(crypto.randomUUID())
      .first<{ id: number }>();
    expectStatus(await manage(staff, { action: "update", uuid: job.job_uuid, contractor_id: keeper?.id }), 200);
    await env.DB.prepare("UPDATE contractors SET active = 0 WHERE id = ?").bind(keeper?.id).run();
    const again = await manage(staff, { action: "update", uuid: job.job_uuid, contractor_id: keeper?.id, job_title: "Still theirs" });
    expectStatus(again, 200);
    expect(again.body.changed_fields).toEqual(["job_title"]);
  });

  it("reassigning a contractor clears acceptance and writes job.assigned naming both sides, beside job.updated", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    await env.DB.prepare("UPDATE jobs SET accepted_at = '2026-01-05T09:00:00Z' WHERE uuid = ?").bind(job.job_uuid).run();
    const res = await manage(staff, { action: "update", uuid: job.job_uuid, contractor_id: fx.otherContractorId });
    expectStatus(res, 200);
    expect(res.body.changed_fields).toEqual(["contractor_id"]);
    expect(await jobRow(job.job_uuid)).toMatchObject({ contractor_id: fx.otherContractorId, accepted_at: null });
    const trail = await events(job.job_uuid);
    expect(trail.map((e) => e.action)).toEqual(["job.created", "job.updated", "job.assigned"]);
    const assigned = { contractor_id: { before: fx.contractorId, after: fx.otherContractorId } };
    expect(JSON.parse(String(trail[2]?.changes))).toEqual(assigned);

    // As webhooks see it: a named job.assigned event with both sides and the job's reference.
    expect(WEBHOOK_EVENT_TYPES).toContain("job.assigned");
    const [hook] = webhookEventsFor({
      id: 1,
      jobUuid: job.job_uuid,
      jobRef: job.job_ref,
      actorUserId: staff.userId,
      actorName: "Staff",
      action: "job.assigned",
      changes: String(trail[2]?.changes),
      createdAt: "2026-01-05T10:00:00Z",
    });
    expect(hook).toMatchObject({ type: "job.assigned", data: { job_ref: job.job_ref, ...assigned } });

    // Unassigning is no assignment (job.updated only); assigning a job that had none is one.
    expectStatus(await manage(staff, { action: "update", uuid: job.job_uuid, contractor_id: "" }), 200);
    expectStatus(await manage(staff, { action: "update", uuid: job.job_uuid, contractor_id: fx.contractorId }), 200);
    const actions = (await events(job.job_uuid)).map((e) => e.action);
    expect(actions.slice(3)).toEqual(["job.updated", "job.updated", "job.assigned"]);
    expect(JSON.parse(String((await events(job.job_uuid)).at(-1)?.changes))).toEqual({
      contractor_id: { before: null, after: fx.contractorId },
    });
  });
});
