import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, getJob, seedFixtures } from "../../../support/helpers";
import { seedStatus } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
});

const rawJob = (uuid: string) => env.DB.prepare("SELECT * FROM jobs WHERE uuid = ?").bind(uuid).first<Record<string, unknown>>();
const auditOf = (uuid: string) =>
  env.DB.prepare("SELECT action, changes, actor_name FROM audit_events WHERE job_uuid = ? ORDER BY id")
    .bind(uuid)
    .all<{ action: string; changes: string; actor_name: string }>()
    .then((r) => r.results);

describe("create", () => {
  it("accepts the reference's form-urlencoded curl and answers 201 with id, uuid and ref", async () => {
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      as: "form",
      body: {
        action: "create",
        job_title: "Boiler Service - Unit 001",
        job_description: "Annual boiler service",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
        contractor_id: fx.contractorId,
        vat_percentage: "20.0",
        job_total_budget: "250.00",
        csrf_token: staff.csrf,
      },
    });
    expectStatus(res, 201);
    expect(res.body).toEqual({
      success: true,
      job_id: expect.any(Number),
      job_uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      job_ref: `JOB-${String(res.body.job_id).padStart(3, "0")}`,
      message: "Job created successfully",
    });
  });

  it("accepts JSON and multipart bodies too, and applies the platform VAT default", async () => {
    const json = await createJob(staff, fx, { tenants_ids: fx.tenantIds });
    const multipart = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      as: "multipart",
      body: {
        action: "create",
        job_title: "Leak",
        job_description: "Under sink",
        priority_id: 3,
        status_id: 1,
        job_type_id: 2,
        address_id: fx.addressId,
        tenants_ids: fx.tenantIds,
      },
    });
    expectStatus(multipart, 201);
    for (const uuid of [json.job_uuid, multipart.body.job_uuid]) {
      const job = await getJob(staff, uuid);
      expect(job.vat_percentage).toBe(20);
      expect(job.tenants.map((t: { id: number }) => t.id)).toEqual(fx.tenantIds);
    }
  });

  it("encrypts private fields at rest and returns them decrypted", async () => {
    const created = await createJob(staff, fx, {
      access_details: "Key safe 4321 by the back door",
      private_contact_name: "Jane Tenant",
      private_contact_email: "jane.tenant@example.com",
    });
    const row = await rawJob(created.job_uuid);
    const raw = JSON.stringify(row);
    for (const secret of ["4321", "Jane Tenant", "jane.tenant@example.com"]) expect(raw).not.toContain(secret);
    for (const col of ["access_details", "private_contact_name", "private_contact_email"]) {
      expect(String(row?.[col])).toMatch(/^v1\.k2\.[A-Za-z0-9_-]+$/);
    }
    const job = await getJob(staff, created.job_uuid);
    expect(job.access_details).toBe("Key safe 4321 by the back door");
    expect(job.private_contact_name).toBe("Jane Tenant");
    expect(job.private_contact_email).toBe("jane.tenant@example.com");
  });

  it("computes the SLA deadline from the priority and writes an audit event without private values", async () => {
    const created = await createJob(staff, fx, { priority_id: 4, private_contact_name: "Secret Name" });
    const row = await rawJob(created.job_uuid);
    const started = Date.parse(String(row?.sla_started_at));
    expect(Date.parse(String(row?.sla_deadline)) - started).toBe(4 * 3600_000);
    const [event] = await auditOf(created.job_uuid);
    expect(event?.action).toBe("job.created");
    expect(JSON.parse(event?.changes ?? "{}").private_contact_name).toEqual({ changed: true });
    expect(event?.changes).not.toContain("Secret Name");
  });

  it.each([
    [{ job_title: undefined }, "job_title", "is required"],
    [{ priority_id: "abc" }, "priority_id", "must be an integer"],
    [{ priority_id: 2.5 }, "priority_id", "must be an integer"],
    [{ status_id: -1 }, "status_id", "must be positive"],
    [{ vat_percentage: 150 }, "vat_percentage", "at most 100"],
    [{ job_total_budget: "12.345" }, "job_total_budget", "2 decimal places"],
    [{ job_total_budget: -5 }, "job_total_budget", "negative"],
    [{ date_works_start_date: "2024-02-30" }, "date_works_start_date", "not a real date"],
    [{ date_works_start_date: "2024-06-03", date_works_end_date: "2024-06-01" }, "date_works_end_date", "before"],
    [{ private_contact_email: "not-an-email" }, "private_contact_email", "email"],
    [{ job_title: "   " }, "job_title", "must not be empty"],
    [{ job_title: "x".repeat(256) }, "job_title", "at most 255"],
    [{ surprise: 1 }, "surprise", "is not a known field"],
    [{ tenants_ids: "1,abc" }, "tenants_ids.1", "must be an integer"],
  ])("400 for bad input %j", async (override, field, message) => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM jobs").first<{ n: number }>();
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
        ...override,
      },
    });
    expectStatus(res, 400);
    expect(res.body.code).toBe("BAD_REQUEST");
    const error = res.body.errors.find((e: { field: string }) => e.field === field);
    expect(error, JSON.stringify(res.body)).toBeDefined();
    expect(error.message).toContain(message);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM jobs").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("names every missing required field", async () => {
    const res = await api("POST", "/api/jobs/manage", { token: staff.token, csrf: staff.csrf, body: { action: "create" } });
    expectStatus(res, 400);
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(["address_id", "job_description", "job_title", "job_type_id", "priority_id", "status_id"]);
  });

  it("400 for references that do not exist, naming each", async () => {
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 99,
        status_id: 98,
        job_type_id: 3,
        address_id: 9999,
        contractor_id: 777,
        tenants_ids: [fx.tenantIds[0], 555],
      },
    });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { field: "priority_id", message: "no priority with id 99" },
        { field: "status_id", message: "no status with id 98" },
        { field: "address_id", message: "no address with id 9999" },
        { field: "contractor_id", message: "no contractor with id 777" },
        { field: "tenants_ids", message: "no tenant with id 555" },
      ]),
    );
  });

  // The references are checked by the write itself (foreign keys, an archived status refused in the
  // insert): each one alone must still be a 400 naming it, with no job and no event written.
  it.each([
    ["priority_id", 99, "no priority with id 99"],
    ["status_id", 98, "no status with id 98"],
    ["status_id", 9, "is an archived status"],
    ["job_type_id", 97, "no job type with id 97"],
    ["address_id", 9999, "no address with id 9999"],
    ["agent_id", 888, "no agent with id 888"],
    ["contractor_id", 777, "no contractor with id 777"],
    ["payment_status_id", 66, "no payment status with id 66"],
    ["time_range_id", 55, "no time range with id 55"],
    ["tenants_ids", [555], "no tenant with id 555"],
  ])("400 for %s = %j alone, writing nothing", async (field, value, message) => {
    const before = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM audit_events) AS events",
    ).first();
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
        [field]: value,
      },
    });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([{ field, message: expect.stringContaining(message) }]);
    const after = await env.DB.prepare("SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM audit_events) AS events").first();
    expect(after).toEqual(before);
  });

  it("a job is created Open or Awaiting Approval (Approved by management), never Completed: 409 naming where it may start", async () => {
    const before = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM audit_events) AS events",
    ).first();
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 2,
        status_id: 6,
        job_type_id: 3,
        address_id: fx.addressId,
      },
    });
    expectStatus(res, 409);
    expect(res.body).toMatchObject({ code: "TRANSITION_NOT_ALLOWED", current_status: null });
    expect(res.body.next_statuses.map((s: { status_name: string }) => s.status_name)).toEqual(["Open", "Awaiting Approval"]);
    expect(
      await env.DB.prepare("SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM audit_events) AS events").first(),
    ).toEqual(before);
    const open = await rawJob((await createJob(staff, fx, { status_id: 1 })).job_uuid);
    expect(open?.completed_at).toBeNull();
  });

  it("400 for an unknown or missing action, listing the valid ones", async () => {
    for (const body of [{ action: "explode" }, {}]) {
      const res = await api("POST", "/api/jobs/manage", { token: staff.token, csrf: staff.csrf, body });
      expectStatus(res, 400);
      expect(res.body.message).toBe("action: is missing or unknown; expected one of: create, update, delete");
    }
  });

  it("rejects malformed bodies with clear errors", async () => {
    const headers = { "Content-Type": "application/json", "X-CSRF-Token": staff.csrf, Authorization: `Bearer ${staff.token}` };
    const bad = await api("POST", "/api/jobs/manage", { headers, body: undefined });
    expectStatus(bad, 400);
    const notJson = await fetchRaw("POST", "/api/jobs/manage", headers, "{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toBe("Request body is not valid JSON");
    const array = await fetchRaw("POST", "/api/jobs/manage", headers, "[1,2]");
    expect(array.body.message).toBe("Request body must be a JSON object");
    const xml = await fetchRaw("POST", "/api/jobs/manage", { ...headers, "Content-Type": "application/xml" }, "<a/>");
    expect(xml.status).toBe(415);
    const huge = await fetchRaw(
      "POST",
      "/api/jobs/manage",
      headers,
      JSON.stringify({ action: "create", job_title: "x".repeat(1_100_000) }),
    );
    expect(huge.status).toBe(413);
  });

  it("contractors may not create jobs", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const res = await api("POST", "/api/jobs/manage", {
      token: contractor.token,
      csrf: contractor.csrf,
      body: {
        action: "create",
        job_title: "T",
        job_description: "D",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
      },
    });
    expectStatus(res, 403);
    expect(res.body.message).toMatch(/Contractors cannot create/);
  });
});

async function fetchRaw(method: string, path: string, headers: Record<string, string>, body: string) {
  const { exports } = await import("cloudflare:workers");
  const res = await exports.default.fetch(new Request(`https://propops.test${path}`, { method, headers, body }));
  return { status: res.status, body: (await res.json()) as { message: string } };
}

describe("list", () => {
  let listFx: Fixtures;
  let mine: string;
  beforeAll(async () => {
    listFx = await seedFixtures();
    const a = await createJob(staff, listFx, {
      job_title: "Roof repair alpha",
      contractor_budget: 180,
      agent_id: listFx.agentId,
      date_works_start_date: "2024-06-01",
      date_works_end_date: "2024-06-02",
    });
    mine = a.job_uuid;
    await createJob(staff, listFx, {
      job_title: "Gutter clean",
      job_description: "Clear the gutters and downpipes",
      priority_id: 3,
      contractor_id: listFx.otherContractorId,
    });
    const fence = await createJob(staff, listFx, { job_title: "Fence alpha", contractor_id: null, address_id: listFx.otherAddressId });
    await seedStatus(fence.job_uuid, 4);
  });

  it("returns the reference's fields with names joined in", async () => {
    const res = await api("GET", `/api/jobs/manage?action=list&agent_id=${listFx.agentId}`, { token: staff.token });
    expectStatus(res, 200);
    expect(res.body.success).toBe(true);
    expect(res.body.message).toBe("Operation completed successfully");
    expect(res.body.count).toBe(1);
    expect(res.body.data[0]).toMatchObject({
      uuid: mine,
      job_title: "Roof repair alpha",
      status_id: 1,
      status_name: "Open",
      priority_id: 2,
      priority_name: "Medium",
      job_type_id: 3,
      job_type_name: "Gas & Heating",
      agent_id: listFx.agentId,
      agent_name: "Agent_001",
      contractor_id: listFx.contractorId,
      contractor_name: "Contractor_001",
      full_address: "1 Example Street, Sample Town, EX1 1AA",
      contractor_budget: 180,
      vat_percentage: 20,
      total_amount: 216,
      date_works_start_date: "2024-06-01",
      date_works_end_date: "2024-06-02",
      photos_count: 0,
      documents_count: 0,
      is_pinned: false,
    });
    const item = res.body.data[0];
    for (const key of ["ID", "job_ref", "job_description", "job_total_budget", "created_at", "updated_at"])
      expect(item).toHaveProperty(key);
    expect(item.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(item).not.toHaveProperty("access_details");
  });

  it("filters by status, priority, contractor, creator and search; count is the total matched", async () => {
    const q = async (query: string) => {
      const res = await api("GET", `/api/jobs/manage?action=list&${query}`, { token: staff.token });
      expectStatus(res, 200);
      return res.body as { data: { job_title: string }[]; count: number };
    };
    expect((await q("status_id=4&search=alpha")).data.map((j) => j.job_title)).toEqual(["Fence alpha"]);
    expect((await q("priority_id=3&search=gutter")).count).toBe(1);
    expect((await q(`contractor_id=${listFx.otherContractorId}`)).data.map((j) => j.job_title)).toContain("Gutter clean");
    expect((await q("search=ALPHA")).count).toBeGreaterThanOrEqual(2);
    expect((await q("search=downpipes")).data.map((j) => j.job_title)).toEqual(["Gutter clean"]);
    expect((await q("search=roof%20alpha")).data.map((j) => j.job_title)).toEqual(["Roof repair alpha"]);
    expect((await q("search=JOB-")).count).toBe((await q("")).count);
    const creator = await q(`created_by=${staff.userId}`);
    expect(creator.count).toBe((await q("")).count);
    expect((await q("search=zzzz-nothing")).count).toBe(0);
  });

  it("treats search text literally (quotes, wildcards)", async () => {
    for (const s of ['"""', "%%%", "___", 'a"b*', "OR 1=1 --"]) {
      const res = await api("GET", `/api/jobs/manage?action=list&search=${encodeURIComponent(s)}`, { token: staff.token });
      expectStatus(res, 200);
    }
    const pct = await api("GET", `/api/jobs/manage?action=list&search=${encodeURIComponent("job %")}`, { token: staff.token });
    expect(pct.body.count).toBe(0);
  });

  it("has_photos / has_documents reflect attached rows", async () => {
    const job = await createJob(staff, listFx, { job_title: "With media" });
    await env.DB.prepare(
      "INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size) VALUES (?, ?, 'image', 'k', 'a.jpg', 'image/jpeg', 1)",
    )
      .bind(crypto.randomUUID(), job.job_id)
      .run();
    const withPhotos = await api("GET", "/api/jobs/manage?action=list&has_photos=true", { token: staff.token });
    expect(withPhotos.body.data.map((j: { uuid: string }) => j.uuid)).toEqual([job.job_uuid]);
    expect(withPhotos.body.data[0].photos_count).toBe(1);
    const withDocs = await api("GET", "/api/jobs/manage?action=list&has_documents=true", { token: staff.token });
    expect(withDocs.body.count).toBe(0);
  });

  it("has_photos= / has_documents= / pinned= with an empty value apply no filter; false and 0 mean without", async () => {
    const uuids = async (query: string) => {
      const res = await api("GET", `/api/jobs/manage?action=list&limit=200&${query}`, { token: staff.token });
      expectStatus(res, 200);
      return { uuids: res.body.data.map((j: { uuid: string }) => j.uuid) as string[], count: res.body.count as number };
    };
    const pictured = await createJob(staff, listFx, { job_title: "Pictured" });
    await env.DB.prepare(
      "INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size) VALUES (?, ?, 'image', 'k', 'a.jpg', 'image/jpeg', 1)",
    )
      .bind(crypto.randomUUID(), pictured.job_id)
      .run();
    const pin = await api("POST", "/api/jobs/toggle-pin", { token: staff.token, csrf: staff.csrf, body: { job_uuid: pictured.job_uuid } });
    expectStatus(pin, 200);
    expect(pin.body.is_pinned).toBe(true);
    expect((await uuids("pinned=true")).uuids).toEqual([pictured.job_uuid]);
    const all = await uuids("");
    expect(all.count).toBeGreaterThan(1);
    // A blank form field sends the name with no value.
    for (const blank of ["has_photos=", "has_documents=", "pinned=", "has_photos=&has_documents=", "has_photos=%20"]) {
      expect(await uuids(blank), blank).toEqual(all);
    }
    const withPhotos = await uuids("has_photos=true");
    expect(withPhotos.count).toBeGreaterThan(0);
    for (const without of ["has_photos=false", "has_photos=0"]) {
      const res = await uuids(without);
      expect(res.count, without).toBe(all.count - withPhotos.count);
      expect(
        res.uuids.some((u) => withPhotos.uuids.includes(u)),
        without,
      ).toBe(false);
    }
    expect(await uuids("has_photos=1")).toEqual(withPhotos);
    expect((await uuids("has_documents=0")).count).toBe(all.count);
  });

  it("documents the flags' values in the OpenAPI document", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expectStatus(doc, 200);
    const params = doc.body.paths["/api/jobs/manage"].get.parameters as { name: string; description?: string }[];
    for (const name of ["has_photos", "has_documents", "pinned"]) {
      expect(params.find((p) => p.name === name)?.description, name).toMatch(/false or 0: only jobs without; empty or absent: no filter/);
    }
  });

  it("pages with limit and offset", async () => {
    const all = await api("GET", "/api/jobs/manage?action=list&limit=200", { token: staff.token });
    const page = await api("GET", "/api/jobs/manage?action=list&limit=2&offset=1", { token: staff.token });
    expect(page.body.data.map((j: { uuid: string }) => j.uuid)).toEqual(all.body.data.slice(1, 3).map((j: { uuid: string }) => j.uuid));
    expect(page.body.count).toBe(all.body.count);
  });

  it.each([
    ["limit=0", "limit", "at least 1"],
    ["limit=201", "limit", "at most 200"],
    ["limit=abc", "limit", "must be an integer"],
    ["offset=-1", "offset", "must not be negative"],
    ["status_id=x", "status_id", "must be an integer"],
    ["has_photos=maybe", "has_photos", "true or false"],
    ["colour=red", "colour", "is not a known field"],
  ])("400 for %s", async (query, field, message) => {
    const res = await api("GET", `/api/jobs/manage?action=list&${query}`, { token: staff.token });
    expectStatus(res, 400);
    expect(res.body.errors[0]).toMatchObject({ field });
    expect(res.body.errors[0].message).toContain(message);
  });

  it("400 for an unknown action", async () => {
    const res = await api("GET", "/api/jobs/manage?action=explode", { token: staff.token });
    expectStatus(res, 400);
    expect(res.body.message).toBe("action: is missing or unknown; expected one of: list, get");
  });

  it("contractors see only their own jobs; others are 404 to them", async () => {
    const contractor = await actor("contractor", { contractorId: listFx.otherContractorId });
    const list = await api("GET", "/api/jobs/manage?action=list&limit=200", { token: contractor.token });
    expectStatus(list, 200);
    expect(list.body.data.length).toBeGreaterThan(0);
    expect(list.body.data.every((j: { contractor_id: number }) => j.contractor_id === listFx.otherContractorId)).toBe(true);
    expect(list.body.count).toBe(list.body.data.length);
    const notTheirs = await api("GET", `/api/jobs/manage?action=get&uuid=${mine}`, { token: contractor.token });
    expectStatus(notTheirs, 404);
    // Asking for another contractor's jobs by filter shows nothing rather than leaking them.
    const sneaky = await api("GET", `/api/jobs/manage?action=list&contractor_id=${listFx.contractorId}`, { token: contractor.token });
    expect(sneaky.body.count).toBe(0);
  });
});

describe("get", () => {
  it("404 for an unknown uuid, 400 for a malformed one", async () => {
    const unknown = await api("GET", `/api/jobs/manage?action=get&uuid=${crypto.randomUUID()}`, { token: staff.token });
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
    const malformed = await api("GET", "/api/jobs/manage?action=get&uuid=123", { token: staff.token });
    expectStatus(malformed, 400);
    expect(malformed.body.errors[0]).toEqual({ field: "uuid", message: "must be a UUID" });
  });

  it("contractors get the access details of their job but not the private contact", async () => {
    const created = await createJob(staff, fx, {
      access_details: "Gate code 9911",
      private_contact_name: "Hidden Person",
      private_contact_email: "hidden@example.com",
    });
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const job = await getJob(contractor, created.job_uuid);
    expect(job.access_details).toBe("Gate code 9911");
    expect(job.private_contact_name).toBeNull();
    expect(job.private_contact_email).toBeNull();
  });

  it("refuses to answer with a value that does not decrypt (never the ciphertext)", async () => {
    const a = await createJob(staff, fx, { private_contact_name: "Alice" });
    const b = await createJob(staff, fx, { private_contact_name: "Bob" });
    const stolen = await rawJob(a.job_uuid);
    // Copy Alice's ciphertext into Bob's row: the per-row key makes it fail to decrypt.
    await env.DB.prepare("UPDATE jobs SET private_contact_name = ? WHERE uuid = ?").bind(stolen?.private_contact_name, b.job_uuid).run();
    const res = await api("GET", `/api/jobs/manage?action=get&uuid=${b.job_uuid}`, { token: staff.token });
    expectStatus(res, 500);
    expect(JSON.stringify(res.body)).not.toContain(String(stolen?.private_contact_name));
  });
});

describe("update", () => {
  it("changes only the fields sent and audits before/after", async () => {
    const created = await createJob(staff, fx, { contractor_budget: 100, private_contact_email: "old@example.com" });
    const before = await rawJob(created.job_uuid);
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      as: "form",
      body: {
        action: "update",
        uuid: created.job_uuid,
        contractor_budget: "150.50",
        private_contact_email: "new@example.com",
        csrf_token: staff.csrf,
      },
    });
    expectStatus(res, 200);
    expect(res.body).toMatchObject({
      success: true,
      message: "Job updated successfully",
      changed_fields: ["contractor_budget", "private_contact_email"],
    });
    const after = await rawJob(created.job_uuid);
    expect(after?.contractor_budget).toBe(150.5);
    expect(after?.job_title).toBe(before?.job_title);
    expect(after?.private_contact_email).not.toBe(before?.private_contact_email);
    expect((await getJob(staff, created.job_uuid)).private_contact_email).toBe("new@example.com");
    const events = await auditOf(created.job_uuid);
    const update = events.find((e) => e.action === "job.updated");
    expect(JSON.parse(update?.changes ?? "{}")).toEqual({
      contractor_budget: { before: 100, after: 150.5 },
      private_contact_email: { changed: true },
    });
    expect(update?.changes).not.toContain("example.com");
  });

  it("unassigns with an empty value and recomputes the SLA deadline on a priority change", async () => {
    const created = await createJob(staff, fx, { priority_id: 1 });
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: created.job_uuid, contractor_id: "", priority_id: 3 },
    });
    expectStatus(res, 200);
    const row = await rawJob(created.job_uuid);
    expect(row?.contractor_id).toBeNull();
    expect(Date.parse(String(row?.sla_deadline)) - Date.parse(String(row?.sla_started_at))).toBe(24 * 3600_000);
  });

  it("reports no change when the values are already set, without an audit event", async () => {
    const created = await createJob(staff, fx, { job_title: "Same" });
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: created.job_uuid, job_title: "Same" },
    });
    expectStatus(res, 200);
    expect(res.body.changed_fields).toEqual([]);
    expect((await auditOf(created.job_uuid)).map((e) => e.action)).toEqual(["job.created"]);
  });

  it("400 with nothing to update; 404 for an unknown job; 403 for an archived job; nothing changes", async () => {
    const created = await createJob(staff, fx);
    const nothing = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: created.job_uuid },
    });
    expectStatus(nothing, 400);
    const unknown = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: crypto.randomUUID(), job_title: "X" },
    });
    expectStatus(unknown, 404);
    await env.DB.prepare("UPDATE jobs SET status_id = 9 WHERE uuid = ?").bind(created.job_uuid).run();
    const archived = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: created.job_uuid, job_title: "X" },
    });
    expectStatus(archived, 403);
    expect(archived.body).toMatchObject({ code: "ARCHIVED", message: "Archived jobs cannot be changed" });
    expect((await rawJob(created.job_uuid))?.job_title).toBe("Boiler Service - Unit 001");
    const del = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid: created.job_uuid },
    });
    expectStatus(del, 403);
    expect(await rawJob(created.job_uuid)).not.toBeNull();
  });

  it("validates dates against the stored ones", async () => {
    const created = await createJob(staff, fx, { date_works_start_date: "2024-06-10" });
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: created.job_uuid, date_works_end_date: "2024-06-01" },
    });
    expectStatus(res, 400);
    expect(res.body.errors[0].field).toBe("date_works_end_date");
  });

  it("contractors may not update jobs, even their own", async () => {
    const created = await createJob(staff, fx);
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const res = await api("POST", "/api/jobs/manage", {
      token: contractor.token,
      csrf: contractor.csrf,
      body: { action: "update", uuid: created.job_uuid, contractor_budget: 9999 },
    });
    expectStatus(res, 403);
    expect((await rawJob(created.job_uuid))?.contractor_budget).toBeNull();
  });
});

describe("delete", () => {
  it("removes the job, everything attached and its stored files", async () => {
    const created = await createJob(staff, fx, { tenants_ids: fx.tenantIds });
    const keep = await createJob(staff, fx);
    const prefix = `jobs/${created.job_uuid}/`;
    await env.MEDIA.put(`${prefix}photos/p1/original`, "photo");
    await env.MEDIA.put(`${prefix}documents/d1/original`, "doc");
    await env.MEDIA.put(`jobs/${keep.job_uuid}/photos/p2/original`, "other job's photo");
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size) VALUES (?, ?, 'image', ?, 'a.jpg', 'image/jpeg', 5)",
      ).bind(crypto.randomUUID(), created.job_id, `${prefix}photos/p1/original`),
      env.DB.prepare(
        "INSERT INTO documents (uuid, job_id, file_type_id, r2_key, filename, content_type, size) VALUES (?, ?, 1, ?, 'q.pdf', 'application/pdf', 3)",
      ).bind(crypto.randomUUID(), created.job_id, `${prefix}documents/d1/original`),
      env.DB.prepare("INSERT INTO case_notes (uuid, job_id, message, message_text, created_by_name) VALUES (?, ?, 'x', 'x', 'S')").bind(
        crypto.randomUUID(),
        created.job_id,
      ),
    ]);
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid: created.job_uuid },
    });
    expectStatus(res, 200);
    expect(res.body.message).toBe("Job deleted successfully");
    expect(await rawJob(created.job_uuid)).toBeNull();
    for (const table of ["photos", "documents", "case_notes", "job_tenants"]) {
      const n = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE job_id = ?`).bind(created.job_id).first<{ n: number }>();
      expect(n?.n, table).toBe(0);
    }
    // Files go through the media queue's cleanup message; wait for the consumer (bounded generously).
    await vi.waitFor(async () => expect((await env.MEDIA.list({ prefix })).objects).toEqual([]), { timeout: 20_000, interval: 100 });
    expect(await env.MEDIA.get(`jobs/${keep.job_uuid}/photos/p2/original`)).not.toBeNull();
    expect((await auditOf(created.job_uuid)).map((e) => e.action)).toEqual(["job.created", "job.deleted"]);
    const again = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid: created.job_uuid },
    });
    expectStatus(again, 404);
  });
});
