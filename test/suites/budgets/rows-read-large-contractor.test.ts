import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { RequestContext } from "../../../src/http/context";
import { listJobsQueries } from "../../../src/jobs/manage/list-query";
import { jobSearch } from "../../../src/jobs/manage/search";
import { type Actor, actor, api } from "../../support/helpers";
import { type BudgetCase, budgetCases, buildEstate, expectWithinBudgets, LIST } from "../../support/rows-read-cases";

/**
 * Issue 25: a contractor with 100 000 jobs (a large firm's estate) held D1 for seconds per search
 * (the plan walked its jobs and asked the trigram index about each). Every budget of
 * test/suites/budgets/rows-read.test.ts, held for that contractor, and for an admin on the same estate.
 */
const JOBS = 110_000;
const FIRM = 7;
let admin: Actor;
let firm: Actor;

beforeAll(async () => {
  // 100 000 of the 110 000 jobs are the firm's; every 11th stays with the others.
  await buildEstate(JOBS, [`UPDATE jobs SET contractor_id = ${FIRM} WHERE id % 11 <> 0`]);
  admin = await actor("admin");
  firm = await actor("contractor", { contractorId: FIRM });
}, 300_000);

const asAdmin = () => admin;
const cases: BudgetCase[] = [
  ...budgetCases(
    () => firm,
    () => firm,
    "as the firm",
  ).map(([name, ...rest]): BudgetCase => [`firm: ${name}`, ...rest]),
  // The same estate for an admin, for comparison (the firm's own cases are above).
  ...budgetCases(asAdmin, () => firm)
    .filter(([, , who]) => who === asAdmin)
    .map(([name, ...rest]): BudgetCase => [`admin: ${name}`, ...rest]),
];

describe("D1 rows read for a contractor of 100 000 jobs", () => {
  it("has 100 000 jobs", async () => {
    const own = await env.DB.prepare("SELECT count(*) AS n FROM jobs WHERE contractor_id = ?").bind(FIRM).first<{ n: number }>();
    expect(own?.n).toBe(100_000);
  });

  it("keeps every list filter, search and sla-status within its rows-read budget for that contractor, in one round trip", async () => {
    await expectWithinBudgets(cases);
  }, 300_000);

  it("answers the contractor the same jobs and counts as the unbounded queries would", async () => {
    // Every word contained in what the search reads (issue 21): the reference, title, description,
    // the address (lines, town, postcode with and without its space), the contractor's and agent's
    // names, read from their own tables here, not from the index. ("unit 997" also finds the jobs
    // at 997 Harbour Road now.)
    const text = `lower(j.job_ref || ' ' || j.job_title || ' ' || j.job_description || ' ' || a.line1 || ' ' || coalesce(a.line2, '') || ' ' ||
      a.town || ' ' || a.postcode || ' ' || replace(a.postcode, ' ', '') || ' ' || coalesce(c.name, '') || ' ' || coalesce(g.name, ''))`;
    const contains = (words: string[]) => words.map((w) => `instr(${text}, '${w}') > 0`).join(" AND ");
    for (const search of ["Victoria", "probe", "unit 997", "boiler", "JOB-004321", "boiler zq", "Harbour Road", "Contractor_007 7"]) {
      const res = await api("GET", `${LIST}&search=${encodeURIComponent(search)}`, { token: firm.token });
      const expected = await env.DB.prepare(
        `SELECT j.id FROM jobs j JOIN addresses a ON a.id = j.address_id LEFT JOIN contractors c ON c.id = j.contractor_id
         LEFT JOIN agents g ON g.id = j.agent_id
         WHERE j.contractor_id = ${FIRM} AND ${contains(search.toLowerCase().split(" "))} ORDER BY j.id DESC`,
      ).all<{ id: number }>();
      const ids = expected.results.map((r) => r.id);
      expect(
        res.body.data.map((j: { ID: number }) => j.ID),
        search,
      ).toEqual(ids.slice(0, 50));
      expect(res.body.count, search).toBe(Math.min(ids.length, 500));
      expect(res.body.count_capped, search).toBe(ids.length > 500);
    }
    const agent = await api("GET", `${LIST}&agent_id=5`, { token: firm.token });
    const byAgent = await env.DB.prepare(`SELECT count(*) AS n FROM jobs WHERE contractor_id = ${FIRM} AND agent_id = 5`).first<{
      n: number;
    }>();
    expect(agent.body.count).toBe(byAgent?.n);
    const since = new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const updated = await api("GET", `${LIST}&updated_since=${since}`, { token: firm.token });
    const bySince = await env.DB.prepare(`SELECT id FROM jobs WHERE contractor_id = ${FIRM} AND updated_at >= ? ORDER BY id DESC`)
      .bind(since)
      .all<{ id: number }>();
    expect(updated.body.data.map((j: { ID: number }) => j.ID)).toEqual(bySince.results.slice(0, 50).map((r) => r.id));
    expect(updated.body.count).toBe(Math.min(bySince.results.length, 500));
  });

  it("plans every drive of a contractor's search on an index: its own jobs, or the trigram matches first, never a scan of jobs", async () => {
    const ctx = new RequestContext(env, undefined, firm.token);
    const list = await listJobsQueries(ctx, () => [], jobSearch("Victoria"), { limit: 50, offset: 0 });
    const plans: string[] = [];
    for (const query of list.branches.flatMap((b) => [b.rows, b.count])) {
      const { sql, params } = query.toSQL();
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail).join("\n");
      expect(details, sql).not.toMatch(/SCAN jobs\b/);
      plans.push(details);
    }
    console.log(plans.join("\n---\n"));
    // The unrestricted caller's and the contractor's FTS drive start from the index; its own walk from jobs_contractor_idx.
    expect(plans.some((p) => /SCAN jobs_search VIRTUAL TABLE[^\n]*\n[^\n]*SEARCH jobs USING INTEGER PRIMARY KEY/.test(p))).toBe(true);
    expect(plans.some((p) => /SEARCH jobs USING COVERING INDEX jobs_contractor_idx/.test(p))).toBe(true);
  });
});
