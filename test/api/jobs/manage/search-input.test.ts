import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";

// Issue 12 finding 5: `search=abc%00def` on the jobs list was a 500 (FTS5 "unterminated string") and a
// word of 49+ characters in the addresses search a 500 (D1: "LIKE or GLOB pattern too complex").
let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  await createJob(staff, fx, { job_title: "Boiler abc def", job_description: 'Quote "AND" OR NEAR(x) 50% off_peak' });
});

const jobsSearch = (s: string) => api("GET", `/api/jobs/manage?action=list&search=${encodeURIComponent(s)}`, { token: staff.token });
const addressSearch = (s: string) => api("GET", `/api/jobs/addresses?action=list&search=${encodeURIComponent(s)}`, { token: staff.token });

describe("search input never reaches SQLite as syntax", () => {
  it("a NUL inside a jobs search splits terms as a space would", async () => {
    const res = await jobsSearch("abc\u0000def");
    expectStatus(res, 200);
    expect(res.body.data.map((j: { job_title: string }) => j.job_title)).toContain("Boiler abc def");
    expectStatus(await jobsSearch("\u0000"), 200);
    expectStatus(await jobsSearch("abc\u0000d"), 200);
  });

  it("a search needs a word of 3 or more characters (the trigram index); shorter words narrow one", async () => {
    for (const s of ["ab", "%", "a b c", "ab\u0000cd", "é"]) {
      const res = await jobsSearch(s);
      expectStatus(res, 400);
      expect(res.body.errors).toEqual([
        { field: "search", message: "needs a word of at least 3 characters (shorter words may go with one)" },
      ]);
    }
    expect((await jobsSearch("boiler ab")).body.data.map((j: { job_title: string }) => j.job_title)).toEqual(["Boiler abc def"]);
    expect((await jobsSearch("boiler zq")).body.data).toHaveLength(0);
    expectStatus(await jobsSearch("   "), 200);
  });

  it("quotes, FTS5 operators and LIKE wildcards are plain text", async () => {
    for (const s of ['"AND"', "NEAR(x)", "50%", "off_peak", "***", "^boiler", "a:b:c", "(((", '"""', "NOT boiler", "---", "\\\\\\"]) {
      const res = await jobsSearch(s);
      expectStatus(res, 200);
    }
    expect((await jobsSearch("50%")).body.data).toHaveLength(1);
    expect((await jobsSearch("f_p")).body.data).toHaveLength(1);
    expect((await jobsSearch("boiler _p")).body.data).toHaveLength(1);
    expect((await jobsSearch("boiler 9%")).body.data).toHaveLength(0);
    expect((await jobsSearch("19%")).body.data).toHaveLength(0);
  });

  it("a word as long as the schema allows (200 characters) answers 200, jobs and addresses", async () => {
    for (const len of [49, 50, 51, 120, 200]) {
      expectStatus(await jobsSearch("x".repeat(len)), 200);
      const addr = await addressSearch("y".repeat(len));
      expectStatus(addr, 200);
      expect(addr.body.count).toBe(0);
    }
    expectStatus(await addressSearch("z".repeat(201)), 400);
  });

  it("the addresses search still matches every word, case-insensitively, with wildcards as text", async () => {
    const all = await addressSearch("");
    const first = all.body.data[0];
    const word = String(first.postcode).split(" ")[0] ?? "";
    const res = await addressSearch(word.toLowerCase());
    expect(res.body.data.map((a: { ID: number }) => a.ID)).toContain(first.ID);
    expect((await addressSearch("%")).body.count).toBe(0);
    expect((await addressSearch("_")).body.count).toBe(0);
  });

  it("any text up to 200 characters (NUL, surrogates, controls, quotes) gives 200, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200, unit: "binary" }), async (s) => {
        const [jobs, addresses] = await Promise.all([jobsSearch(s), addressSearch(s)]);
        // Over 200 once trimmed would be a 400; everything else must answer.
        expect([200, 400]).toContain(jobs.status);
        expect([200, 400]).toContain(addresses.status);
      }),
      { numRuns: 60 },
    );
  });
});
