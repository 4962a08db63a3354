import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, expectStatus } from "../../support/helpers";
import { type BudgetCase, budgetCases, buildEstate, expectWithinBudgets, LIST, usage } from "../../support/rows-read-cases";

const JOBS = 100_000;
let admin: Actor;
let contractor: Actor;
let someJob: string;

beforeAll(async () => {
  await buildEstate(JOBS);
  admin = await actor("admin");
  contractor = await actor("contractor", { contractorId: 7 });
  someJob = (await env.DB.prepare("SELECT uuid FROM jobs WHERE id = 4321").first<{ uuid: string }>())?.uuid ?? "";
}, 300_000);

const cases = [
  ...budgetCases(
    () => admin,
    () => contractor,
  ),
  ["one job (action=get)", "", () => admin, 100],
] satisfies BudgetCase[];

describe("D1 rows read and round trips at 100 000 jobs", () => {
  it("keeps every list filter, search, sla-status and single read within its rows-read budget, in one round trip", async () => {
    await expectWithinBudgets(cases, (path) => path || `/api/jobs/manage?action=get&uuid=${someJob}`);
  }, 120_000);

  it("answers the same jobs and counts as the unbounded queries would", async () => {
    const agent = await api("GET", `${LIST}&agent_id=5&limit=200`, { token: admin.token });
    const expected = await env.DB.prepare("SELECT count(*) AS n FROM jobs WHERE agent_id = 5").first<{ n: number }>();
    expect(agent.body.count).toBe(expected?.n);
    expect(agent.body.count_capped).toBe(false);
    const all = await api("GET", LIST, { token: admin.token });
    expect(all.body).toMatchObject({ count: 500, count_capped: true });
    expect(all.body.data[0].job_ref).toBe("JOB-100000");
    const sla = await api("GET", "/api/jobs/sla-status?limit=5", { token: admin.token });
    const open = await env.DB.prepare(
      "SELECT sum(sla_deadline < ?1) AS breached, count(*) AS n FROM jobs j JOIN job_statuses s ON s.id = j.status_id WHERE NOT (s.is_completed OR s.is_closed OR s.is_cancelled OR s.is_archived) AND sla_deadline IS NOT NULL",
    )
      .bind(new Date().toISOString().replace(/\.\d{3}Z$/, "Z"))
      .first<{ breached: number; n: number }>();
    expect(sla.body.data.jobs_breached).toBe(open?.breached);
    expect(sla.body.data.jobs_breached + sla.body.data.jobs_overdue + sla.body.data.jobs_within_sla).toBe(open?.n);
    expect(sla.body.data.breach_details).toHaveLength(5);
    expect(sla.body.data.breach_details_truncated).toBe(true);
    const mine = await api("GET", `${LIST}&limit=200`, { token: contractor.token });
    const own = await env.DB.prepare("SELECT count(*) AS n FROM jobs WHERE contractor_id = 7").first<{ n: number }>();
    expect(mine.body.count).toBe(own?.n);
    expect(mine.body.data.every((j: { contractor_id: number }) => j.contractor_id === 7)).toBe(true);
    // A search of a contractor with few jobs walks its own jobs (list-query.ts): the same answer.
    const boiler = await api("GET", `${LIST}&search=boiler`, { token: contractor.token });
    const ownBoiler = await env.DB.prepare(
      "SELECT id FROM jobs WHERE contractor_id = 7 AND (instr(lower(job_title), 'boiler') OR instr(lower(job_description), 'boiler')) ORDER BY id DESC",
    ).all<{ id: number }>();
    expect(boiler.body.data.map((j: { ID: number }) => j.ID)).toEqual(ownBoiler.results.slice(0, 50).map((r) => r.id));
    expect(boiler.body.count).toBe(ownBoiler.results.length);
  });

  // One batch that checks the references as it writes (src/domain/jobs.ts); the token from this
  // isolate's cache, warmed first (the cases above may outlast its 30 s), or one round trip more.
  it("creates a job in one round trip, the token known", async () => {
    expectStatus(await api("GET", "/api/security/csrf-token", { token: admin.token }), 200);
    const res = await api("POST", "/api/jobs/manage", {
      token: admin.token,
      csrf: admin.csrf,
      body: {
        action: "create",
        job_title: "Budget",
        job_description: "Round trips",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: 1,
      },
    });
    expectStatus(res, 201);
    expect(usage(res).roundTrips).toBe(1);
  });
});
