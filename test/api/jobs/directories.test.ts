import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { fieldCipher } from "../../../src/crypto/fields";
import { type Actor, actor, api, expectStatus, type Fixtures, seedFixtures } from "../../support/helpers";

/**
 * The directories (GET /api/jobs/contractors, agents, staff, tenants) as a client sees them:
 * search, filters, paging, who sees what, and masked tenant contacts.
 */

let fx: Fixtures;
let admin: Actor;
let staff: Actor;
let agentUser: Actor;
let contractorUser: Actor;
let otherAgentId: number;
let plumberId: number;
let inactiveId: number;

const id = async (sql: string, ...args: unknown[]) =>
  (
    await env.DB.prepare(`${sql} RETURNING id`)
      .bind(...args)
      .first<{ id: number }>()
  )?.id ?? 0;

beforeAll(async () => {
  fx = await seedFixtures();
  admin = await actor("admin", { name: "Zed Admin" });
  staff = await actor("staff", { name: "Sam Staff" });
  agentUser = await actor("agent", { agentId: fx.agentId });
  contractorUser = await actor("contractor", { contractorId: fx.contractorId });
  otherAgentId = await id(
    "INSERT INTO agents (uuid, name, email) VALUES (?, ?, ?)",
    crypto.randomUUID(),
    "Harbour Lettings",
    "h@example.test",
  );
  plumberId = await id(
    "INSERT INTO contractors (uuid, name, email) VALUES (?, ?, ?)",
    crypto.randomUUID(),
    "smith & sons plumbing",
    "s@example.test",
  );
  inactiveId = await id(
    "INSERT INTO contractors (uuid, name, email, active) VALUES (?, ?, ?, 0)",
    crypto.randomUUID(),
    "Smithson Roofing",
    "r@example.test",
  );
  // Trades: the plumber does plumbing (2) and gas (3); the roofer roofing (5) and plumbing.
  await env.DB.batch([
    env.DB.prepare("INSERT INTO contractor_job_types (contractor_id, job_type_id) VALUES (?, 2), (?, 3), (?, 5), (?, 2)").bind(
      plumberId,
      plumberId,
      inactiveId,
      inactiveId,
    ),
  ]);
  const cipher = await fieldCipher(env);
  const tenantUuid = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO tenants (uuid, name, email, phone, address_id) VALUES (?, ?, ?, ?, ?)")
    .bind(
      tenantUuid,
      "Jane Tenant",
      await cipher.encrypt({ table: "tenants", column: "email", rowUuid: tenantUuid }, "jane@example.com"),
      await cipher.encrypt({ table: "tenants", column: "phone", rowUuid: tenantUuid }, "07700 900123"),
      fx.addressId,
    )
    .run();
});

const list = (who: Actor, path: string) => api("GET", path, { token: who.token });

describe("contractor directory", () => {
  it("searches by the start of the name, case-insensitively, in name order, with trades", async () => {
    const res = await list(staff, "/api/jobs/contractors?action=list&search=SMITH");
    expectStatus(res, 200);
    expect(res.body.data.map((c: { name: string }) => c.name)).toEqual(["smith & sons plumbing", "Smithson Roofing"]);
    expect(res.body).toMatchObject({ success: true, count: 2, count_capped: false });
    expect(res.body.data[0]).toMatchObject({
      ID: plumberId,
      active: true,
      job_types: [
        { ID: 3, name: "Gas & Heating" },
        { ID: 2, name: "Plumbing" },
      ],
    });
    // A word inside the name is not its start.
    expect((await list(staff, "/api/jobs/contractors?action=list&search=sons")).body.count).toBe(0);
  });

  it("filters by trade and by active, and pages", async () => {
    const plumbing = await list(admin, "/api/jobs/contractors?action=list&job_type_id=2");
    expect(plumbing.body.data.map((c: { ID: number }) => c.ID)).toEqual([plumberId, inactiveId]);
    const activePlumbing = await list(admin, "/api/jobs/contractors?action=list&job_type_id=2&active=true");
    expect(activePlumbing.body.data.map((c: { ID: number }) => c.ID)).toEqual([plumberId]);
    const inactive = await list(admin, "/api/jobs/contractors?action=list&active=false");
    expect(inactive.body.data.map((c: { ID: number }) => c.ID)).toEqual([inactiveId]);
    expect(inactive.body.data[0].active).toBe(false);
    const roofers = await list(admin, "/api/jobs/contractors?action=list&job_type_id=5&search=smith");
    expect(roofers.body.data.map((c: { ID: number }) => c.ID)).toEqual([inactiveId]);
    const page = await list(admin, "/api/jobs/contractors?action=list&limit=1&offset=1");
    expect(page.body.data).toHaveLength(1);
    expect(page.body.count).toBe(4);
  });

  it("a renamed or deactivated contractor is found under its new name and state in the trade filter", async () => {
    await env.DB.prepare("UPDATE contractors SET name = 'Aardvark Plumbing', active = 0 WHERE id = ?").bind(plumberId).run();
    const res = await list(admin, "/api/jobs/contractors?action=list&job_type_id=2&search=aard&active=false");
    expect(res.body.data.map((c: { ID: number; name: string }) => [c.ID, c.name])).toEqual([[plumberId, "Aardvark Plumbing"]]);
    await env.DB.prepare("UPDATE contractors SET name = 'smith & sons plumbing', active = 1 WHERE id = ?").bind(plumberId).run();
  });

  it("a contractor sees only its own record, whatever it asks for", async () => {
    const all = await list(contractorUser, "/api/jobs/contractors?action=list");
    expectStatus(all, 200);
    expect(all.body.data.map((c: { ID: number }) => c.ID)).toEqual([fx.contractorId]);
    expect(all.body.count).toBe(1);
    const other = await list(contractorUser, "/api/jobs/contractors?action=list&search=smith");
    expect(other.body).toMatchObject({ data: [], count: 0 });
    const trade = await list(contractorUser, "/api/jobs/contractors?action=list&job_type_id=2");
    expect(trade.body).toMatchObject({ data: [], count: 0 });
  });

  it("refuses unknown parameters and bad values with the field named", async () => {
    const res = await list(admin, "/api/jobs/contractors?action=list&active=maybe");
    expectStatus(res, 400);
    expect(res.body.errors[0].field).toBe("active");
    expectStatus(await list(admin, "/api/jobs/contractors?action=list&job_type_id=abc"), 400);
    expectStatus(await list(admin, "/api/jobs/contractors?action=get"), 400);
  });
});

describe("agent directory", () => {
  it("lists every agent to the agency's side, by name", async () => {
    const res = await list(staff, "/api/jobs/agents?action=list");
    expectStatus(res, 200);
    expect(res.body.data.map((a: { ID: number }) => a.ID)).toEqual([fx.agentId, otherAgentId]);
    expect((await list(staff, "/api/jobs/agents?action=list&search=harb")).body.data[0].ID).toBe(otherAgentId);
  });

  it("an agent user sees only its own agency; a contractor is refused", async () => {
    const res = await list(agentUser, "/api/jobs/agents?action=list");
    expect(res.body.data.map((a: { ID: number }) => a.ID)).toEqual([fx.agentId]);
    expectStatus(await list(contractorUser, "/api/jobs/agents?action=list"), 403);
  });
});

describe("staff directory", () => {
  it("lists admins, managers and staff (never agent or contractor users), with role and active filters", async () => {
    const res = await list(admin, "/api/jobs/staff?action=list&limit=200");
    expectStatus(res, 200);
    const roles = new Set(res.body.data.map((u: { role: string }) => u.role));
    expect([...roles].sort()).toEqual(["admin", "staff"]);
    expect((await list(admin, "/api/jobs/staff?action=list&search=sam")).body.data.map((u: { ID: number }) => u.ID)).toEqual([
      staff.userId,
    ]);
    expect((await list(admin, "/api/jobs/staff?action=list&role=admin")).body.data.map((u: { ID: number }) => u.ID)).toEqual([
      admin.userId,
    ]);
  });

  it("is refused to agents and contractors", async () => {
    expectStatus(await list(agentUser, "/api/jobs/staff?action=list"), 403);
    expectStatus(await list(contractorUser, "/api/jobs/staff?action=list"), 403);
  });
});

describe("tenant directory", () => {
  it("lists a property's tenants with their contacts masked, never in clear", async () => {
    const res = await list(agentUser, `/api/jobs/tenants?action=list&address_id=${fx.addressId}`);
    expectStatus(res, 200);
    const jane = res.body.data.find((t: { name: string }) => t.name === "Jane Tenant");
    expect(jane).toMatchObject({ address_id: fx.addressId, active: true, email: "j•••@example.com", phone: "•••• 123" });
    expect(JSON.stringify(res.body)).not.toContain("jane@example.com");
    expect(JSON.stringify(res.body)).not.toContain("900123");
    const other = await list(agentUser, `/api/jobs/tenants?action=list&address_id=${fx.otherAddressId}&search=jane`);
    expect(other.body.count).toBe(0);
  });

  it("needs the address and is refused to contractors", async () => {
    const res = await list(admin, "/api/jobs/tenants?action=list");
    expectStatus(res, 400);
    expect(res.body.errors[0].field).toBe("address_id");
    expectStatus(await list(contractorUser, `/api/jobs/tenants?action=list&address_id=${fx.addressId}`), 403);
  });
});
