import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { scopeFor } from "../../../../src/app/scope";
import { SLA_DEFAULT_HOURS } from "../../../../src/domain/sla";
import { RequestContext } from "../../../../src/http/context";
import { slaStatusQueries } from "../../../../src/jobs/sla-status/service";
import { createServices } from "../../../../src/platform/services";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, getJob, makeUser, seedFixtures } from "../../../support/helpers";
import { day, HOUR, iso, MINUTE, newAgent, type PlacedJob, PRIORITY, placeJob, STATUS } from "../../../support/sla-helpers";

const PATH = "/api/jobs/sla-status";

let fx: Fixtures;
let staff: Actor;
let agentA: number;
let noSlaPriority: number;
// The endpoint reads the real clock; jobs sit at least 30 minutes from any hour boundary that matters.
let t0: number;
const jobs: Record<string, PlacedJob> = {};

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  agentA = await newAgent("agent-a@example.test");
  noSlaPriority =
    (
      await env.DB.prepare("INSERT INTO priorities (name, sort_order, sla_hours) VALUES ('No SLA', 9, NULL) RETURNING id").first<{
        id: number;
      }>()
    )?.id ?? 0;
  // "Ends today" must not turn into "ended yesterday" mid-file: start clear of UTC midnight.
  const untilMidnight = 24 * HOUR - (Date.now() % (24 * HOUR));
  if (untilMidnight < MINUTE) await new Promise((r) => setTimeout(r, untilMidnight + 1000));
  t0 = Date.now();
  const c1 = fx.contractorId;
  const c2 = fx.otherContractorId;
  const place = async (key: string, o: Parameters<typeof placeJob>[1]) => {
    jobs[key] = await placeJob(fx, { agentId: null, contractorId: c1, ...o });
  };
  // Hand computation (now = t0, give or take the test's runtime):
  await place("within48h", { deadline: iso(t0 + 48 * HOUR), agentId: agentA }); // within
  await place("endsToday", { deadline: iso(t0 + 2 * HOUR), endDate: day(t0) }); // within: ending today is not overdue
  await place("overdue", { deadline: iso(t0 + 30 * HOUR), endDate: day(t0, -1), agentId: agentA }); // overdue
  await place("late26", { deadline: iso(t0 - 26 * HOUR - 30 * MINUTE), agentId: agentA }); // breached, 26 h
  await place("late3", { deadline: iso(t0 - 3 * HOUR - 30 * MINUTE), contractorId: c2, priorityId: PRIORITY.emergency }); // breached, 3 h
  // Breached and past its end date: breached wins. In the Recalled status, which is open.
  await place("late100", {
    deadline: iso(t0 - 100 * HOUR - 10 * MINUTE),
    endDate: day(t0, -6),
    contractorId: c2,
    statusId: STATUS.recalled,
  });
  // Out of scope: closed-type statuses, no SLA for the priority.
  for (const statusId of [STATUS.completed, STATUS.closed, STATUS.cancelled, STATUS.archived]) {
    await place(`status${statusId}`, { deadline: iso(t0 - 50 * HOUR), statusId });
  }
  await place("noSla", { deadline: null, priorityId: noSlaPriority, endDate: day(t0, -3), startedAt: iso(t0 - 500 * HOUR) });
  // Bad data: created in the future, so its deadline is in the future too: within.
  await place("future", { startedAt: iso(t0 + 240 * HOUR), deadline: iso(t0 + 312 * HOUR) });
});

afterEach(() => {
  vi.useRealTimers();
});

async function slaStatus(query = "", token = staff.token) {
  return api("GET", `${PATH}${query}`, { token });
}

describe("GET /api/jobs/sla-status", () => {
  it("counts within / overdue / breached and lists breaches most overdue first, as computed by hand", async () => {
    const res = await slaStatus();
    expectStatus(res, 200);
    expect(Object.keys(res.body)).toEqual(["success", "data", "message"]);
    expect(res.body.success).toBe(true);
    expect(res.body.message).toBe("Operation completed successfully");
    expect(Object.keys(res.body.data)).toEqual([
      "jobs_within_sla",
      "jobs_overdue",
      "jobs_breached",
      "breach_details",
      "breach_details_truncated",
    ]);
    expect(res.body.data).toEqual({
      jobs_within_sla: 3, // within48h, endsToday, future
      jobs_overdue: 1,
      jobs_breached: 3,
      breach_details: [
        {
          job_uuid: jobs.late100?.uuid,
          job_ref: jobs.late100?.jobRef,
          sla_deadline: iso(t0 - 100 * HOUR - 10 * MINUTE),
          hours_overdue: 100,
        },
        { job_uuid: jobs.late26?.uuid, job_ref: jobs.late26?.jobRef, sla_deadline: iso(t0 - 26 * HOUR - 30 * MINUTE), hours_overdue: 26 },
        { job_uuid: jobs.late3?.uuid, job_ref: jobs.late3?.jobRef, sla_deadline: iso(t0 - 3 * HOUR - 30 * MINUTE), hours_overdue: 3 },
      ],
      breach_details_truncated: false,
    });
  });

  it("filters by agent, contractor and priority, combined", async () => {
    const byAgent = await slaStatus(`?agent_id=${agentA}`);
    expectStatus(byAgent, 200);
    expect(byAgent.body.data).toMatchObject({ jobs_within_sla: 1, jobs_overdue: 1, jobs_breached: 1 });
    expect(byAgent.body.data.breach_details.map((d: { job_uuid: string }) => d.job_uuid)).toEqual([jobs.late26?.uuid]);

    const byContractor = await slaStatus(`?contractor_id=${fx.otherContractorId}`);
    expect(byContractor.body.data).toMatchObject({ jobs_within_sla: 0, jobs_overdue: 0, jobs_breached: 2 });

    const byPriority = await slaStatus(`?priority_id=${PRIORITY.emergency}`);
    expect(byPriority.body.data).toMatchObject({ jobs_within_sla: 0, jobs_overdue: 0, jobs_breached: 1 });
    expect(byPriority.body.data.breach_details[0].job_uuid).toBe(jobs.late3?.uuid);

    const combined = await slaStatus(`?contractor_id=${fx.contractorId}&agent_id=${agentA}&priority_id=${PRIORITY.medium}`);
    expect(combined.body.data).toMatchObject({ jobs_within_sla: 1, jobs_overdue: 1, jobs_breached: 1 });
  });

  it("leaves jobs whose priority has no SLA hours out of every count", async () => {
    const res = await slaStatus(`?priority_id=${noSlaPriority}`);
    expectStatus(res, 200);
    expect(res.body.data).toEqual({
      jobs_within_sla: 0,
      jobs_overdue: 0,
      jobs_breached: 0,
      breach_details: [],
      breach_details_truncated: false,
    });
  });

  it("limits breach_details to `limit` without changing the counts", async () => {
    const res = await slaStatus("?limit=2");
    expectStatus(res, 200);
    expect(res.body.data.jobs_breached).toBe(3);
    expect(res.body.data.breach_details.map((d: { job_uuid: string }) => d.job_uuid)).toEqual([jobs.late100?.uuid, jobs.late26?.uuid]);
    expect(res.body.data.breach_details_truncated).toBe(true);
  });

  it("pages breach_details with offset and says when the list stops short of jobs_breached (reference example shape)", async () => {
    const second = await slaStatus("?limit=2&offset=2");
    expectStatus(second, 200);
    expect(second.body.data).toMatchObject({ jobs_within_sla: 3, jobs_overdue: 1, jobs_breached: 3, breach_details_truncated: false });
    expect(second.body.data.breach_details).toEqual([
      { job_uuid: jobs.late3?.uuid, job_ref: jobs.late3?.jobRef, sla_deadline: iso(t0 - 3 * HOUR - 30 * MINUTE), hours_overdue: 3 },
    ]);
    const first = await slaStatus("?limit=1");
    expect(first.body.data.breach_details).toHaveLength(1);
    expect(first.body.data.breach_details_truncated).toBe(true);
    const past = await slaStatus("?offset=10");
    expect(past.body.data).toMatchObject({ jobs_breached: 3, breach_details: [], breach_details_truncated: false });
    expectStatus(await slaStatus("?offset=-1"), 400);
    const doc = await api("GET", "/api/openapi.json");
    const schemaDoc = doc.body.components.schemas.SlaStatus;
    expect(schemaDoc.properties.breach_details_truncated.type).toBe("boolean");
    expect(schemaDoc.properties.breach_details_truncated.description).toMatch(/offset/);
  });

  it("confines contractors to their own jobs, whatever they filter by", async () => {
    const contractor = await makeUser("contractor", { contractorId: fx.contractorId });
    const own = await slaStatus("", contractor.token);
    expectStatus(own, 200);
    expect(own.body.data).toMatchObject({ jobs_within_sla: 3, jobs_overdue: 1, jobs_breached: 1 });
    expect(own.body.data.breach_details.map((d: { job_uuid: string }) => d.job_uuid)).toEqual([jobs.late26?.uuid]);

    const others = await slaStatus(`?contractor_id=${fx.otherContractorId}`, contractor.token);
    expectStatus(others, 200);
    expect(others.body.data).toEqual({
      jobs_within_sla: 0,
      jobs_overdue: 0,
      jobs_breached: 0,
      breach_details: [],
      breach_details_truncated: false,
    });
  });

  // Issue 25: a contractor's figures with an agent or priority filter come from sla_open_pair_counts.
  it("gives a contractor its figures per agent and priority from counters kept in step with every job change", async () => {
    const contractor = await makeUser("contractor", { contractorId: fx.contractorId });
    const byAgent = await slaStatus(`?agent_id=${agentA}`, contractor.token);
    expectStatus(byAgent, 200);
    expect(byAgent.body.data).toMatchObject({ jobs_within_sla: 1, jobs_overdue: 1, jobs_breached: 1 });
    expect(byAgent.body.data.breach_details.map((d: { job_uuid: string }) => d.job_uuid)).toEqual([jobs.late26?.uuid]);
    const emergency = await slaStatus(`?priority_id=${PRIORITY.emergency}`, contractor.token);
    expect(emergency.body.data).toMatchObject({ jobs_breached: 0, breach_details: [] }); // late3 is the other contractor's

    const recount = `SELECT coalesce(contractor_id, 0) AS c, 'agent' AS dim, coalesce(agent_id, 0) AS id, count(*) AS n FROM jobs WHERE sla_open = 1 GROUP BY 1, 3
      UNION ALL SELECT coalesce(contractor_id, 0), 'priority', priority_id, count(*) FROM jobs WHERE sla_open = 1 GROUP BY 1, 3 ORDER BY 1, 2, 3`;
    const expectInStep = async (step: string) => {
      const kept = await env.DB.prepare(
        "SELECT contractor_id AS c, dim, dim_id AS id, n FROM sla_open_pair_counts WHERE n <> 0 ORDER BY 1, 2, 3",
      ).all();
      expect(kept.results, step).toEqual((await env.DB.prepare(recount).all()).results);
    };
    await expectInStep("seeded");
    const admin = await actor("admin");
    const job = await createJob(admin, fx, { agent_id: agentA, priority_id: PRIORITY.high });
    await expectInStep("created");
    const update = async (fields: Record<string, unknown>) =>
      expectStatus(
        await api("POST", "/api/jobs/manage", {
          token: admin.token,
          csrf: admin.csrf,
          body: { action: "update", uuid: job.job_uuid, ...fields },
        }),
        200,
      );
    await update({ contractor_id: fx.otherContractorId, priority_id: PRIORITY.emergency });
    await expectInStep("contractor and priority changed");
    await update({ agent_id: "", contractor_id: "" });
    await expectInStep("agent and contractor cleared");
    // Closing and reopening: the lifecycle has no direct Open → Closed step, and the counters are
    // kept by triggers whatever channel changes the status, so the row is moved directly.
    const setStatus = (statusId: number) =>
      env.DB.prepare("UPDATE jobs SET status_id = ? WHERE uuid = ?").bind(statusId, job.job_uuid).run();
    await setStatus(STATUS.closed);
    await expectInStep("closed");
    await setStatus(STATUS.open);
    await expectInStep("reopened");
    expectStatus(
      await api("POST", "/api/jobs/manage", { token: admin.token, csrf: admin.csrf, body: { action: "delete", uuid: job.job_uuid } }),
      200,
    );
    await expectInStep("deleted");
  });

  it("answers 400 naming the field for an unknown agent, contractor or priority id", async () => {
    for (const [field, what] of [
      ["agent_id", "agent"],
      ["contractor_id", "contractor"],
      ["priority_id", "priority"],
    ] as const) {
      const res = await slaStatus(`?${field}=999999`);
      expectStatus(res, 400);
      expect(res.body.errors).toEqual([{ field, message: `no ${what} with id 999999` }]);
    }
  });

  it("answers 400 for malformed filters, limits and unknown parameters", async () => {
    for (const [query, field] of [
      ["?agent_id=abc", "agent_id"],
      ["?agent_id=0", "agent_id"],
      ["?contractor_id=-3", "contractor_id"],
      ["?priority_id=1.5", "priority_id"],
      ["?limit=0", "limit"],
      ["?limit=201", "limit"],
      ["?status_id=1", ""],
    ] as const) {
      const res = await slaStatus(query);
      expectStatus(res, 400);
      expect(res.body.success).toBe(false);
      if (field) expect(res.body.errors[0].field).toBe(field);
    }
  });

  it("is described in the OpenAPI document with its filters", async () => {
    const res = await api("GET", "/api/openapi.json");
    expectStatus(res, 200);
    const op = res.body.paths["/api/jobs/sla-status"]?.get;
    expect(op?.operationId).toBe("getSlaStatus");
    expect(
      op?.parameters
        .filter((p: { in: string }) => p.in === "query")
        .map((p: { name: string }) => p.name)
        .sort(),
    ).toEqual(["agent_id", "contractor_id", "limit", "offset", "priority_id"]);
  });

  it("401 without a token, 403 without api.jobs.manage.manage, and an unknown id reveals nothing to either", async () => {
    expectStatus(await api("GET", `${PATH}?agent_id=999999`), 401);
    const narrowed = await makeUser("staff", { permissions: ["api.jobs.manage.list"] });
    const res = await slaStatus("?agent_id=999999", narrowed.token);
    expectStatus(res, 403);
  });

  it("does not count a deadline equal to now as breached; one second later it is, with 0 hours overdue", async () => {
    const at = Date.UTC(2031, 4, 6, 9, 30, 0);
    const agent = await newAgent();
    const job = await placeJob(fx, { deadline: iso(at), agentId: agent });
    vi.useFakeTimers({ toFake: ["Date"] });

    vi.setSystemTime(at);
    const atDeadline = await slaStatus(`?agent_id=${agent}`);
    expect(atDeadline.body.data).toEqual({
      jobs_within_sla: 1,
      jobs_overdue: 0,
      jobs_breached: 0,
      breach_details: [],
      breach_details_truncated: false,
    });

    vi.setSystemTime(at + 999); // still the same second: timestamps are whole seconds
    expect((await slaStatus(`?agent_id=${agent}`)).body.data.jobs_breached).toBe(0);

    vi.setSystemTime(at + 1000);
    const after = await slaStatus(`?agent_id=${agent}`);
    expect(after.body.data).toEqual({
      jobs_within_sla: 0,
      jobs_overdue: 0,
      jobs_breached: 1,
      breach_details: [{ job_uuid: job.uuid, job_ref: job.jobRef, sla_deadline: iso(at), hours_overdue: 0 }],
      breach_details_truncated: false,
    });

    vi.setSystemTime(at + HOUR - 1000); // 59:59 late: still 0 whole hours
    expect((await slaStatus(`?agent_id=${agent}`)).body.data.breach_details[0].hours_overdue).toBe(0);
    vi.setSystemTime(at + HOUR);
    expect((await slaStatus(`?agent_id=${agent}`)).body.data.breach_details[0].hours_overdue).toBe(1);
  });

  it("reads only measured jobs through their partial indexes: no query scans the jobs table", async () => {
    // The office's plans and a contractor's (its own index, or the filter's): each caller admitted as the token check resolves it.
    const contractor = await makeUser("contractor", { contractorId: fx.contractorId });
    const scopes = await Promise.all(
      [staff.token, contractor.token].map(async (token) =>
        scopeFor(createServices(env), await new RequestContext(env, undefined, token).principal()),
      ),
    );
    for (const [scope, filters] of scopes.flatMap((s) =>
      [{}, { agent_id: agentA }, { priority_id: PRIORITY.medium }].map((f) => [s, f] as const),
    )) {
      const sla = await slaStatusQueries(scope, iso(Date.now()), filters, { limit: 50, offset: 0 });
      for (const query of sla.branches.flatMap((b) => [b.notDue, b.details])) {
        const { sql, params } = query.toSQL();
        const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...params)
          .all<{ detail: string }>();
        const details = plan.results.map((r) => r.detail).join("\n");
        expect(details, sql).toMatch(/SEARCH jobs USING (COVERING )?INDEX jobs_sla_open(_agent|_priority|_contractor)?_idx/);
        expect(details, sql).not.toMatch(/SCAN jobs\b/);
      }
    }
  });

  it("turns overdue the day after the scheduled end date (UTC), not on it", async () => {
    const agent = await newAgent();
    await placeJob(fx, { deadline: iso(Date.UTC(2031, 0, 20, 12)), endDate: "2031-01-10", agentId: agent });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2031, 0, 10, 23, 59, 59));
    expect((await slaStatus(`?agent_id=${agent}`)).body.data).toMatchObject({ jobs_within_sla: 1, jobs_overdue: 0 });
    vi.setSystemTime(Date.UTC(2031, 0, 11, 0, 0, 0));
    expect((await slaStatus(`?agent_id=${agent}`)).body.data).toMatchObject({ jobs_within_sla: 0, jobs_overdue: 1 });
  });
});

describe("SLA on the job list, the single read and the priorities", () => {
  it("shows each job's SLA deadline and state, agreeing with the sla-status buckets", async () => {
    const list = await api("GET", "/api/jobs/manage?action=list&limit=200", { token: staff.token });
    expectStatus(list, 200);
    const byUuid = new Map<string, { sla_deadline: string | null; sla_state: string }>(
      list.body.data.map((j: { uuid: string; sla_deadline: string | null; sla_state: string }) => [j.uuid, j]),
    );
    const expected: Record<string, string> = {
      within48h: "within",
      endsToday: "within",
      future: "within",
      overdue: "overdue",
      late26: "breached",
      late3: "breached",
      late100: "breached",
      status6: "not_applicable",
      status7: "not_applicable",
      status8: "not_applicable",
      status9: "not_applicable",
      noSla: "not_applicable",
    };
    for (const [key, state] of Object.entries(expected)) {
      expect(byUuid.get(jobs[key]?.uuid ?? "")?.sla_state, key).toBe(state);
    }
    expect(byUuid.get(jobs.late26?.uuid ?? "")?.sla_deadline).toBe(iso(t0 - 26 * HOUR - 30 * MINUTE));
    expect(byUuid.get(jobs.noSla?.uuid ?? "")?.sla_deadline).toBeNull();

    const one = await getJob(staff, jobs.overdue?.uuid ?? "");
    expect(one.sla_deadline).toBe(iso(t0 + 30 * HOUR));
    expect(one.sla_state).toBe("overdue");
  });

  it("lists each priority's SLA hours with the documented defaults", async () => {
    const res = await api("GET", "/api/jobs/priorities?action=list", { token: staff.token });
    expectStatus(res, 200);
    const hours = Object.fromEntries(res.body.data.map((p: { name: string; sla_hours: number | null }) => [p.name, p.sla_hours]));
    expect(hours).toMatchObject(SLA_DEFAULT_HOURS);
    expect(hours["No SLA"]).toBeNull();
  });

  it("sets sla_deadline = created_at + the priority's hours at create; later changes to sla_hours do not move it", async () => {
    const created = await createJob(staff, fx, { priority_id: PRIORITY.emergency });
    const job = await getJob(staff, created.job_uuid);
    expect(Date.parse(job.sla_deadline) - Date.parse(job.created_at)).toBe(SLA_DEFAULT_HOURS.Emergency * HOUR);

    await env.DB.prepare("UPDATE priorities SET sla_hours = 8 WHERE id = ?").bind(PRIORITY.emergency).run();
    try {
      expect((await getJob(staff, created.job_uuid)).sla_deadline).toBe(job.sla_deadline);
    } finally {
      await env.DB.prepare("UPDATE priorities SET sla_hours = ? WHERE id = ?").bind(SLA_DEFAULT_HOURS.Emergency, PRIORITY.emergency).run();
    }
  });
});
