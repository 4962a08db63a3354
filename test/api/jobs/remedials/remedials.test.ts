import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { archivedJob, auditActions, rows, send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
});

const link = (job_uuid: string, remedials_job_uuid: string, who: Actor = staff) =>
  send(who, "POST", "/api/jobs/remedials", { action: "link", job_uuid, remedials_job_uuid });
const unlink = (job_uuid: string, who: Actor = staff) => send(who, "POST", "/api/jobs/remedials", { action: "unlink", job_uuid });
const list = (job_uuid: string, who: { token: string } = staff) =>
  api("GET", `/api/jobs/remedials?action=list&job_uuid=${job_uuid}`, { token: who.token });
const links = () => rows<{ parent_job_id: number; remedial_job_id: number }>("SELECT parent_job_id, remedial_job_id FROM remedial_links");

describe("remedials", () => {
  it("links a remedial and lists it as the reference shows", async () => {
    const parent = await createJob(staff, fx);
    const remedial = await createJob(staff, fx, { job_title: "Boiler follow-up — parts replacement" });
    const res = await link(parent.job_uuid, remedial.job_uuid);
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Remedial job linked" });
    const listed = await list(parent.job_uuid);
    expectStatus(listed, 200);
    expect(listed.body).toEqual({
      success: true,
      data: [
        {
          ID: remedial.job_id,
          uuid: remedial.job_uuid,
          job_ref: remedial.job_ref,
          job_title: "Boiler follow-up — parts replacement",
          status_name: "Open",
          created_on: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
        },
      ],
      count: 1,
      message: "Operation completed successfully",
    });
    expect(await auditActions(remedial.job_uuid)).toEqual(["job.created", "job.remedial_linked"]);
    expect(await auditActions(parent.job_uuid)).toEqual(["job.created", "job.remedial_added"]);
    const empty = await list(remedial.job_uuid);
    expect(empty.body.data).toEqual([]);
  });

  it("refuses to link a job to itself (400)", async () => {
    const job = await createJob(staff, fx);
    const before = await links();
    const res = await link(job.job_uuid, job.job_uuid);
    expectStatus(res, 400);
    expect(res.body.message).toBe("remedials_job_uuid: a job cannot be its own remedial");
    expect(await links()).toEqual(before);
  });

  it("refuses a second parent (409)", async () => {
    const [a, b, r] = [await createJob(staff, fx), await createJob(staff, fx), await createJob(staff, fx)];
    expectStatus(await link(a.job_uuid, r.job_uuid), 200);
    const before = await links();
    const res = await link(b.job_uuid, r.job_uuid);
    expectStatus(res, 409);
    expect(res.body.message).toBe(`${r.job_ref} is already a remedial of ${a.job_ref}; unlink it first`);
    expect(await links()).toEqual(before);
  });

  it("refuses a link that would make a cycle (409), however long", async () => {
    const [a, b, c] = [await createJob(staff, fx), await createJob(staff, fx), await createJob(staff, fx)];
    expectStatus(await link(a.job_uuid, b.job_uuid), 200);
    expectStatus(await link(b.job_uuid, c.job_uuid), 200);
    const before = await links();
    const res = await link(c.job_uuid, a.job_uuid);
    expectStatus(res, 409);
    expect(res.body.message).toBe(`Linking ${a.job_ref} under ${c.job_ref} would make a remedial cycle`);
    const direct = await link(b.job_uuid, a.job_uuid);
    expectStatus(direct, 409);
    expect(await links()).toEqual(before);
    expect(await auditActions(a.job_uuid)).toEqual(["job.created", "job.remedial_added"]);
  });

  it("answers 404 for unknown jobs on either side", async () => {
    const job = await createJob(staff, fx);
    const before = await links();
    const unknownParent = await link(UNKNOWN_UUID, job.job_uuid);
    expectStatus(unknownParent, 404);
    expect(unknownParent.body.message).toBe("Job not found");
    const unknownRemedial = await link(job.job_uuid, UNKNOWN_UUID);
    expectStatus(unknownRemedial, 404);
    expect(unknownRemedial.body.message).toBe("Remedial job not found");
    expect(await links()).toEqual(before);
    expectStatus(await list(UNKNOWN_UUID), 404);
    expectStatus(await unlink(UNKNOWN_UUID), 404);
  });

  it("refuses archived jobs (403)", async () => {
    const archived = await archivedJob(staff, fx);
    const open = await createJob(staff, fx);
    const before = await links();
    for (const res of [await link(archived.job_uuid, open.job_uuid), await link(open.job_uuid, archived.job_uuid)]) {
      expectStatus(res, 403);
      expect(res.body.message).toBe("Archived jobs cannot be changed");
    }
    expect(await links()).toEqual(before);
  });

  it("unlinks a remedial from its parent; a job without a parent is 404", async () => {
    const parent = await createJob(staff, fx);
    const remedial = await createJob(staff, fx);
    expectStatus(await link(parent.job_uuid, remedial.job_uuid), 200);
    const res = await unlink(remedial.job_uuid);
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, message: "Remedial job unlinked" });
    expect((await list(parent.job_uuid)).body.data).toEqual([]);
    expect(await auditActions(remedial.job_uuid)).toEqual(["job.created", "job.remedial_linked", "job.remedial_unlinked"]);
    expect(await auditActions(parent.job_uuid)).toEqual(["job.created", "job.remedial_added", "job.remedial_removed"]);
    const again = await unlink(remedial.job_uuid);
    expectStatus(again, 404);
    expect(again.body.message).toBe("Remedial link not found");
    // Unlinked, it may be linked again.
    expectStatus(await link(parent.job_uuid, remedial.job_uuid), 200);
  });

  it("lets exactly one of two concurrent links of the same remedial win", async () => {
    const [a, b, r] = [await createJob(staff, fx), await createJob(staff, fx), await createJob(staff, fx)];
    const results = await Promise.all([link(a.job_uuid, r.job_uuid), link(b.job_uuid, r.job_uuid)]);
    expect(results.map((x) => x.status).sort()).toEqual([200, 409]);
    expect((await links()).filter((l) => l.remedial_job_id === r.job_id)).toHaveLength(1);
    expect((await auditActions(r.job_uuid)).filter((x) => x === "job.remedial_linked")).toHaveLength(1);
  });

  it("is refused to contractors, who do not hold api.jobs.remedials.manage (403)", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const [a, b] = [await createJob(staff, fx), await createJob(staff, fx)];
    const res = await link(a.job_uuid, b.job_uuid, contractor);
    expectStatus(res, 403);
    expect(res.body.message).toBe("Missing permission: api.jobs.remedials.manage");
    expectStatus(await list(a.job_uuid, contractor), 403);
  });

  it("validates the action and uuids (400)", async () => {
    const res = await send(staff, "POST", "/api/jobs/remedials", { action: "merge", job_uuid: UNKNOWN_UUID });
    expectStatus(res, 400);
    expect(res.body.errors[0]).toEqual({ field: "action", message: "is missing or unknown; expected one of: link, unlink" });
    const bad = await send(staff, "POST", "/api/jobs/remedials", { action: "link", job_uuid: "nope", remedials_job_uuid: UNKNOWN_UUID });
    expectStatus(bad, 400);
    expect(bad.body.errors[0]).toEqual({ field: "job_uuid", message: "must be a UUID" });
  });
});
