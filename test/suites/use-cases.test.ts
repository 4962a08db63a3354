import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { scopeFor } from "../../src/app/scope";
import type { UseCase } from "../../src/app/use-case";
import { effectivePermissions, PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES, type Role } from "../../src/auth/permissions";
import type { Principal } from "../../src/domain/caller";
import { ApiError } from "../../src/domain/errors";
import { decideAmendment, listAmendments, requestAmendment } from "../../src/jobs/amend-request/service";
import { amendableFields } from "../../src/jobs/amendable-fields/service";
import { decideApprovalGate } from "../../src/jobs/approval-gate/service";
import { readAuditTrail } from "../../src/jobs/audit/service";
import { getJob, listJobs } from "../../src/jobs/manage/read-service";
import { createJob, deleteJob, updateJob } from "../../src/jobs/manage/service";
import { completeRecall } from "../../src/jobs/mark-recall-completed/service";
import { closeRecall, raiseRecall } from "../../src/jobs/recall/service";
import { linkRemedial, listRemedials, unlinkRemedial } from "../../src/jobs/remedials/service";
import { createServices } from "../../src/platform/services";
import { type Fixtures, makeUser, seedFixtures, type TestUser } from "../support/helpers";
import { auditActions, seedStatus, UNKNOWN_UUID } from "../support/workflow-helpers";

/**
 * The use cases called directly, as a channel other than HTTP calls them (MCP, mail, queue, cron):
 * a scope per role from the seeded users, no request. They must refuse exactly as the HTTP matrix
 * (test/suites/security-matrix.test.ts) and the routes' tests do: a missing permission, the management and
 * job-writing policies, and a contractor's foreign job (404, never 403).
 */

const services = () => createServices(env);

/** The caller a channel would have resolved for this user: the token's (possibly narrowed) permissions. */
async function principalOf(user: TestUser, permissions?: Permission[]): Promise<Principal> {
  const row = await env.DB.prepare("SELECT name, email, agent_id AS agentId FROM users WHERE id = ?")
    .bind(user.userId)
    .first<{ name: string; email: string; agentId: number | null }>();
  return {
    tokenId: user.tokenId,
    userId: user.userId,
    userUuid: user.userUuid,
    name: row?.name ?? "",
    email: row?.email ?? "",
    role: user.role,
    contractorId: user.contractorId,
    agentId: row?.agentId ?? null,
    permissions: effectivePermissions(user.role, permissions ? JSON.stringify(permissions) : null),
  };
}

async function scopeAs(role: Role, opts: { contractorId?: number | null; permissions?: Permission[] } = {}) {
  const user = await makeUser(role, { contractorId: opts.contractorId ?? null, permissions: opts.permissions });
  return scopeFor(services(), await principalOf(user, opts.permissions));
}

/** The refusal a call ends in, or "ok". */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (err) {
    if (err instanceof ApiError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const JOB_WRITE_REFUSED = "Contractors cannot create, update or delete jobs; propose changes with POST /api/jobs/amend-request";
const GATE_REFUSED = "Only managers and admins can decide approval gates";
const AMEND_DECIDE_REFUSED = "Only managers and admins can approve or reject amendment requests";
const MANAGEMENT: Role[] = ["admin", "manager"];

let fx: Fixtures;
let admin: Awaited<ReturnType<typeof scopeAs>>;

beforeAll(async () => {
  fx = await seedFixtures();
  admin = await scopeAs("admin");
});

const newJob = (fields: Record<string, unknown> = {}) =>
  createJob(admin, {
    address_id: fx.addressId,
    contractor_id: fx.contractorId,
    job_type_id: 3,
    priority_id: 2,
    status_id: 1,
    job_title: "Boiler Service - Unit 001",
    job_description: "Annual boiler service required for property unit 001.",
    ...fields,
  } as Parameters<typeof createJob>[1]);

/** Every use case of the slice, called with an input that reaches no job: only admission can refuse first. */
const CALLS: [string, UseCase<never, unknown>, unknown][] = [
  ["createJob", createJob, { job_title: "x", job_description: "y", priority_id: 2, job_type_id: 3, address_id: -1 }],
  ["updateJob", updateJob, { uuid: UNKNOWN_UUID, job_title: "x" }],
  ["deleteJob", deleteJob, { uuid: UNKNOWN_UUID }],
  ["getJob", getJob, { uuid: UNKNOWN_UUID }],
  ["listJobs", listJobs, { limit: 1, offset: 0 }],
  ["decideApprovalGate", decideApprovalGate, { job_uuid: UNKNOWN_UUID, decision: "approve" }],
  ["raiseRecall", raiseRecall, { job_uuid: UNKNOWN_UUID, reason: "Leak" }],
  ["closeRecall", closeRecall, { job_uuid: UNKNOWN_UUID, outcome: "completed" }],
  ["completeRecall", completeRecall, { job_uuid: UNKNOWN_UUID }],
  ["linkRemedial", linkRemedial, { job_uuid: UNKNOWN_UUID, remedials_job_uuid: crypto.randomUUID() }],
  ["unlinkRemedial", unlinkRemedial, { job_uuid: UNKNOWN_UUID }],
  ["listRemedials", listRemedials, { job_uuid: UNKNOWN_UUID }],
  ["requestAmendment", requestAmendment, { job_uuid: UNKNOWN_UUID, field_name: "job_title", requested_value: "x", reason: "r" }],
  ["decideAmendment", decideAmendment, { uuid: UNKNOWN_UUID, status: "approved" }],
  ["listAmendments", listAmendments, { job_uuid: UNKNOWN_UUID, limit: 1, offset: 0 }],
  ["amendableFields", amendableFields, { job_uuid: UNKNOWN_UUID }],
  ["readAuditTrail", readAuditTrail, { job_uuid: UNKNOWN_UUID, limit: 1, offset: 0 }],
];
const call = (uc: UseCase<never, unknown>, scope: typeof admin, input: unknown) => (uc as UseCase<unknown, unknown>)(scope, input);

/** What the HTTP matrix and the routes' tests answer this role: the permission first, then the policy. */
function expectedRefusal(role: Role, uc: UseCase<never, unknown>): string | undefined {
  const { permission, policy } = uc.admission;
  if (permission && !ROLE_PERMISSIONS[role].includes(permission)) return `FORBIDDEN: Missing permission: ${permission}`;
  if (policy?.rule === "job.write" && role === "contractor") return `FORBIDDEN: ${JOB_WRITE_REFUSED}`;
  if (policy?.rule === "approval.decide" && !MANAGEMENT.includes(role)) return `FORBIDDEN: ${GATE_REFUSED}`;
  if (policy?.rule === "amendment.decide" && !MANAGEMENT.includes(role)) return `FORBIDDEN: ${AMEND_DECIDE_REFUSED}`;
  return undefined;
}

describe("admission, role × use case, with no HTTP in between", () => {
  const cases = ROLES.flatMap((role) => CALLS.map(([name, uc, input]) => [role, name, uc, input] as const));
  it.each(cases)("%s → %s", async (role, _name, uc, input) => {
    const scope = await scopeAs(role, { contractorId: role === "contractor" ? fx.contractorId : null });
    const got = await outcome(() => call(uc, scope, input));
    const refusal = expectedRefusal(role, uc);
    if (refusal) expect(got).toBe(refusal);
    else expect(got).not.toMatch(/^FORBIDDEN/);
  });

  it.each(CALLS)("%s without its permission: Missing permission, as the HTTP matrix answers", async (_name, uc, input) => {
    const permission = uc.admission.permission;
    if (!permission) throw new Error("every job operation names a permission");
    const narrowed = await scopeAs("admin", { permissions: PERMISSIONS.filter((p) => p !== permission) });
    expect(await outcome(() => call(uc, narrowed, input))).toBe(`FORBIDDEN: Missing permission: ${permission}`);
  });

  it("the policies refuse with the routes' messages: a contractor writing a job, staff deciding a gate or an amendment", async () => {
    const job = await newJob();
    const contractor = await scopeAs("contractor", { contractorId: fx.contractorId });
    const staff = await scopeAs("staff");
    expect(await outcome(() => updateJob(contractor, { uuid: job.uuid, job_title: "Mine now" }))).toBe(`FORBIDDEN: ${JOB_WRITE_REFUSED}`);
    expect(await outcome(() => deleteJob(contractor, { uuid: job.uuid }))).toBe(`FORBIDDEN: ${JOB_WRITE_REFUSED}`);
    await seedStatus(job.uuid, 2);
    expect(await outcome(() => decideApprovalGate(staff, { job_uuid: job.uuid, decision: "approve" }))).toBe(`FORBIDDEN: ${GATE_REFUSED}`);
    const { uuid } = await requestAmendment(staff, { job_uuid: job.uuid, field_name: "job_title", requested_value: "New", reason: "Typo" });
    expect(await outcome(() => decideAmendment(staff, { uuid, status: "approved" }))).toBe(`FORBIDDEN: ${AMEND_DECIDE_REFUSED}`);
  });

  it("a contractor reading or proposing on another contractor's job: NOT_FOUND, never FORBIDDEN", async () => {
    const job = await newJob({ contractor_id: fx.otherContractorId });
    const contractor = await scopeAs("contractor", { contractorId: fx.contractorId });
    const calls: (() => Promise<unknown>)[] = [
      () => getJob(contractor, { uuid: job.uuid }),
      () => readAuditTrail(contractor, { job_uuid: job.uuid, limit: 10, offset: 0 }),
      () => amendableFields(contractor, { job_uuid: job.uuid }),
      () => listAmendments(contractor, { job_uuid: job.uuid, limit: 10, offset: 0 }),
      () => requestAmendment(contractor, { job_uuid: job.uuid, field_name: "contractor_budget", requested_value: "1", reason: "r" }),
    ];
    for (const run of calls) expect(await outcome(run)).toBe("NOT_FOUND: Job not found");
    const listed = await listJobs(contractor, { limit: 200, offset: 0 });
    expect(listed.data.map((j) => j.uuid)).not.toContain(job.uuid);
  });
});

describe("each use case answers data", () => {
  it("manage: create, get, list, update (with If-Match), delete", async () => {
    const created = await newJob({ job_title: "Direct call job" });
    expect(created).toMatchObject({ id: expect.any(Number), uuid: expect.any(String), ref: expect.stringMatching(/^JOB-\d{3,}$/) });

    const { job, version } = await getJob(admin, { uuid: created.uuid });
    expect(job).toMatchObject({ uuid: created.uuid, job_title: "Direct call job", status_id: 1, sla_state: "within" });

    const listed = await listJobs(admin, { search: "Direct call", limit: 50, offset: 0 });
    expect(listed.data.map((j) => j.uuid)).toContain(created.uuid);
    expect(listed.count_capped).toBe(false);

    expect(await outcome(() => updateJob(admin, { uuid: created.uuid, job_title: "Stale", ifMatch: `"v${version - 1}"` }))).toBe(
      `PRECONDITION_FAILED: If-Match: the job has changed (its ETag is now "v${version}"); read it again and retry`,
    );
    const updated = await updateJob(admin, { uuid: created.uuid, job_title: "Renamed", ifMatch: `"v${version}"` });
    expect(updated).toEqual({ changed: ["job_title"], version: version + 1 });

    expect(await deleteJob(admin, { uuid: created.uuid })).toEqual({ uuid: created.uuid });
    expect(await outcome(() => getJob(admin, { uuid: created.uuid }))).toBe("NOT_FOUND: Job not found");
  });

  it("approval gate: approve moves the job on and names where", async () => {
    const job = await newJob();
    await seedStatus(job.uuid, 2);
    const { from, to } = await decideApprovalGate(admin, { job_uuid: job.uuid, decision: "approve", notes: "Fine" });
    expect([from.id, to.id]).toEqual([2, 3]);
    expect(await auditActions(job.uuid)).toContain("job.approval_approved");
  });

  it("recall: raise, close, and mark-recall-completed", async () => {
    const job = await newJob();
    await seedStatus(job.uuid, 6);
    expect(await raiseRecall(admin, { job_uuid: job.uuid, reason: "Leak again" })).toMatchObject({ id: job.id, jobRef: job.ref });
    expect(await closeRecall(admin, { job_uuid: job.uuid, outcome: "cancelled", note: "Raised in error" })).toMatchObject({ id: job.id });
    await raiseRecall(admin, { job_uuid: job.uuid, reason: "Leak, really" });
    expect(await completeRecall(admin, { job_uuid: job.uuid })).toEqual({ job_id: job.id, job_title: "Boiler Service - Unit 001" });
    expect((await getJob(admin, { uuid: job.uuid })).job).toMatchObject({ status_id: 6, is_recall: 0 });
  });

  it("remedials: link, list, unlink", async () => {
    const parent = await newJob();
    const remedial = await newJob({ job_title: "Remedial work" });
    await linkRemedial(admin, { job_uuid: parent.uuid, remedials_job_uuid: remedial.uuid });
    const listed = await listRemedials(admin, { job_uuid: parent.uuid });
    expect(listed).toEqual([
      expect.objectContaining({ ID: remedial.id, uuid: remedial.uuid, job_ref: remedial.ref, job_title: "Remedial work" }),
    ]);
    await unlinkRemedial(admin, { job_uuid: remedial.uuid });
    expect(await listRemedials(admin, { job_uuid: parent.uuid })).toEqual([]);
  });

  it("amendments: the fields, a request, the list, the decision; the audit trail records them", async () => {
    const job = await newJob();
    const contractor = await scopeAs("contractor", { contractorId: fx.contractorId });
    const fields = await amendableFields(contractor, { job_uuid: job.uuid });
    expect(fields).toMatchObject({ job_uuid: job.uuid, job_ref: job.ref, user_type: "contractor" });
    expect(fields.fields.map((f) => f.key)).toContain("contractor_budget");

    const { uuid } = await requestAmendment(contractor, {
      job_uuid: job.uuid,
      field_name: "contractor_budget",
      requested_value: "220.00",
      reason: "Extra parts",
    });
    const listed = await listAmendments(contractor, { job_uuid: job.uuid, limit: 10, offset: 0 });
    expect(listed).toMatchObject({
      count: 1,
      data: [{ uuid, status: "pending", requested_value: "220.00", field_name: "contractor_budget" }],
    });
    expect(await decideAmendment(admin, { uuid, status: "approved" })).toEqual({ uuid, status: "approved" });

    const trail = await readAuditTrail(admin, { job_uuid: job.uuid, limit: 50, offset: 0 });
    expect(trail.data.map((e) => e.action)).toEqual(["job.updated", "amendment.approved", "amendment.requested", "job.created"]);
    expect(trail.count).toBe(4);
  });
});
