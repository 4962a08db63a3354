import { abortAllDurableObjects, env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type UserPins, userPins } from "../../../../src/pins/user-pins";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, getJob, seedFixtures } from "../../../support/helpers";
import { send, UNKNOWN_UUID } from "../../../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
});

const toggle = (who: Actor, job_uuid: string) => send(who, "POST", "/api/jobs/toggle-pin", { job_uuid });
const pinnedList = async (who: Actor) => {
  const res = await api("GET", "/api/jobs/manage?action=list&pinned=true", { token: who.token });
  expectStatus(res, 200);
  return res.body as { data: { uuid: string; is_pinned: boolean }[]; count: number };
};
const storedPins = (who: Actor) => runInDurableObject(userPins(env, who.userUuid), (instance: UserPins) => instance.list());

describe("POST /api/jobs/toggle-pin", () => {
  it("pins and unpins, answering as the reference shows", async () => {
    const user = await actor("staff");
    const job = await createJob(staff, fx);
    const pinned = await toggle(user, job.job_uuid);
    expectStatus(pinned, 200);
    expect(pinned.body).toEqual({ success: true, is_pinned: true, message: "Job pinned to your dashboard" });
    expect((await getJob(user, job.job_uuid)).is_pinned).toBe(true);
    const unpinned = await toggle(user, job.job_uuid);
    expectStatus(unpinned, 200);
    expect(unpinned.body).toEqual({ success: true, is_pinned: false, message: "Job unpinned from your dashboard" });
    expect((await getJob(user, job.job_uuid)).is_pinned).toBe(false);
  });

  it("keeps each user's pins apart and feeds the pinned=true list", async () => {
    const [alice, bob] = [await actor("staff"), await actor("agent")];
    const [a, b] = [await createJob(staff, fx), await createJob(staff, fx)];
    expectStatus(await toggle(alice, a.job_uuid), 200);
    expectStatus(await toggle(bob, b.job_uuid), 200);
    const mine = await pinnedList(alice);
    expect(mine.count).toBe(1);
    expect(mine.data.map((j) => [j.uuid, j.is_pinned])).toEqual([[a.job_uuid, true]]);
    expect((await pinnedList(bob)).data.map((j) => j.uuid)).toEqual([b.job_uuid]);
    const all = await api("GET", "/api/jobs/manage?action=list&limit=200", { token: alice.token });
    const flags = Object.fromEntries((all.body.data as { uuid: string; is_pinned: boolean }[]).map((j) => [j.uuid, j.is_pinned]));
    expect(flags[a.job_uuid]).toBe(true);
    expect(flags[b.job_uuid]).toBe(false);
  });

  it("answers 404 for unknown jobs and for jobs a contractor may not see, pinning nothing", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const unknown = await toggle(contractor, UNKNOWN_UUID);
    expectStatus(unknown, 404);
    expect(unknown.body.message).toBe("Job not found");
    const others = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const hidden = await toggle(contractor, others.job_uuid);
    expectStatus(hidden, 404);
    expect(hidden.body.message).toBe("Job not found");
    expect(await storedPins(contractor)).toEqual([]);
    const own = await createJob(staff, fx, { contractor_id: fx.contractorId });
    expectStatus(await toggle(contractor, own.job_uuid), 200);
    expect(await storedPins(contractor)).toEqual([own.job_uuid]);
  });

  it("validates job_uuid (400) and requires a CSRF token (403)", async () => {
    const bad = await send(staff, "POST", "/api/jobs/toggle-pin", { job_uuid: "not-a-uuid" });
    expectStatus(bad, 400);
    expect(bad.body.errors).toEqual([{ field: "job_uuid", message: "must be a UUID" }]);
    const job = await createJob(staff, fx);
    const noCsrf = await api("POST", "/api/jobs/toggle-pin", { token: staff.token, body: { job_uuid: job.job_uuid } });
    expectStatus(noCsrf, 403);
    expect(await storedPins(staff)).not.toContain(job.job_uuid);
  });

  it("drops pins of deleted jobs: gone from the pinned list, then forgotten by the user's object", async () => {
    const user = await actor("staff");
    const [kept, deleted] = [await createJob(staff, fx), await createJob(staff, fx)];
    expectStatus(await toggle(user, kept.job_uuid), 200);
    expectStatus(await toggle(user, deleted.job_uuid), 200);
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: deleted.job_uuid }), 200);
    const list = await pinnedList(user);
    expect(list.data.map((j) => j.uuid)).toEqual([kept.job_uuid]);
    expect(list.count).toBe(1);
    // The forget runs after the answer (waitUntil): poll, bounded generously (a loaded machine).
    await vi.waitFor(async () => expect(await storedPins(user)).toEqual([kept.job_uuid]), { timeout: 20_000, interval: 50 });
  });

  it("does not forget pins of jobs that merely fall outside the caller's view", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const job = await createJob(staff, fx, { contractor_id: fx.contractorId });
    expectStatus(await toggle(contractor, job.job_uuid), 200);
    // Reassigned to another contractor: hidden, but the job still exists.
    expectStatus(
      await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, contractor_id: fx.otherContractorId }),
      200,
    );
    expect((await pinnedList(contractor)).data).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(await storedPins(contractor)).toEqual([job.job_uuid]);
  });

  it("keeps pins across restarts of the user's Durable Object", async () => {
    const user = await actor("manager");
    const job = await createJob(staff, fx);
    expectStatus(await toggle(user, job.job_uuid), 200);
    const stub = userPins(env, user.userUuid);
    // Mark the live instance, so we can tell a fresh one apart after the restart.
    await runInDurableObject(stub, (instance: UserPins) => {
      Object.assign(instance, { marker: "before-restart" });
    });
    await evictDurableObject(stub);
    const afterEvict = await runInDurableObject(stub, (instance: UserPins) => ({
      marker: (instance as unknown as { marker?: string }).marker,
      pins: instance.list(),
    }));
    expect(afterEvict).toEqual({ marker: undefined, pins: [job.job_uuid] });
    await abortAllDurableObjects();
    expect((await pinnedList(user)).data.map((j) => j.uuid)).toEqual([job.job_uuid]);
    const unpinned = await toggle(user, job.job_uuid);
    expect(unpinned.body.is_pinned).toBe(false);
    await abortAllDurableObjects();
    expect((await pinnedList(user)).data).toEqual([]);
  });
});

describe("is_pinned without a Durable Object call while the pins are unchanged (src/pins/pins-cache.ts)", () => {
  const isPinned = async (who: Actor, uuid: string) => (await getJob(who, uuid)).is_pinned;
  const d1Version = async (who: Actor) =>
    (await env.DB.prepare("SELECT pins_version AS v FROM users WHERE uuid = ?").bind(who.userUuid).first<{ v: number }>())?.v;

  it("a toggle through the API copies the object's version to D1, and reads follow it", async () => {
    const user = await actor("staff");
    const job = await createJob(staff, fx);
    expect(await isPinned(user, job.job_uuid)).toBe(false);
    expectStatus(await toggle(user, job.job_uuid), 200);
    expect(await d1Version(user)).toBe(1);
    expect(await isPinned(user, job.job_uuid)).toBe(true);
    expectStatus(await toggle(user, job.job_uuid), 200);
    expect(await d1Version(user)).toBe(2);
    expect(await isPinned(user, job.job_uuid)).toBe(false);
  });

  it("another isolate's toggle: the copy here is used until D1 holds the new version, then dropped", async () => {
    const user = await actor("staff");
    const job = await createJob(staff, fx);
    expect(await isPinned(user, job.job_uuid)).toBe(false); // this isolate now holds a copy (version 0)
    // Another isolate pins through the object but has not copied the version yet: this isolate's
    // reads still answer from its copy, which shows that they made no Durable Object call.
    const changed = await runInDurableObject(userPins(env, user.userUuid), (instance: UserPins) =>
      instance.toggleVersioned(job.job_uuid, new Date().toISOString()),
    );
    expect(changed).toEqual({ pinned: true, version: 1 });
    expect(await isPinned(user, job.job_uuid)).toBe(false);
    expect((await pinnedList(user)).data).toEqual([]);
    // Once D1 holds the object's version, the copy no longer matches: the next read asks the object.
    await env.DB.prepare("UPDATE users SET pins_version = 1 WHERE uuid = ?").bind(user.userUuid).run();
    expect(await isPinned(user, job.job_uuid)).toBe(true);
    expect((await pinnedList(user)).data.map((j) => j.uuid)).toEqual([job.job_uuid]);
  });

  it("a version copy older than the object's never pins old state under the new version", async () => {
    const user = await actor("staff");
    const job = await createJob(staff, fx);
    // The object moves to version 2 (pin, unpin) while D1 says 1: a read takes the object's
    // snapshot (version 2, unpinned) and keeps it under 2, so D1's 1 does not match it later.
    await runInDurableObject(userPins(env, user.userUuid), (instance: UserPins) => {
      instance.toggleVersioned(job.job_uuid, new Date().toISOString());
      instance.toggleVersioned(job.job_uuid, new Date().toISOString());
    });
    await env.DB.prepare("UPDATE users SET pins_version = 1 WHERE uuid = ?").bind(user.userUuid).run();
    expect(await isPinned(user, job.job_uuid)).toBe(false);
    await runInDurableObject(userPins(env, user.userUuid), (instance: UserPins) =>
      instance.toggleVersioned(job.job_uuid, new Date().toISOString()),
    );
    expect(await isPinned(user, job.job_uuid)).toBe(true);
  });
});
