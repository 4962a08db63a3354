import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api } from "../../support/helpers";
import { type BudgetCase, buildEstate, expectWithinBudgets } from "../../support/rows-read-cases";

/**
 * Issue 20: the directories (GET /api/jobs/contractors, agents, staff, tenants) at 100 000 jobs and
 * 5 000 contractors: each list, search, page and filter reads a small multiple of its page (the page,
 * the bounded count of `offset + limit + 100`, each contractor's few trades), never the table, in
 * one round trip with the token warm.
 */
const JOBS = 100_000;
const CONTRACTORS = 5_000;
const PAGE = 50;
/** A directory page: its rows, the count window after them, and for contractors ~2 trades each. */
const budget = (offset = 0) => 3 * (offset + PAGE) + 400;
/** The address holding many tenants (one in ten of the estate's). */
const BLOCK = 7;

const UUID = "lower(hex(randomblob(16)))";
const series = (from: number, to: number) => `WITH RECURSIVE s(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM s WHERE i < ${to})`;
const FIRMS = ["Apex", "Bright", "Castle", "Dryline", "Evergreen", "Fixit", "Gasline", "Hilltop", "Ironside", "Jetstream"];
const pick = (list: string[], idx: string) => `CASE ${idx} ${list.map((v, k) => `WHEN ${k} THEN '${v}'`).join(" ")} END`;

/** Up to 5 000 contractors (1 in 10 inactive), two trades each; 2 000 staff users; tenants at addresses. */
const RESHAPE = [
  `INSERT INTO contractors (id, uuid, name, email, active) ${series(401, CONTRACTORS)}
   SELECT i, ${UUID}, ${pick(FIRMS, "i % 10")} || ' Services ' || i, 'c' || i || '@contractors.example.test', i % 10 <> 0 FROM s`,
  `INSERT OR IGNORE INTO contractor_job_types (contractor_id, job_type_id) SELECT id, 1 + id % 10 FROM contractors
   UNION ALL SELECT id, 1 + (id * 3 + 1) % 10 FROM contractors`,
  `INSERT INTO users (uuid, name, email, role) ${series(1, 2_000)}
   SELECT ${UUID}, ${pick(FIRMS, "i % 10")} || ' Person ' || i, 'u' || i || '@staff.example.test', CASE i % 3 WHEN 0 THEN 'manager' ELSE 'staff' END FROM s`,
  `UPDATE tenants SET address_id = CASE WHEN id % 10 = 0 THEN ${BLOCK} ELSE 8 + id % 4_990 END, active = id % 20 <> 0`,
];

let admin: Actor;
let staff: Actor;
let agentUser: Actor;
let contractorUser: Actor;

beforeAll(async () => {
  await buildEstate(JOBS, RESHAPE);
  admin = await actor("admin");
  staff = await actor("staff");
  agentUser = await actor("agent", { agentId: 5 });
  contractorUser = await actor("contractor", { contractorId: 4_321 });
}, 300_000);

const C = `/api/jobs/contractors?action=list&limit=${PAGE}`;
const A = `/api/jobs/agents?action=list&limit=${PAGE}`;
const S = `/api/jobs/staff?action=list&limit=${PAGE}`;
const T = `/api/jobs/tenants?action=list&limit=${PAGE}&address_id=${BLOCK}`;

const cases: BudgetCase[] = [
  ["contractors", C, () => staff, budget()],
  ["contractors, search=castle (1 in 10)", `${C}&search=castle`, () => staff, budget()],
  ["contractors, search=castle services 4 (few)", `${C}&search=castle%20services%204`, () => staff, budget()],
  ["contractors, search=zz (no match)", `${C}&search=zz`, () => staff, budget()],
  ["contractors, active=true", `${C}&active=true`, () => staff, budget()],
  ["contractors, active=false", `${C}&active=false`, () => staff, budget()],
  ["contractors, job_type_id=3", `${C}&job_type_id=3`, () => staff, budget()],
  ["contractors, job_type_id=3 + active=true", `${C}&job_type_id=3&active=true`, () => staff, budget()],
  ["contractors, job_type_id=3 + search=castle", `${C}&job_type_id=3&search=castle`, () => staff, budget()],
  ["contractors, offset=1000", `${C}&offset=1000`, () => staff, budget(1_000)],
  ["contractors, job_type_id=3 + offset=500", `${C}&job_type_id=3&offset=500`, () => staff, budget(500)],
  ["contractors as a contractor (its own record)", C, () => contractorUser, budget()],
  ["agents", A, () => staff, budget()],
  ["agents, search=agent_01", `${A}&search=agent_01`, () => staff, budget()],
  ["agents, active=true", `${A}&active=true`, () => staff, budget()],
  ["agents, offset=200", `${A}&offset=200`, () => staff, budget(200)],
  ["agents as an agent (its own record)", A, () => agentUser, budget()],
  ["staff", S, () => admin, budget()],
  ["staff, search=castle", `${S}&search=castle`, () => admin, budget()],
  ["staff, role=manager", `${S}&role=manager`, () => admin, budget()],
  ["staff, role=admin (rare)", `${S}&role=admin`, () => admin, budget()],
  ["staff, active=true", `${S}&active=true`, () => admin, budget()],
  ["staff, offset=1000", `${S}&offset=1000`, () => admin, budget(1_000)],
  ["tenants of a block of 200", T, () => staff, budget()],
  ["tenants, search=tenant_01", `${T}&search=tenant_01`, () => staff, budget()],
  ["tenants, active=true", `${T}&active=true`, () => staff, budget()],
  ["tenants, offset=100", `${T}&offset=100`, () => staff, budget(100)],
  ["tenants of a house", `/api/jobs/tenants?action=list&limit=${PAGE}&address_id=12`, () => agentUser, budget()],
];

describe("Directory lookups at 100 000 jobs and 5 000 contractors", () => {
  it("has the estate", async () => {
    const n = await env.DB.prepare("SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM contractors) AS contractors").first<{
      jobs: number;
      contractors: number;
    }>();
    expect(n).toEqual({ jobs: JOBS, contractors: CONTRACTORS });
  });

  it("keeps every directory list, search, filter and page within its rows-read budget, in one round trip", async () => {
    await expectWithinBudgets(cases);
  }, 120_000);

  it("answers the pages and counts the unbounded queries would", async () => {
    const ids = async (path: string, who: Actor) => {
      const res = await api("GET", path, { token: who.token });
      return { ids: res.body.data.map((r: { ID: number }) => r.ID), count: res.body.count, capped: res.body.count_capped };
    };
    const all = async (sql: string) => (await env.DB.prepare(sql).all<{ id: number }>()).results.map((r) => r.id);
    // A trade by name, then its next page: as the whole ordered list would have it.
    const plumbers = await all(
      "SELECT c.id FROM contractors c JOIN contractor_job_types t ON t.contractor_id = c.id WHERE t.job_type_id = 3 AND c.active = 1 ORDER BY c.name COLLATE NOCASE, c.id",
    );
    expect(await ids(`${C}&job_type_id=3&active=true`, staff)).toEqual({ ids: plumbers.slice(0, PAGE), count: PAGE + 100, capped: true });
    expect((await ids(`${C}&job_type_id=3&active=true&offset=${PAGE}`, staff)).ids).toEqual(plumbers.slice(PAGE, 2 * PAGE));
    const few = await all("SELECT id FROM contractors WHERE name LIKE 'castle services 4%' ORDER BY name COLLATE NOCASE, id");
    expect(await ids(`${C}&search=castle%20services%204`, staff)).toEqual({ ids: few.slice(0, PAGE), count: few.length, capped: false });
    expect((await ids(C, contractorUser)).ids).toEqual([4_321]);
    const block = await all(`SELECT id FROM tenants WHERE address_id = ${BLOCK} ORDER BY name COLLATE NOCASE, id`);
    expect(block).toHaveLength(200);
    expect(await ids(`${T}&offset=150`, staff)).toEqual({ ids: block.slice(150), count: 200, capped: false });
    const managers = await all("SELECT id FROM users WHERE role = 'manager' ORDER BY name COLLATE NOCASE, id");
    expect((await ids(`${S}&role=manager`, admin)).ids).toEqual(managers.slice(0, PAGE));
  });
});
