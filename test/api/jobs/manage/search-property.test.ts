import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";

// Issue 21: `search=Victoria` found nothing although JOB-007 is at 7 Victoria Terrace. The search
// now also covers the address, the postcode and the assigned contractor's and agent's names.
let fx: Fixtures;
let staff: Actor;
let victoria: number;
let plumbers: number;
let atVictoria: { job_uuid: string; job_ref: string };
let elsewhere: { job_uuid: string; job_ref: string };

const search = (who: Actor, s: string) =>
  api("GET", `/api/jobs/manage?action=list&limit=100&search=${encodeURIComponent(s)}`, { token: who.token });
const refs = (res: { body: { data: { job_ref: string }[] } }) => res.body.data.map((j) => j.job_ref).sort();

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  victoria =
    (
      await env.DB.prepare(
        "INSERT INTO addresses (line1, line2, town, postcode, search_text) VALUES ('7 Victoria Terrace', NULL, 'Sample Town', 'EX7 7AA', '7 victoria terrace sample town ex7 7aa') RETURNING id",
      ).first<{ id: number }>()
    )?.id ?? 0;
  plumbers =
    (
      await env.DB.prepare("INSERT INTO contractors (uuid, name, email) VALUES (?, 'Brightwater Plumbing', 'bw@example.test') RETURNING id")
        .bind(crypto.randomUUID())
        .first<{ id: number }>()
    )?.id ?? 0;
  atVictoria = await createJob(staff, fx, {
    job_title: "Leaking tap",
    job_description: "Kitchen tap drips.",
    address_id: victoria,
    contractor_id: plumbers,
    agent_id: fx.agentId,
    private_contact_name: "Zebedee Secretname",
    access_details: "Key safe code 4711 quokka",
  });
  elsewhere = await createJob(staff, fx, { job_title: "Gutter clear", job_description: "Front gutter blocked." });
});

describe("property-centric search on the jobs list", () => {
  it("finds a job by street name, any case, and by part of it", async () => {
    for (const s of ["Victoria", "victoria terrace", "VICTORIA", "ictori"]) {
      const res = await search(staff, s);
      expectStatus(res, 200);
      expect(refs(res)).toEqual([atVictoria.job_ref]);
    }
  });

  it("finds a job by postcode, with or without its space, and by town", async () => {
    expect(refs(await search(staff, "EX7 7AA"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "ex77aa"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "Sample Town"))).toEqual([atVictoria.job_ref, elsewhere.job_ref].sort());
  });

  it("finds a job by its contractor's and its agent's name", async () => {
    expect(refs(await search(staff, "Brightwater"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "Contractor_001"))).toEqual([elsewhere.job_ref]);
    expect(refs(await search(staff, "Agent_001"))).toEqual([atVictoria.job_ref]);
  });

  it("needs every word, across fields: title and street together narrow, a short word narrows too", async () => {
    expect(refs(await search(staff, "tap victoria"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "gutter victoria"))).toEqual([]);
    expect(refs(await search(staff, "victoria 7"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "victoria 9z"))).toEqual([]);
    // Reference, title and description still match as before.
    expect(refs(await search(staff, atVictoria.job_ref))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(staff, "drips"))).toEqual([atVictoria.job_ref]);
  });

  it("follows the job: a reassignment, a move and a renamed contractor are searched at once", async () => {
    const moved = await createJob(staff, fx, { job_title: "Moving job" });
    expect(refs(await search(staff, "Moving Harbour"))).toEqual([]);
    const res = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid: moved.job_uuid, address_id: fx.otherAddressId, contractor_id: fx.otherContractorId },
    });
    expectStatus(res, 200);
    expect(refs(await search(staff, "Moving Harbour"))).toEqual([moved.job_ref]);
    expect(refs(await search(staff, "Moving Contractor_002"))).toEqual([moved.job_ref]);
    expect(refs(await search(staff, "Moving Contractor_001"))).toEqual([]);
    await env.DB.prepare("UPDATE contractors SET name = 'Renamed Roofers' WHERE id = ?").bind(fx.otherContractorId).run();
    expect(refs(await search(staff, "Renamed Roofers"))).toEqual([moved.job_ref]);
    await env.DB.prepare("UPDATE addresses SET line1 = '22 Lighthouse Road' WHERE id = ?").bind(fx.otherAddressId).run();
    expect(refs(await search(staff, "Moving Lighthouse"))).toEqual([moved.job_ref]);
    const del = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid: moved.job_uuid },
    });
    expect([200, 204]).toContain(del.status);
    expect(refs(await search(staff, "Lighthouse"))).toEqual([]);
  });

  it("never searches private or encrypted fields, and keeps them out of the index", async () => {
    expect(refs(await search(staff, "Secretname"))).toEqual([]);
    expect(refs(await search(staff, "quokka"))).toEqual([]);
    const leaked = await env.DB.prepare(
      'SELECT count(*) AS n FROM jobs_search WHERE jobs_search MATCH \'"Secretname" OR "quokka" OR "4711"\'',
    ).first<{ n: number }>();
    expect(leaked?.n).toBe(0);
  });

  it("a contractor finds only its own jobs by address or name", async () => {
    const other = await actor("contractor", { contractorId: fx.contractorId });
    expect(refs(await search(other, "Victoria"))).toEqual([]);
    expect(refs(await search(other, "Sample Town"))).toEqual([elsewhere.job_ref]);
    const own = await actor("contractor", { contractorId: plumbers });
    expect(refs(await search(own, "Victoria"))).toEqual([atVictoria.job_ref]);
    // A short word on the contractor's own drive: tested on the index row its check looks up.
    expect(refs(await search(own, "Victoria 7a"))).toEqual([atVictoria.job_ref]);
    expect(refs(await search(own, "Victoria 9z"))).toEqual([]);
    expect(refs(await search(other, "Sample 7a"))).toEqual([]);
  });

  it("hostile input is text, never FTS syntax", async () => {
    for (const s of ['Victoria" OR "', "property:Victoria", "NEAR(Victoria Terrace)", "Victoria*", "agent_name : x"]) {
      expectStatus(await search(staff, s), 200);
    }
    expect(refs(await search(staff, 'Victoria" OR "gutter'))).toEqual([]);
  });
});
