import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LiveHub } from "../../../src/live/hub";
import { type Actor, actor, api, createJob, csrfFor, expectStatus, type Fixtures, seedFixtures } from "../../support/helpers";
import { connectLive, type LiveClient, type LiveMessage, liveTicket, openRaw } from "../../support/live";

// Issue 21: the live event stream. A client POSTs for a ticket, opens GET /api/live?ticket=… and
// receives, within a second, the events it may see: contractors only their jobs', private values never.
let fx: Fixtures;
let manager: Actor;
let staff: Actor;
let firmA: Actor;
let firmB: Actor;
const open: LiveClient[] = [];

const connect = async (...args: Parameters<typeof connectLive>) => {
  const c = await connectLive(...args);
  open.push(c);
  return c;
};

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

const note = (who: Actor, jobUuid: string, message: string) =>
  api("POST", "/api/jobs/case-notes", { token: who.token, csrf: who.csrf, body: { action: "create", job_uuid: jobUuid, message } });
const update = (who: Actor, jobUuid: string, fields: Record<string, unknown>) =>
  api("POST", "/api/jobs/manage", { token: who.token, csrf: who.csrf, body: { action: "update", uuid: jobUuid, ...fields } });
const hub = () => env.LIVE_HUB.getByName("live") as unknown as DurableObjectStub<LiveHub>;
const isNoteOn = (job: string) => (m: LiveMessage) => m.kind === "event" && m.type === "note.added" && m.job_uuid === job;

beforeAll(async () => {
  fx = await seedFixtures();
  manager = await actor("manager", { name: "Alice Manager" });
  staff = await actor("staff", { name: "Sam Staff" });
  firmA = await actor("contractor", { contractorId: fx.contractorId, name: "Ann Contractor" });
  firmB = await actor("contractor", { contractorId: fx.otherContractorId, name: "Bob Contractor" });
});

describe("POST /api/live: the ticket", () => {
  it("answers a ticket, its expiry and the newest event id, in the usual envelope", async () => {
    const t = await liveTicket(manager);
    expect(t).toMatchObject({ success: true, message: "Live ticket issued" });
    expect(t.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(t.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
    expect(Number.isInteger(t.after)).toBe(true);
  });

  it("needs the CSRF token of the same API token", async () => {
    const none = await api("POST", "/api/live", { token: manager.token });
    expectStatus(none, 403);
    expect(none.body.code).toBe("CSRF_INVALID");
    const foreign = await api("POST", "/api/live", { token: manager.token, csrf: staff.csrf });
    expectStatus(foreign, 403);
    expect(foreign.body.code).toBe("CSRF_INVALID");
    expectStatus(await api("POST", "/api/live", { token: manager.token, csrf: await csrfFor(manager.token) }), 200);
  });

  it("is single use", async () => {
    const { ticket } = await liveTicket(manager);
    const first = await connect(manager, { ticket });
    expect(first.ws.readyState).toBe(WebSocket.OPEN);
    const again = await openRaw(`?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ success: false, code: "UNAUTHORIZED", message: expect.stringMatching(/already used/) });
  });

  it("expires after 60 s", async () => {
    const { ticket } = await liveTicket(manager);
    await runInDurableObject(hub(), async (_hub, state) => {
      state.storage.sql.exec("UPDATE tickets SET expires_ms = ?", Date.now() - 1);
    });
    const res = await openRaw(`?ticket=${ticket}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "UNAUTHORIZED", message: expect.stringMatching(/expired/) });
  });

  it("is bound to its token: another token's bearer is refused, a revoked token's ticket too", async () => {
    const { ticket } = await liveTicket(manager);
    const res = await openRaw(`?ticket=${ticket}`, { Upgrade: "websocket", Authorization: `Bearer ${staff.token}` });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/another API token/) });
    // Its own bearer is fine.
    const own = await liveTicket(manager);
    const ok = await openRaw(`?ticket=${own.ticket}`, { Upgrade: "websocket", Authorization: `Bearer ${manager.token}` });
    expect(ok.status).toBe(101);
    ok.webSocket?.accept();
    ok.webSocket?.close();
    const doomed = await actor("staff");
    const late = await liveTicket(doomed);
    await env.DB.prepare("UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00Z' WHERE id = ?").bind(doomed.tokenId).run();
    const revoked = await openRaw(`?ticket=${late.ticket}`);
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ message: expect.stringMatching(/no longer valid/) });
  });

  it("refuses hostile or malformed opens with the error envelope", async () => {
    for (const [query, headers, status, message] of [
      ["?ticket=x", {}, 400, /WebSocket/],
      ["", { Upgrade: "websocket" }, 400, /Invalid query/],
      ["?ticket=forged", { Upgrade: "websocket" }, 401, /Unknown/],
      [`?ticket=${"A".repeat(201)}`, { Upgrade: "websocket" }, 400, /Invalid query/],
      ["?ticket=x&after=-1", { Upgrade: "websocket" }, 400, /Invalid query/],
      ["?ticket=x&after=1e400", { Upgrade: "websocket" }, 400, /Invalid query/],
      ["?ticket=x&token=abc", { Upgrade: "websocket" }, 400, /Invalid query/],
    ] as const) {
      const res = await openRaw(query, headers);
      expect(res.status, query).toBe(status);
      const body = (await res.json()) as { success: boolean; message: string; request_id: string };
      expect(body.success, query).toBe(false);
      expect(body.message, query).toMatch(message);
      expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("GET /api/live: the stream", () => {
  it("delivers another user's note within a second, with its type, id and job_uuid", async () => {
    const job = await createJob(staff, fx);
    const client = await connect(manager);
    const started = Date.now();
    expectStatus(await note(staff, job.job_uuid, "Tenant called back"), 201);
    const answered = Date.now();
    const m = await client.until(isNoteOn(job.job_uuid), 1000);
    expect(Date.now() - answered).toBeLessThan(1000);
    expect(m).toMatchObject({ kind: "event", type: "note.added", job_uuid: job.job_uuid });
    expect(m.id).toBeGreaterThan(0);
    expect(m.data).toMatchObject({
      job_uuid: job.job_uuid,
      job_ref: job.job_ref,
      sequence: 2,
      actor: { name: "Sam Staff" },
      source: "api",
    });
    console.log(`note → live message: ${Date.now() - started} ms after the write began`);
  });

  it("gives a contractor only its own jobs' events, the job's contractor as of each event", async () => {
    const mine = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const theirs = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const a = await connect(firmA);
    const b = await connect(firmB);
    const m = await connect(manager);
    expectStatus(await note(staff, mine.job_uuid, "For A"), 201);
    expectStatus(await note(staff, theirs.job_uuid, "For B"), 201);
    await m.until(isNoteOn(theirs.job_uuid));
    await a.until(isNoteOn(mine.job_uuid));
    await b.until(isNoteOn(theirs.job_uuid));
    // Reassigned from A to B: both hear of it (A loses it, B gets it); after it, only B.
    expectStatus(await update(staff, mine.job_uuid, { contractor_id: fx.otherContractorId }), 200);
    await a.until((x) => x.type === "job.assigned" && x.job_uuid === mine.job_uuid);
    await b.until((x) => x.type === "job.assigned" && x.job_uuid === mine.job_uuid);
    expectStatus(await note(staff, mine.job_uuid, "Now for B"), 201);
    await b.until((x) => isNoteOn(mine.job_uuid)(x) && (x.id ?? 0) > (a.events().at(-1)?.id ?? 0));
    await m.until((x) => isNoteOn(mine.job_uuid)(x) && x.id === b.events().at(-1)?.id);
    await a.quiet(300);
    const aJobs = new Set(a.events().map((e) => e.job_uuid));
    expect([...aJobs]).toEqual([mine.job_uuid]);
    expect(a.events().map((e) => e.type)).toEqual(["note.added", "job.updated", "job.assigned"]);
    expect(b.events().some((e) => e.job_uuid === mine.job_uuid && e.type === "note.added" && e.id === m.events().at(-1)?.id)).toBe(true);
    expect(b.events().filter((e) => e.job_uuid === mine.job_uuid && e.type === "note.added")).toHaveLength(1);
  });

  it("never sends private values: access details, the private contact, note text", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const a = await connect(firmA);
    const m = await connect(manager);
    const secrets = ["Keysafe 9931 under the mat", "Priscilla Secretcontact", "priscilla@secret.example", "The tenant is away until May"];
    expectStatus(
      await update(staff, job.job_uuid, {
        access_details: secrets[0],
        private_contact_name: secrets[1],
        private_contact_email: secrets[2],
      }),
      200,
    );
    expectStatus(await note(staff, job.job_uuid, secrets[3] as string), 201);
    for (const c of [a, m]) {
      const upd = await c.until((x) => x.type === "job.updated" && x.job_uuid === job.job_uuid);
      expect((upd.data as { changes: Record<string, unknown> }).changes).toMatchObject({
        access_details: { changed: true },
        private_contact_name: { changed: true },
        private_contact_email: { changed: true },
      });
      await c.until(isNoteOn(job.job_uuid));
      const wire = JSON.stringify(c.messages);
      for (const s of secrets) expect(wire).not.toContain(s);
    }
  });

  it("resumes after a reconnect from the last id seen: every missed event once, in order, then live", async () => {
    const job = await createJob(staff, fx);
    const first = await connect(manager);
    for (const n of [1, 2]) expectStatus(await note(staff, job.job_uuid, `Before ${n}`), 201);
    await first.until((x) => isNoteOn(job.job_uuid)(x) && first.events().filter(isNoteOn(job.job_uuid)).length === 2);
    const lastSeen = first.events().at(-1)?.id ?? 0;
    first.close();
    for (const n of [3, 4, 5]) expectStatus(await note(staff, job.job_uuid, `While away ${n}`), 201);
    expectStatus(await update(staff, job.job_uuid, { job_title: "Renamed while away" }), 200);
    const again = await connect(manager, { after: lastSeen });
    expectStatus(await note(staff, job.job_uuid, "After"), 201);
    await again.until((x) => isNoteOn(job.job_uuid)(x) && again.events().filter(isNoteOn(job.job_uuid)).length === 4);
    await again.quiet(200);
    const ids = again.events().map((e) => e.id ?? 0);
    expect(ids.every((id) => id > lastSeen)).toBe(true);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    const mine = again.events().filter((e) => e.job_uuid === job.job_uuid);
    expect(mine.map((e) => e.type)).toEqual(["note.added", "note.added", "note.added", "job.updated", "note.added"]);
    // Nothing between the two connections is missing: the first's ids and the second's join up.
    const all = await api("GET", `/api/live/events?after=${lastSeen}&limit=500`, { token: manager.token });
    expect((all.body.events as LiveMessage[]).map((e) => e.id)).toEqual(ids);
  });

  it("tells who else is viewing a job, to those who may see it", async () => {
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const m = await connect(manager);
    const s = await connect(staff);
    const b = await connect(firmB);
    m.ws.send(JSON.stringify({ kind: "viewing", job_uuid: job.job_uuid }));
    s.ws.send(JSON.stringify({ kind: "viewing", job_uuid: job.job_uuid }));
    const both = (x: LiveMessage) => x.kind === "presence" && x.job_uuid === job.job_uuid && x.viewers?.length === 2;
    const seen = await m.until(both);
    expect(seen.viewers?.map((v) => v.name).sort()).toEqual(["Alice Manager", "Sam Staff"]);
    // Another firm's contractor may not watch it, nor learn who does.
    b.ws.send(JSON.stringify({ kind: "viewing", job_uuid: job.job_uuid }));
    expect((await b.quiet(300)).filter((x) => x.kind === "presence")).toEqual([]);
    expect((await m.quiet(100)).some((x) => x.viewers?.some((v) => v.name === "Bob Contractor"))).toBe(false);
    s.close();
    const alone = await m.until((x) => x.kind === "presence" && x.job_uuid === job.job_uuid && x.viewers?.length === 1);
    expect(alone.viewers?.map((v) => v.name)).toEqual(["Alice Manager"]);
    // Garbage is answered, never fatal.
    m.ws.send("not json");
    m.ws.send(JSON.stringify({ kind: "viewing", job_uuid: "'; DROP TABLE jobs; --" }));
    await m.until((x) => x.kind === "error");
    m.ws.send(JSON.stringify({ kind: "ping" }));
    await m.until((x) => x.kind === "pong");
  });
});

describe("GET /api/live/events: polling the same stream", () => {
  it("answers the events after an id, oldest first, with next_after; a contractor only its own", async () => {
    const { after } = await liveTicket(manager);
    const mine = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const other = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    expectStatus(await note(staff, mine.job_uuid, "Poll A"), 201);
    expectStatus(await note(staff, other.job_uuid, "Poll B"), 201);
    const poll = (who: Actor, q: string) => api("GET", `/api/live/events?${q}`, { token: who.token });
    const all = await poll(manager, `after=${after}`);
    expectStatus(all, 200);
    const types = (all.body.events as LiveMessage[]).map((e) => `${e.type}:${e.job_uuid === mine.job_uuid ? "A" : "B"}`);
    expect(types).toEqual(["job.created:A", "job.created:B", "note.added:A", "note.added:B"]);
    expect(all.body.next_after).toBe((all.body.events as LiveMessage[]).at(-1)?.id);
    const a = await poll(firmA, `after=${after}`);
    expect((a.body.events as LiveMessage[]).map((e) => e.job_uuid)).toEqual([mine.job_uuid, mine.job_uuid]);
    // Paged: two at a time, no gap, no duplicate.
    const page1 = await poll(manager, `after=${after}&limit=2`);
    const page2 = await poll(manager, `after=${page1.body.next_after}&limit=2`);
    const paged = [...page1.body.events, ...page2.body.events].map((e: LiveMessage) => e.id);
    expect(paged).toEqual((all.body.events as LiveMessage[]).map((e) => e.id));
    const empty = await poll(manager, `after=${all.body.next_after}`);
    expect(empty.body.events).toEqual([]);
    expect(empty.body.next_after).toBe(all.body.next_after);
  });

  it("refuses bad input with the error envelope", async () => {
    for (const q of ["", "after=abc", "after=-5", "after=1&limit=0", "after=1&limit=501", "after=1&extra=1"]) {
      const res = await api("GET", `/api/live/events?${q}`, { token: manager.token });
      expectStatus(res, 400);
      expect(res.body.success).toBe(false);
    }
  });
});

describe("/ for browsers and API clients", () => {
  it("sends a browser to the dashboard and keeps the JSON index for API clients", async () => {
    const browser = await exports.default.fetch(
      new Request("https://propops.test/", {
        headers: { Accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
        redirect: "manual",
      }),
    );
    expect(browser.status).toBe(303);
    expect(browser.headers.get("location")).toBe("/app/");
    expect(browser.headers.get("vary")).toMatch(/Accept/);
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html;q=0.5", "text/html;q=0.5, */*"]) {
      const res = await api("GET", "/", { headers: accept ? { Accept: accept } : {} });
      expect(res.status, accept).toBe(200);
      expect(res.body).toMatchObject({ name: "PropOps Jobs API", openapi: "/api/openapi.json" });
    }
  });
});
