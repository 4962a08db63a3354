/**
 * The per-isolate cache of verified tokens (src/auth/token-cache.ts): admission usually costs no D1
 * round trip, yet a revocation through the API, an expiry and an eviction after a change in src
 * take effect on the very next request. Tests and the Worker share one isolate, so its cache.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { forgetToken } from "../../src/auth/token-cache";
import { actor, api, createJob, expectStatus, type Fixtures, makeUser, seedFixtures } from "../support/helpers";
import { send } from "../support/workflow-helpers";

let fx: Fixtures;
beforeAll(async () => {
  fx = await seedFixtures();
});

const trips = (res: { headers: Headers }) => Number(res.headers.get("X-D1-Round-Trips"));
const LIST = "/api/jobs/manage?action=list&limit=5";

describe("verified tokens cached per isolate", () => {
  it("a token new to the isolate costs exactly one more round trip than a known one", async () => {
    const user = await makeUser("staff");
    const cold = await api("GET", LIST, { token: user.token });
    expectStatus(cold, 200);
    const warm = await api("GET", LIST, { token: user.token });
    expectStatus(warm, 200);
    expect([trips(cold), trips(warm)]).toEqual([2, 1]);
  });

  it("a token revoked through the API is refused on the very next request", async () => {
    const owner = await actor("staff");
    const minted = await send(owner, "POST", "/api/security/tokens", { action: "create", name: "to revoke" });
    expectStatus(minted, 201);
    const token = minted.body.token as string;
    expectStatus(await api("GET", LIST, { token }), 200); // now cached in this isolate
    const revoked = await send(owner, "POST", "/api/security/tokens", { action: "revoke", uuid: minted.body.token_info.uuid });
    expectStatus(revoked, 200);
    const next = await api("GET", LIST, { token });
    expectStatus(next, 401);
    expect(next.body.message).toMatch(/revoked/);
  });

  it("an expired token is refused even while cached", async () => {
    // The token must be used (and cached) before it expires: on a loaded machine making the user and
    // the first request can outlast a short lifetime. Then this is tried again with a longer one: the
    // first answer is judged only when it came before the expiry.
    let user: Awaited<ReturnType<typeof makeUser>> | undefined;
    let soon = new Date(0);
    for (let lifetime = 2000; !user; lifetime *= 2) {
      soon = new Date(Math.ceil(Date.now() / 1000) * 1000 + lifetime);
      const candidate = await makeUser("staff", { expiresAt: soon.toISOString().replace(/\.\d{3}Z$/, "Z") });
      const first = await api("GET", LIST, { token: candidate.token });
      if (Date.now() < soon.getTime()) {
        expectStatus(first, 200);
        user = candidate;
      } else if (lifetime >= 32_000) throw new Error("could not use a token within 32 s of making it");
    }
    if (!user) throw new Error("no token was used before its expiry");
    await new Promise((r) => setTimeout(r, soon.getTime() - Date.now() + 50));
    const late = await api("GET", LIST, { token: user.token });
    expectStatus(late, 401);
    expect(late.body.message).toMatch(/expired/);
  });

  // No route disables users yet; whatever path does calls forgetToken({ userId }) after its write.
  it("a user disabled through a src code path (forgetToken) is refused at once", async () => {
    const user = await makeUser("staff");
    expectStatus(await api("GET", LIST, { token: user.token }), 200);
    await env.DB.prepare("UPDATE users SET disabled_at = '2020-01-01T00:00:00Z' WHERE id = ?").bind(user.userId).run();
    forgetToken({ userId: user.userId });
    const next = await api("GET", LIST, { token: user.token });
    expectStatus(next, 401);
    expect(next.body.message).toMatch(/disabled/);
  });

  it("a pin toggled is seen by the next list, the token cached", async () => {
    const who = await actor("staff");
    const job = await createJob(who, fx);
    const pinned = async () => {
      const res = await api("GET", `/api/jobs/manage?action=get&uuid=${job.job_uuid}`, { token: who.token });
      expectStatus(res, 200);
      return res.body.data.is_pinned as boolean;
    };
    expect(await pinned()).toBe(false);
    expectStatus(await send(who, "POST", "/api/jobs/toggle-pin", { job_uuid: job.job_uuid }), 200);
    expect(await pinned()).toBe(true);
    const list = await api("GET", "/api/jobs/manage?action=list&pinned=true", { token: who.token });
    expect(list.body.data.map((j: { uuid: string }) => j.uuid)).toEqual([job.job_uuid]);
    expectStatus(await send(who, "POST", "/api/jobs/toggle-pin", { job_uuid: job.job_uuid }), 200);
    expect(await pinned()).toBe(false);
  });
});
