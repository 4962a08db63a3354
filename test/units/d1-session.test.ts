import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";

let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
});

describe("D1 read replication: the X-D1-Bookmark header", () => {
  it("is on every answer, reads and writes alike, and moves forward with a write", async () => {
    const before = await api("GET", "/api/jobs/manage?action=list", { token: staff.token });
    expectStatus(before, 200);
    const readMark = before.headers.get("X-D1-Bookmark");
    expect(readMark).toMatch(/^[0-9a-f-]+$/i);

    const job = await createJob(staff, fx, { job_title: "Bookmark job" });
    const created = await api("GET", `/api/jobs/manage?action=get&uuid=${job.job_uuid}`, { token: staff.token });
    const writeMark = created.headers.get("X-D1-Bookmark");
    expect(writeMark).toMatch(/^[0-9a-f-]+$/i);
    expect(String(writeMark) > String(readMark)).toBe(true); // bookmarks order as text

    const unauthorized = await api("GET", "/api/jobs/manage?action=list");
    expectStatus(unauthorized, 401);
  });

  it("sent back, continues the session: the client reads its own write", async () => {
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: {
        action: "create",
        job_title: "Read my write",
        job_description: "x",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fx.addressId,
      },
    });
    expectStatus(res, 201);
    const mark = res.headers.get("X-D1-Bookmark");
    expect(mark).toBeTruthy();
    const read = await api("GET", "/api/jobs/manage?action=list&search=Read%20my%20write", {
      token: staff.token,
      headers: { "X-D1-Bookmark": String(mark) },
    });
    expectStatus(read, 200);
    expect(read.body.data.map((j: { job_title: string }) => j.job_title)).toContain("Read my write");
    expect(read.headers.get("X-D1-Bookmark")).toBeTruthy();
  });

  it("ignores a malformed bookmark instead of failing the request", async () => {
    for (const bad of ["not a bookmark", "'; DROP TABLE jobs; --", "x".repeat(500)]) {
      const res = await api("GET", "/api/jobs/manage?action=list", { token: staff.token, headers: { "X-D1-Bookmark": bad } });
      expectStatus(res, 200);
    }
  });

  it("is described in the OpenAPI document, on answers and requests", async () => {
    const doc = await api("GET", "/api/openapi.json");
    const list = doc.body.paths["/api/jobs/manage"].get;
    expect(list.responses["200"].headers["X-D1-Bookmark"].description).toMatch(/read your own writes/);
    expect(list.parameters.some((p: { in: string; name: string }) => p.in === "header" && p.name === "X-D1-Bookmark")).toBe(true);
  });
});
