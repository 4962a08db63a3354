/**
 * Token management (`/api/security/tokens`): list, create named/narrowed/expiring tokens, revoke.
 * A token never shows its secret after creation, never mints a wider or longer-lived token, and
 * other users' tokens are not found unless the caller is an administrator.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { type Actor, actor, api, csrfFor, expectStatus, makeUser } from "../../support/helpers";

const list = (who: { token: string }, query = "") => api("GET", `/api/security/tokens?action=list${query}`, { token: who.token });
const post = (who: Actor, body: Record<string, unknown>, as: "json" | "form" = "json") =>
  api("POST", "/api/security/tokens", { token: who.token, csrf: who.csrf, body, as });
const withCsrf = async (user: { token: string }) => ({ ...user, csrf: await csrfFor(user.token) }) as Actor;

const DAY = 86_400_000;

describe("GET /api/security/tokens", () => {
  it("lists the caller's own tokens, never their secret or hash, marking the current one", async () => {
    const staff = await actor("staff");
    const res = await list(staff);
    expectStatus(res, 200);
    expect(res.body.count).toBe(1);
    const [item] = res.body.data;
    expect(item.is_current).toBe(true);
    expect(item.narrowed).toBe(false);
    expect(item.permissions).toContain("api.jobs.manage.list");
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(staff.token);
    expect(Object.keys(item).sort()).toEqual(
      ["created_at", "expires_at", "is_current", "last_used_at", "name", "narrowed", "permissions", "revoked_at", "uuid"].sort(),
    );
  });

  it("records when a token was last used", async () => {
    const staff = await makeUser("staff");
    await list(staff);
    // The write happens after the answer (waitUntil): poll, bounded generously (a loaded machine).
    const seen = await vi.waitFor(
      async () => {
        const row = await env.DB.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?")
          .bind(staff.tokenId)
          .first<{ last_used_at: string | null }>();
        expect(row?.last_used_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        return row?.last_used_at;
      },
      { timeout: 20_000, interval: 50 },
    );
    const res = await list(staff);
    expect(res.body.data[0].last_used_at).toBe(seen);
  });

  it("another user's tokens: administrators only", async () => {
    const staff = await actor("staff");
    const other = await makeUser("contractor");
    const admin = await actor("admin");
    expectStatus(await list(staff, `&user_uuid=${other.userUuid}`), 403);
    const res = await list(admin, `&user_uuid=${other.userUuid}`);
    expectStatus(res, 200);
    expect(res.body.count).toBe(1);
    expect(res.body.data[0].is_current).toBe(false);
    expect(res.body.data[0].permissions).not.toContain("api.jobs.recall.manage");
    expectStatus(await list(admin, `&user_uuid=${crypto.randomUUID()}`), 404);
  });

  it("leaves out revoked and expired tokens unless asked", async () => {
    const staff = await actor("staff");
    await env.DB.prepare(
      "INSERT INTO api_tokens (uuid, user_id, name, token_hash, expires_at, revoked_at) VALUES (?, (SELECT user_id FROM api_tokens WHERE id = ?), 'old', ?, ?, ?), (?, (SELECT user_id FROM api_tokens WHERE id = ?), 'gone', ?, NULL, '2020-01-01T00:00:00Z')",
    )
      .bind(
        crypto.randomUUID(),
        staff.tokenId,
        `h${crypto.randomUUID()}`,
        "2020-01-01T00:00:00Z",
        null,
        crypto.randomUUID(),
        staff.tokenId,
        `h${crypto.randomUUID()}`,
      )
      .run();
    expect((await list(staff)).body.count).toBe(1);
    const all = await list(staff, "&include_revoked=true");
    expect(all.body.count).toBe(3);
    expect(all.body.data.map((t: { name: string }) => t.name).sort()).toEqual(["gone", "old", "test"]);
  });

  it("refuses unknown actions and bad paging with field errors", async () => {
    const staff = await makeUser("staff");
    expectStatus(await api("GET", "/api/security/tokens?action=dump", { token: staff.token }), 400);
    expectStatus(await list(staff, "&limit=0"), 400);
    expectStatus(await api("GET", "/api/security/tokens?action=list", {}), 401);
  });
});

describe("POST /api/security/tokens action=create", () => {
  it("creates a named token that works, shown once, expiring in 90 days by default (form body)", async () => {
    const staff = await actor("staff");
    const res = await post(staff, { action: "create", name: "Ops board", csrf_token: staff.csrf }, "form");
    expectStatus(res, 201);
    expect(res.body.token).toMatch(/^pp_[0-9a-f]{32}_/);
    expect(res.body.token_info.name).toBe("Ops board");
    expect(res.body.token_info.narrowed).toBe(false);
    const expires = Date.parse(res.body.token_info.expires_at);
    expect(Math.abs(expires - (Date.now() + 90 * DAY))).toBeLessThan(60_000);
    expectStatus(await api("GET", "/api/jobs/manage?action=list&limit=1", { token: res.body.token }), 200);
    const listed = await list(staff);
    expect(listed.body.count).toBe(2);
    expect(JSON.stringify(listed.body)).not.toContain(res.body.token);
  });

  it("narrows: the new token holds only what it names", async () => {
    const staff = await actor("staff");
    const res = await post(staff, { action: "create", name: "Read jobs", permissions: ["api.jobs.manage.list"], expires_days: 7 });
    expectStatus(res, 201);
    expect(res.body.token_info.permissions).toEqual(["api.jobs.manage.list"]);
    expect(res.body.token_info.narrowed).toBe(true);
    const narrow = res.body.token as string;
    expectStatus(await api("GET", "/api/jobs/manage?action=list&limit=1", { token: narrow }), 200);
    expectStatus(await api("GET", "/api/jobs/sla-status", { token: narrow }), 403);
    // Without api.security.tokens.manage it cannot mint anything.
    expectStatus(await post(await withCsrf({ token: narrow }), { action: "create", name: "x" }), 403);
  });

  it("never widens: a narrowed token cannot mint a permission it lacks, and its children stay narrowed", async () => {
    const narrowed = await actor("staff", { permissions: ["api.jobs.manage.list", "api.security.tokens.manage"] });
    const wider = await post(narrowed, { action: "create", name: "wider", permissions: ["api.jobs.manage.manage"] });
    expectStatus(wider, 400);
    expect(wider.body.errors).toEqual([{ field: "permissions", message: "your token does not hold api.jobs.manage.manage" }]);
    const child = await post(narrowed, { action: "create", name: "child" });
    expectStatus(child, 201);
    expect(child.body.token_info.permissions.sort()).toEqual(["api.jobs.manage.list", "api.security.tokens.manage"]);
    expect(child.body.token_info.narrowed).toBe(true);
    // A contractor cannot mint an administrator's permission either.
    const contractor = await actor("contractor");
    expectStatus(await post(contractor, { action: "create", name: "x", permissions: ["api.admin.webhooks"] }), 400);
    // Nothing was stored by the refusals.
    expect((await list(narrowed)).body.count).toBe(2);
  });

  it("never outlives the token creating it", async () => {
    const soon = new Date(Date.now() + 2 * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");
    const short = await actor("agent", { expiresAt: soon });
    const clamped = await post(short, { action: "create", name: "default" });
    expectStatus(clamped, 201);
    expect(clamped.body.token_info.expires_at).toBe(soon);
    const explicit = await post(short, { action: "create", name: "long", expires_days: 30 });
    expectStatus(explicit, 400);
    expect(explicit.body.errors[0].field).toBe("expires_days");
    expectStatus(await post(short, { action: "create", name: "ok", expires_days: 1 }), 201);
  });

  it("refuses bad input and changes nothing", async () => {
    const staff = await actor("staff");
    for (const body of [
      { action: "create" },
      { action: "create", name: "" },
      { action: "create", name: "x", expires_days: 0 },
      { action: "create", name: "x", expires_days: 366 },
      { action: "create", name: "x", expires_days: "soon" },
      { action: "create", name: "x", permissions: ["api.everything"] },
      { action: "create", name: "x", permissions: [] },
      { action: "create", name: "x", token_hash: "mine" },
      { action: "mint", name: "x" },
    ]) {
      const res = await post(staff, body);
      expectStatus(res, 400);
    }
    expect((await list(staff)).body.count).toBe(1);
  });

  it("needs a CSRF token of the same API token", async () => {
    const staff = await actor("staff");
    const other = await actor("staff");
    expectStatus(await api("POST", "/api/security/tokens", { token: staff.token, body: { action: "create", name: "x" } }), 403);
    expectStatus(
      await api("POST", "/api/security/tokens", { token: staff.token, csrf: other.csrf, body: { action: "create", name: "x" } }),
      403,
    );
    expect((await list(staff)).body.count).toBe(1);
  });

  it(`caps a user's active tokens`, async () => {
    const staff = await actor("staff");
    for (let i = 1; i < 25; i++) expectStatus(await post(staff, { action: "create", name: `t${i}` }), 201);
    const res = await post(staff, { action: "create", name: "one too many" });
    expectStatus(res, 409);
    expect(res.body.message).toContain("revoke one first");
  });
});

describe("POST /api/security/tokens action=revoke", () => {
  it("revokes one of the caller's tokens at once; a second revocation keeps the first time", async () => {
    const staff = await actor("staff");
    const made = await post(staff, { action: "create", name: "to revoke" });
    const uuid = made.body.token_info.uuid;
    const res = await post(staff, { action: "revoke", uuid });
    expectStatus(res, 200);
    expect(res.body.token_info.revoked_at).toMatch(/Z$/);
    const again = await post(staff, { action: "revoke", uuid });
    expectStatus(again, 200);
    expect(again.body.token_info.revoked_at).toBe(res.body.token_info.revoked_at);
    const refused = await api("GET", "/api/jobs/manage?action=list&limit=1", { token: made.body.token });
    expectStatus(refused, 401);
    expect(refused.body.message).toContain("revoked");
  });

  it("another user's token is not found, unless the caller is an administrator", async () => {
    const staff = await actor("staff");
    const victim = await actor("contractor");
    const theirs = (await list(victim)).body.data[0].uuid;
    expectStatus(await post(staff, { action: "revoke", uuid: theirs }), 404);
    expectStatus(await api("GET", "/api/jobs/manage?action=list&limit=1", { token: victim.token }), 200);
    const admin = await actor("admin");
    expectStatus(await post(admin, { action: "revoke", uuid: theirs }), 200);
    expectStatus(await api("GET", "/api/jobs/manage?action=list&limit=1", { token: victim.token }), 401);
    expectStatus(await post(staff, { action: "revoke", uuid: crypto.randomUUID() }), 404);
  });
});
