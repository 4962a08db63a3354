import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../../src/auth/tokens";
import { actor, createJob, type Fixtures, makeUser, seedFixtures, type TestUser } from "../support/helpers";

const PATH = "https://propops.test/api/security/csrf-token";
const TOKEN_LIMIT = Number(env.RATE_LIMIT_PER_TOKEN);
const UNVERIFIED_LIMIT = Number(env.RATE_LIMIT_UNVERIFIED);

const call = (authorization: string | undefined, address?: string) =>
  exports.default.fetch(
    new Request(PATH, {
      headers: { ...(authorization !== undefined ? { authorization } : {}), ...(address ? { "cf-connecting-ip": address } : {}) },
    }),
  );

/** The bindings count in wall-clock windows: start a test early in one so it does not straddle two. */
async function freshWindow(needSeconds = 25) {
  const into = (Date.now() / 1000) % 60;
  if (into > 60 - needSeconds) await new Promise((r) => setTimeout(r, (60 - into) * 1000 + 50));
}

async function expectLimited(res: Response, policy: string) {
  expect(res.status).toBe(429);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ success: false, code: "RATE_LIMITED", errors: [] });
  expect(String(body.message)).toMatch(new RegExp(`^Too many requests \\(${policy} limit`));
  const retryAfter = Number(res.headers.get("Retry-After"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers.get("RateLimit")).toBe(`"${policy}";r=0;t=${retryAfter}`);
  expect(res.headers.get("RateLimit-Policy")).toContain(`"${policy}";q=`);
}

let user: TestUser;
let fx: Fixtures;
/** A job of another contractor: what a prober of ids gets 404 for. */
let foreignJob: { job_uuid: string };
beforeAll(async () => {
  user = await makeUser("staff");
  fx = await seedFixtures();
  foreignJob = await createJob(await actor("staff"), fx, { contractor_id: fx.otherContractorId });
});

const at = (path: string, token: string, init: { method?: string; address?: string } = {}) =>
  exports.default.fetch(
    new Request(`https://propops.test${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.address ? { "cf-connecting-ip": init.address } : {}),
        ...(init.method && init.method !== "GET" ? { "content-type": "application/json" } : {}),
      },
      body: init.method && init.method !== "GET" ? "{}" : undefined,
    }),
  );

describe("rate limits", () => {
  it("announces the policies on every answer", async () => {
    const res = await call(`Bearer ${user.token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit-Policy")).toBe(
      `"address";q=${env.RATE_LIMIT_PER_ADDRESS};w=60, "unverified";q=${UNVERIFIED_LIMIT};w=60, "token";q=${TOKEN_LIMIT};w=60`,
    );
  });

  it("keys the token limit on the verified token: no spelling of Authorization gets a fresh allowance", { timeout: 120_000 }, async () => {
    const own = await makeUser("agent");
    await freshWindow();
    const spellings = [
      `Bearer ${own.token}`,
      `bearer ${own.token}`,
      `BEARER ${own.token}`,
      `Bearer  ${own.token}`,
      `Bearer\t${own.token}`,
      `  bEaReR ${own.token} `,
    ];
    const statuses: number[] = [];
    for (let i = 0; i < TOKEN_LIMIT; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => call(spellings[(i + j) % spellings.length])));
      statuses.push(...batch.map((r) => r.status));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    for (const spelling of spellings) await expectLimited(await call(spelling), "token");
    // Another token (the same address, none here) is untouched.
    expect((await call(`Bearer ${user.token}`)).status).toBe(200);
  });

  it("limits floods of bogus tokens per client address before authentication", { timeout: 120_000 }, async () => {
    await freshWindow();
    const address = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < UNVERIFIED_LIMIT + 30; i += 30) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => call(`Bearer ${generateToken(crypto.randomUUID())}`, address)));
      statuses.push(...batch.map((r) => r.status));
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(UNVERIFIED_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    await expectLimited(await call(`Bearer ${generateToken(crypto.randomUUID())}`, address), "unverified");
    // No token at all counts the same.
    await expectLimited(await call(undefined, address), "unverified");
    // Other addresses are not affected, and a token already verified here is not locked out by the flood.
    expect((await call(`Bearer ${generateToken(crypto.randomUUID())}`, "198.51.100.9")).status).toBe(401);
    expect((await call(`Bearer ${user.token}`, address)).status).toBe(200);
  });

  it("counts every authenticated request against its token, whatever it answers (404, 400, 403)", { timeout: 120_000 }, async () => {
    const prober = await makeUser("contractor", { contractorId: fx.contractorId });
    await freshWindow();
    // Probing another contractor's job (404), a malformed id (400), a route the role lacks (403 read
    // and 403 write): none of them may escape the token's allowance.
    const probes = [
      () => at(`/api/jobs/manage?action=get&uuid=${foreignJob.job_uuid}`, prober.token),
      () => at("/api/jobs/manage?action=get&uuid=not-a-uuid", prober.token),
      () => at(`/api/jobs/remedials?action=list&job_uuid=${foreignJob.job_uuid}`, prober.token),
      () => at("/api/jobs/recall", prober.token, { method: "POST" }),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < TOKEN_LIMIT; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => (probes[(i + j) % probes.length] as () => Promise<Response>)()));
      statuses.push(...batch.map((r) => r.status));
    }
    expect(new Set(statuses)).toEqual(new Set([404, 400, 403]));
    for (const probe of probes) await expectLimited(await probe(), "token");
    // …and the token's next good request is over the limit too.
    await expectLimited(await call(`Bearer ${prober.token}`), "token");
  });

  it("marks a token verified as soon as it authenticates, even if all its requests fail", { timeout: 120_000 }, async () => {
    const prober = await makeUser("contractor", { contractorId: fx.contractorId });
    await freshWindow();
    const address = "203.0.113.77";
    const statuses: number[] = [];
    for (let i = 0; i < UNVERIFIED_LIMIT + 60; i += 30) {
      const batch = await Promise.all(
        Array.from({ length: 30 }, () => at(`/api/jobs/manage?action=get&uuid=${foreignJob.job_uuid}`, prober.token, { address })),
      );
      statuses.push(...batch.map((r) => r.status));
    }
    // Not the 120/min bucket of unknown tokens: a real token failing its reads is counted per token.
    expect(statuses.filter((s) => s !== 404)).toEqual([]);
  });
});
