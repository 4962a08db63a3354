import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MimeMessage } from "../../src/email/mime";
import type { SendResult } from "../../src/email/send";
import worker from "../../src/index";
import { createServices } from "../../src/platform/services";
import { DUE_JOBS_SQL, type MailSender, runSlaCheck, SLA_CHECK_DEFAULTS } from "../../src/sla/check";
import { type Fixtures, makeUser, seedFixtures, type TestUser } from "../support/helpers";
import { HOUR, iso, MINUTE, newAgent, type PlacedJob, PRIORITY, placeJob, STATUS } from "../support/sla-helpers";

const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);
// The Worker's handler as the runtime calls it (with an execution context it does not need).
const scheduled: NonNullable<ExportedHandler<Env>["scheduled"]> = worker.scheduled;

let fx: Fixtures;
let managers: TestUser[];
let managerEmails: string[];
let goodAgent: number;
let badAgent: number;

/**
 * A test double that only counts what would be sent (one call per recipient). Another test below
 * goes through the real send_email binding.
 */
function recorder(fail: (to: string) => string | undefined = () => undefined) {
  const sent: MimeMessage[] = [];
  const send: MailSender = async (m) => {
    sent.push(m);
    return m.to.map((to): SendResult => {
      const error = fail(to);
      return error ? { to, ok: false, error } : { to, ok: true };
    });
  };
  return { sent, send };
}

interface BreachRow {
  job_id: number;
  sla_deadline: string;
  created_at: string;
  notified_at: string | null;
  notify_error: string | null;
}

async function breachesOf(job: PlacedJob) {
  return (await env.DB.prepare("SELECT * FROM sla_breaches WHERE job_id = ? ORDER BY id").bind(job.id).all<BreachRow>()).results;
}

async function auditsOf(job: PlacedJob) {
  return (
    await env.DB.prepare("SELECT * FROM audit_events WHERE job_id = ? AND action = 'sla.breached' ORDER BY id")
      .bind(job.id)
      .all<{ job_uuid: string; actor_user_id: number | null; actor_name: string; changes: string; uuid: string }>()
  ).results;
}

async function count(sql: string) {
  return (await env.DB.prepare(sql).first<{ n: number }>())?.n ?? -1;
}

beforeAll(async () => {
  fx = await seedFixtures();
  managers = [await makeUser("manager"), await makeUser("manager")];
  const disabled = await makeUser("manager");
  await env.DB.prepare("UPDATE users SET disabled_at = '2029-01-01T00:00:00Z' WHERE id = ?").bind(disabled.userId).run();
  await makeUser("staff"); // not a manager: never notified
  managerEmails = (
    await env.DB.prepare("SELECT email FROM users WHERE id IN (?, ?) ORDER BY id")
      .bind(managers[0]?.userId, managers[1]?.userId)
      .all<{ email: string }>()
  ).results.map((r) => r.email);
  goodAgent = await newAgent("agent-good@example.test");
  badAgent = await newAgent("not an address");
});

// Each test starts with no open job: what one test leaves behind is closed, never re-checked.
afterEach(async () => {
  await env.DB.prepare("UPDATE jobs SET status_id = ? WHERE status_id <> ?").bind(STATUS.closed, STATUS.closed).run();
});

describe("runSlaCheck", () => {
  it("records jobs newly past their deadline once, audits and notifies each once; a second run does nothing", async () => {
    const late26 = await placeJob(fx, { deadline: iso(NOW - 26 * HOUR - 30 * MINUTE), agentId: goodAgent });
    const late1s = await placeJob(fx, { deadline: iso(NOW - 1000), agentId: null, priorityId: PRIORITY.emergency });
    const atNow = await placeJob(fx, { deadline: iso(NOW), agentId: goodAgent }); // exactly now: not breached
    const soon = await placeJob(fx, { deadline: iso(NOW + HOUR), agentId: goodAgent });
    const completed = await placeJob(fx, { deadline: iso(NOW - 50 * HOUR), statusId: STATUS.completed });
    const closed = await placeJob(fx, { deadline: iso(NOW - 50 * HOUR), statusId: STATUS.closed });
    const cancelled = await placeJob(fx, { deadline: iso(NOW - 50 * HOUR), statusId: STATUS.cancelled });
    const archived = await placeJob(fx, { deadline: iso(NOW - 50 * HOUR), statusId: STATUS.archived });
    const noSla = await placeJob(fx, { deadline: null, startedAt: iso(NOW - 900 * HOUR) });
    const future = await placeJob(fx, { startedAt: iso(NOW + 100 * HOUR), deadline: iso(NOW + 172 * HOUR) }); // bad data
    const recalled = await placeJob(fx, { deadline: iso(NOW - 5 * HOUR), statusId: STATUS.recalled, agentId: goodAgent });

    const mail = recorder();
    const first = await runSlaCheck(createServices(env), new Date(NOW), { send: mail.send });
    expect(first).toEqual({ recorded: 3, retried: 0, notified: 3, failed: 0, capped: false });

    for (const job of [atNow, soon, completed, closed, cancelled, archived, noSla, future]) expect(await breachesOf(job)).toEqual([]);
    const [b26] = await breachesOf(late26);
    expect(b26).toMatchObject({ sla_deadline: iso(NOW - 26 * HOUR - 30 * MINUTE), created_at: iso(NOW), notify_error: null });
    expect(b26?.notified_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await breachesOf(late1s)).toHaveLength(1);
    expect(await breachesOf(recalled)).toHaveLength(1);

    // Audit: one event per breach, by the system, with the deadline and whole hours overdue.
    const [a26] = await auditsOf(late26);
    expect(await auditsOf(late26)).toHaveLength(1);
    expect(a26).toMatchObject({ job_uuid: late26.uuid, actor_user_id: null, actor_name: "SLA monitor" });
    expect(a26?.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.parse(a26?.changes ?? "{}")).toEqual({ sla_deadline: iso(NOW - 26 * HOUR - 30 * MINUTE), hours_overdue: 26 });
    expect(JSON.parse((await auditsOf(late1s))[0]?.changes ?? "{}")).toMatchObject({ hours_overdue: 0 });

    // Mail: the agent (when the job has one) and each active manager, one message each.
    const to = (job: PlacedJob) =>
      mail.sent
        .filter((m) => m.subject.startsWith(`SLA breached: ${job.jobRef} `))
        .flatMap((m) => m.to)
        .sort();
    expect(to(late26)).toEqual(["agent-good@example.test", ...managerEmails].sort());
    expect(to(late1s)).toEqual([...managerEmails].sort());
    expect(to(recalled)).toEqual(["agent-good@example.test", ...managerEmails].sort());
    expect(mail.sent).toHaveLength(3 + 2 + 3);

    const m26 = mail.sent.find((m) => m.subject.startsWith(`SLA breached: ${late26.jobRef} `));
    expect(m26?.subject).toMatch(/^SLA breached: SLA-\d{4}-[0-9a-f]{4} Boiler Service - Unit \d{3}$/);
    expect(m26?.messageId).toBe(`<sla-${late26.uuid}-${(NOW - 26 * HOUR - 30 * MINUTE) / 1000}@propops.example.com>`);
    expect(m26?.from).toBe("jobs@propops.example.com");
    expect(m26?.text).toContain(`SLA deadline: ${iso(NOW - 26 * HOUR - 30 * MINUTE)}`);
    expect(m26?.text).toContain("Hours overdue: 26");
    expect(m26?.html).toContain("<td>26</td>");

    // Run twice: nothing new is recorded, audited or sent.
    const again = recorder();
    expect(await runSlaCheck(createServices(env), new Date(NOW), { send: again.send })).toEqual({
      recorded: 0,
      retried: 0,
      notified: 0,
      failed: 0,
      capped: false,
    });
    expect(again.sent).toEqual([]);
    expect(await breachesOf(late26)).toHaveLength(1);
    expect(await auditsOf(late26)).toHaveLength(1);

    // A second later the job whose deadline was exactly "now" is breached, alone.
    const later = recorder();
    expect(await runSlaCheck(createServices(env), new Date(NOW + 1000), { send: later.send })).toMatchObject({ recorded: 1 });
    expect(await breachesOf(atNow)).toHaveLength(1);
    expect(later.sent.every((m) => m.subject.startsWith(`SLA breached: ${atNow.jobRef} `))).toBe(true);
  });

  it("records a recalled job again for its new deadline, once", async () => {
    const job = await placeJob(fx, { deadline: iso(NOW - 10 * HOUR), agentId: goodAgent });
    await runSlaCheck(createServices(env), new Date(NOW), { send: recorder().send });
    // The recall restarts the clock: a new deadline (72 h from the recall), which passes later.
    const recalledAt = NOW + 2 * HOUR;
    await env.DB.prepare("UPDATE jobs SET status_id = ?, sla_started_at = ?, sla_deadline = ? WHERE id = ?")
      .bind(STATUS.recalled, iso(recalledAt), iso(recalledAt + 72 * HOUR), job.id)
      .run();
    const before = recorder();
    expect((await runSlaCheck(createServices(env), new Date(recalledAt + 71 * HOUR), { send: before.send })).recorded).toBe(0);
    const after = recorder();
    expect((await runSlaCheck(createServices(env), new Date(recalledAt + 73 * HOUR), { send: after.send })).recorded).toBe(1);
    await runSlaCheck(createServices(env), new Date(recalledAt + 80 * HOUR), { send: recorder().send });
    expect((await breachesOf(job)).map((b) => b.sla_deadline)).toEqual([iso(NOW - 10 * HOUR), iso(recalledAt + 72 * HOUR)]);
    expect(await auditsOf(job)).toHaveLength(2);
    expect(after.sent).toHaveLength(3);
    expect(after.sent[0]?.messageId).toBe(`<sla-${job.uuid}-${(recalledAt + 72 * HOUR) / 1000}@propops.example.com>`);
  });

  it("two runs at once record, audit and notify each breach once", async () => {
    const placed: PlacedJob[] = [];
    for (let i = 0; i < 25; i++) placed.push(await placeJob(fx, { deadline: iso(NOW - (i + 1) * HOUR), agentId: goodAgent }));
    const mail = recorder();
    const results = await Promise.all([
      runSlaCheck(createServices(env), new Date(NOW), { send: mail.send, batchSize: 4 }),
      runSlaCheck(createServices(env), new Date(NOW), { send: mail.send, batchSize: 4 }),
    ]);
    expect(results.reduce((n, r) => n + r.recorded, 0)).toBe(25);
    for (const job of placed) {
      expect(await breachesOf(job)).toHaveLength(1);
      expect(await auditsOf(job)).toHaveLength(1);
    }
    // 25 breaches × (agent + 2 managers), each message id once per recipient.
    expect(mail.sent).toHaveLength(75);
    const pairs = new Set(mail.sent.map((m) => `${m.messageId} ${m.to.join()}`));
    expect(pairs.size).toBe(75);
  });

  it("records a failed notice on its breach and still sends the others", async () => {
    const bad = await placeJob(fx, { deadline: iso(NOW - 2 * HOUR), agentId: badAgent });
    const flaky = await placeJob(fx, { deadline: iso(NOW - 3 * HOUR), agentId: goodAgent });
    const fine = await placeJob(fx, { deadline: iso(NOW - 4 * HOUR), agentId: goodAgent });
    const managerDown = managerEmails[0] ?? "";
    let calls = 0;
    // The double's only job is to count; it fails one manager's delivery for one job and throws once.
    const mail = recorder((to) => (to === managerDown && calls++ === 0 ? "mailbox unavailable" : undefined));
    const throwing: MailSender = async (m) => {
      if (m.to[0] === "agent-good@example.test" && m.subject.includes(flaky.jobRef)) throw new Error("binding exploded");
      return mail.send(m);
    };
    const res = await runSlaCheck(createServices(env), new Date(NOW), { send: throwing, batchSize: 1 });
    expect(res).toEqual({ recorded: 3, retried: 0, notified: 3, failed: 2, capped: false });

    // fine (most overdue) is sent first: its manager delivery fails; flaky's agent send throws.
    const [bFine] = await breachesOf(fine);
    expect(bFine?.notified_at).not.toBeNull();
    expect(bFine?.notify_error).toBe(`${managerDown}: mailbox unavailable`);
    const [bFlaky] = await breachesOf(flaky);
    expect(bFlaky?.notified_at).not.toBeNull();
    expect(bFlaky?.notify_error).toBe("agent-good@example.test: binding exploded");
    // The double accepts any address; sendMail refusing this one is tested through the real binding below.
    const [bBad] = await breachesOf(bad);
    expect(bBad?.notify_error).toBeNull();
  });

  it("records 'no recipients' when the job has no agent and no manager is active", async () => {
    const job = await placeJob(fx, { deadline: iso(NOW - HOUR), agentId: null });
    const demoted = await env.DB.prepare("UPDATE users SET role = 'staff' WHERE role = 'manager' RETURNING id").all<{ id: number }>();
    try {
      const mail = recorder();
      expect(await runSlaCheck(createServices(env), new Date(NOW), { send: mail.send })).toEqual({
        recorded: 1,
        retried: 0,
        notified: 0,
        failed: 1,
        capped: false,
      });
      expect(mail.sent).toEqual([]);
      const [b] = await breachesOf(job);
      expect(b).toMatchObject({ notified_at: null, notify_error: "no recipients: no agent email and no active manager" });
    } finally {
      const ids = JSON.stringify(demoted.results.map((r) => r.id));
      await env.DB.prepare("UPDATE users SET role = 'manager' WHERE id IN (SELECT value FROM json_each(?))").bind(ids).run();
    }
  });

  it("retries, once, a notice that an interrupted run left unresolved; never one still in progress", async () => {
    const stuck = await placeJob(fx, { deadline: iso(NOW - 5 * HOUR), agentId: goodAgent });
    const inProgress = await placeJob(fx, { deadline: iso(NOW - 5 * HOUR), agentId: goodAgent });
    const retriedBefore = await placeJob(fx, { deadline: iso(NOW - 5 * HOUR), agentId: goodAgent });
    const closed = await placeJob(fx, { deadline: iso(NOW - 5 * HOUR), statusId: STATUS.closed });
    const insert = (job: PlacedJob, createdAt: number, error: string | null) =>
      env.DB.prepare("INSERT INTO sla_breaches (job_id, sla_deadline, created_at, notify_error) VALUES (?, ?, ?, ?)")
        .bind(job.id, iso(NOW - 5 * HOUR), iso(createdAt), error)
        .run();
    await insert(stuck, NOW - 31 * MINUTE, null); // a run recorded it and died before notifying
    await insert(inProgress, NOW - 5 * MINUTE, null); // a run that may still be sending
    await insert(retriedBefore, NOW - 2 * HOUR, "notice interrupted; retried at 2030-01-15T10:30:00Z");
    await insert(closed, NOW - 2 * HOUR, null);

    const mail = recorder();
    expect(await runSlaCheck(createServices(env), new Date(NOW), { send: mail.send })).toEqual({
      recorded: 0,
      retried: 1,
      notified: 1,
      failed: 0,
      capped: false,
    });
    expect(new Set(mail.sent.map((m) => m.messageId))).toEqual(
      new Set([`<sla-${stuck.uuid}-${(NOW - 5 * HOUR) / 1000}@propops.example.com>`]),
    );
    expect(mail.sent).toHaveLength(3);
    expect((await breachesOf(stuck))[0]).toMatchObject({ notify_error: null });
    expect((await breachesOf(stuck))[0]?.notified_at).not.toBeNull();
    expect((await breachesOf(inProgress))[0]).toMatchObject({ notified_at: null, notify_error: null });
    expect((await breachesOf(retriedBefore))[0]).toMatchObject({ notified_at: null });
    expect((await breachesOf(closed))[0]).toMatchObject({ notified_at: null, notify_error: null });

    const again = recorder();
    expect((await runSlaCheck(createServices(env), new Date(NOW), { send: again.send })).retried).toBe(0);
    expect(again.sent).toEqual([]);
  });

  it("handles thousands of open jobs in bounded runs, finishing across runs without duplicates", async () => {
    // 3000 open jobs past their deadline (plus 500 still within), inserted in one statement.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3500)
       INSERT INTO jobs (uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, vat_percentage,
         sla_started_at, sla_deadline)
       SELECT lower(hex(randomblob(16))), 'BULK-' || i, 'Bulk job ' || i, 'Bulk', 1 + (i % 5), 2, 3, ?1, 20,
         strftime('%Y-%m-%dT%H:%M:%SZ', ?2, 'unixepoch', '-' || (72 * 3600 + i * 60) || ' seconds'),
         strftime('%Y-%m-%dT%H:%M:%SZ', ?2, 'unixepoch', CASE WHEN i <= 3000 THEN '-' ELSE '+' END || (i * 60) || ' seconds')
       FROM n`,
    )
      .bind(fx.addressId, NOW / 1000)
      .run();
    expect(await count("SELECT count(*) AS n FROM jobs WHERE job_ref LIKE 'BULK-%'")).toBe(3500);

    const perRun = SLA_CHECK_DEFAULTS.batchSize * SLA_CHECK_DEFAULTS.maxBatches;
    let sent = 0;
    const send: MailSender = async (m) => {
      sent++;
      return m.to.map((to) => ({ to, ok: true }));
    };
    const runs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await runSlaCheck(createServices(env), new Date(NOW), { send });
      runs.push(r.recorded);
      expect(r.recorded).toBeLessThanOrEqual(perRun);
      if (r.recorded === 0) break;
    }
    expect(runs).toEqual([500, 500, 500, 500, 500, 500, 0]);
    expect(sent).toBe(3000 * 2); // no agent on bulk jobs: the two managers
    expect(await count("SELECT count(*) AS n FROM sla_breaches b JOIN jobs j ON j.id = b.job_id WHERE j.job_ref LIKE 'BULK-%'")).toBe(3000);
    expect(
      await count(
        "SELECT count(*) AS n FROM (SELECT b.job_id FROM sla_breaches b JOIN jobs j ON j.id = b.job_id WHERE j.job_ref LIKE 'BULK-%' GROUP BY b.job_id HAVING count(*) > 1)",
      ),
    ).toBe(0);
    expect(await count("SELECT count(*) AS n FROM audit_events a JOIN jobs j ON j.id = a.job_id WHERE j.job_ref LIKE 'BULK-%'")).toBe(3000);
  });

  it("finds due jobs through the status index and the breach index, never by scanning every job", async () => {
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${DUE_JOBS_SQL}`).bind(iso(NOW), 100).all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.join("\n"), details.join("\n")).toMatch(
      /SEARCH j USING INDEX jobs_status_sla_idx \(status_id=\? AND sla_deadline>\? AND sla_deadline<\?\)/,
    );
    expect(details).toContain("SEARCH b USING COVERING INDEX sla_breaches_job_deadline_idx (job_id=? AND sla_deadline=?)");
    expect(details.join("\n")).not.toMatch(/SCAN j\b/);
  });
});

describe("scheduled() through the real send_email binding", () => {
  it("runs the check at the controller's time; run twice it records and notifies each breach once", async () => {
    const ok = await placeJob(fx, { deadline: iso(NOW - 30 * HOUR), agentId: goodAgent });
    const bad = await placeJob(fx, { deadline: iso(NOW - 20 * HOUR), agentId: badAgent });
    const notYet = await placeJob(fx, { deadline: iso(NOW + MINUTE), agentId: goodAgent });

    for (let run = 0; run < 2; run++) {
      const controller = createScheduledController({ scheduledTime: new Date(NOW), cron: "*/5 * * * *" });
      const ctx = createExecutionContext();
      await scheduled(controller, env, ctx);
      await waitOnExecutionContext(ctx);
    }

    const [bOk] = await breachesOf(ok);
    expect(await breachesOf(ok)).toHaveLength(1);
    expect(bOk).toMatchObject({ created_at: iso(NOW), notify_error: null });
    expect(bOk?.notified_at).not.toBeNull();

    // The agent's address is refused by sendMail; the managers' notices still went out.
    expect(await breachesOf(bad)).toHaveLength(1);
    const [bBad] = await breachesOf(bad);
    expect(bBad?.notified_at).not.toBeNull();
    expect(bBad?.notify_error).toBe("not an address: not an email address: not an address");
    expect(await auditsOf(ok)).toHaveLength(1);
    expect(await auditsOf(bad)).toHaveLength(1);
    expect(await breachesOf(notYet)).toEqual([]);

    const controller = createScheduledController({ scheduledTime: new Date(NOW + 2 * MINUTE), cron: "*/5 * * * *" });
    const ctx = createExecutionContext();
    await scheduled(controller, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await breachesOf(notYet)).toHaveLength(1);
  });
});
