import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { makeJpeg, makePdf } from "../../scripts/lib/media-fixtures";
import { purgeIdempotencyKeys } from "../../src/http/idempotency";
import { type Actor, type ApiResponse, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";
import { auditActions, jobInStatus, jobRow } from "../support/workflow-helpers";

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
});

const count = async (sql: string, ...args: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...args)
      .first<{ n: number }>()
  )?.n ?? 0;

const jobBody = (title: string) => ({
  action: "create",
  job_title: title,
  job_description: "Retry me",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
  address_id: fx.addressId,
  contractor_id: fx.contractorId,
  contractor_budget: 180,
});

const createWithKey = (who: Actor, key: string | undefined, body: Record<string, unknown>) =>
  api("POST", "/api/jobs/manage", { token: who.token, csrf: who.csrf, body, headers: key === undefined ? {} : { "Idempotency-Key": key } });

function expectReplay(first: ApiResponse, again: ApiResponse) {
  expect(again.status).toBe(first.status);
  expect(again.body).toEqual(first.body);
  expect(again.headers.get("Idempotent-Replayed")).toBe("true");
  expect(first.headers.get("Idempotent-Replayed")).toBeNull();
}

describe("Idempotency-Key", () => {
  it("replays the first answer of a job create; the job exists once", async () => {
    const key = crypto.randomUUID();
    const first = await createWithKey(staff, key, jobBody("Idem once"));
    expectStatus(first, 201);
    const again = await createWithKey(staff, key, jobBody("Idem once"));
    expectReplay(first, again);
    // The same fields sent as a form are the same request.
    const asForm = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: jobBody("Idem once"),
      as: "form",
      headers: { "Idempotency-Key": key },
    });
    expect(asForm.status).toBe(422); // form values are strings, JSON had numbers: not the same body
    expect(await count("SELECT count(*) AS n FROM jobs WHERE job_title = ?", "Idem once")).toBe(1);
  });

  it("without a key, two creates make two jobs (as the reference shows)", async () => {
    expectStatus(await createWithKey(staff, undefined, jobBody("No key")), 201);
    expectStatus(await createWithKey(staff, undefined, jobBody("No key")), 201);
    expect(await count("SELECT count(*) AS n FROM jobs WHERE job_title = ?", "No key")).toBe(2);
  });

  it("the same key with another request is 422, and changes nothing", async () => {
    const key = crypto.randomUUID();
    expectStatus(await createWithKey(staff, key, jobBody("Idem A")), 201);
    const other = await createWithKey(staff, key, jobBody("Idem B"));
    expectStatus(other, 422);
    expect(other.body).toMatchObject({
      success: false,
      code: "UNPROCESSABLE",
      message: "Idempotency-Key was already used for a different request; use a new key",
      errors: [],
    });
    expect(await count("SELECT count(*) AS n FROM jobs WHERE job_title = ?", "Idem B")).toBe(0);
  });

  it("while the first request is in flight: 409; one that died in flight before its write is taken over after a minute", async () => {
    const key = crypto.randomUUID();
    const first = await createWithKey(staff, key, jobBody("Idem flight"));
    expectStatus(first, 201);
    // Put the key back in flight before its write, as a request still running would hold it.
    await env.DB.prepare("UPDATE idempotency_keys SET status = NULL, body = NULL, committed_at = NULL WHERE idem_key = ?").bind(key).run();
    const busy = await createWithKey(staff, key, jobBody("Idem flight"));
    expectStatus(busy, 409);
    expect(busy.body).toMatchObject({ code: "CONFLICT", message: "A request with this Idempotency-Key is still in progress; retry later" });
    await env.DB.prepare("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?").bind(key).run();
    const takenOver = await createWithKey(staff, key, jobBody("Idem flight"));
    expectStatus(takenOver, 201);
    expect(takenOver.headers.get("Idempotent-Replayed")).toBeNull();
  });

  it("the key is marked committed by the job's own batch; one that died after it is never run again (issue 25)", async () => {
    const key = crypto.randomUUID();
    const first = await createWithKey(staff, key, jobBody("Idem committed"));
    expectStatus(first, 201);
    const row = await env.DB.prepare("SELECT committed_at, created_at FROM idempotency_keys WHERE idem_key = ?")
      .bind(key)
      .first<{ committed_at: string | null; created_at: string }>();
    expect(row?.committed_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/));
    // The answer lost (the Worker died before storing it): within the lease, wait; after it, "applied".
    await env.DB.prepare("UPDATE idempotency_keys SET status = NULL, body = NULL, content_type = NULL WHERE idem_key = ?").bind(key).run();
    expectStatus(await createWithKey(staff, key, jobBody("Idem committed")), 409);
    await env.DB.prepare("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?").bind(key).run();
    const lost = await createWithKey(staff, key, jobBody("Idem committed"));
    expectStatus(lost, 409);
    expect(lost.body.errors).toEqual([{ field: "Idempotency-Key", message: "was applied; its answer was not kept" }]);
    expect(await count("SELECT count(*) AS n FROM jobs WHERE job_title = ?", "Idem committed")).toBe(1);
    // Another request under the key is still 422, not "applied".
    expectStatus(await createWithKey(staff, key, jobBody("Idem other")), 422);
  });

  it("twins sent at once: one job; the other answer is its replay or 409 in progress, never a second job", async () => {
    for (let round = 0; round < 3; round++) {
      const key = crypto.randomUUID();
      const title = `Idem twins ${round}`;
      const answers = await Promise.all([createWithKey(staff, key, jobBody(title)), createWithKey(staff, key, jobBody(title))]);
      const fresh = answers.filter((a) => a.status === 201 && a.headers.get("Idempotent-Replayed") === null);
      expect(fresh).toHaveLength(1);
      for (const other of answers.filter((a) => a !== fresh[0])) {
        if (other.status === 201) expectReplay(fresh[0] as ApiResponse, other);
        else
          expect(other.body).toMatchObject({
            code: "CONFLICT",
            message: "A request with this Idempotency-Key is still in progress; retry later",
          });
      }
      expect(await count("SELECT count(*) AS n FROM jobs WHERE job_title = ?", title)).toBe(1);
    }
  });

  it("a replayed update with If-Match replays its 200 (the change it made does not make it stale); a different body under the key is 422 before anything changes", async () => {
    const job = await createJob(staff, fx);
    const etag = (await api("GET", `/api/jobs/manage?action=get&uuid=${job.job_uuid}`, { token: staff.token })).headers.get("ETag") ?? "";
    const key = crypto.randomUUID();
    const update = (title: string) =>
      api("POST", "/api/jobs/manage", {
        token: staff.token,
        csrf: staff.csrf,
        body: { action: "update", uuid: job.job_uuid, job_title: title },
        headers: { "Idempotency-Key": key, "If-Match": etag },
      });
    const first = await update("Idem if-match");
    expectStatus(first, 200);
    const before = await jobRow(job.job_uuid);
    expectReplay(first, await update("Idem if-match"));
    expectStatus(await update("Idem something else"), 422);
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect((await auditActions(job.job_uuid)).filter((a) => a === "job.updated")).toHaveLength(1);
  });

  it("a write that changes nothing in D1 (a pin toggle lives in its Durable Object) replays too: the pin toggles once", async () => {
    const job = await createJob(staff, fx);
    const key = crypto.randomUUID();
    const toggle = (headers: Record<string, string>) =>
      api("POST", "/api/jobs/toggle-pin", { token: staff.token, csrf: staff.csrf, body: { job_uuid: job.job_uuid }, headers });
    const first = await toggle({ "Idempotency-Key": key });
    expectStatus(first, 200);
    expectReplay(first, await toggle({ "Idempotency-Key": key }));
    // Toggled once: the next toggle (a new request) takes the pin off again.
    const next = await toggle({});
    expectStatus(next, 200);
    expect(next.body).not.toEqual(first.body);
  });

  it("keys are scoped to the token: another token's same key is a new request", async () => {
    const other = await actor("staff");
    const key = crypto.randomUUID();
    const mine = await createWithKey(staff, key, jobBody("Idem scoped"));
    const theirs = await createWithKey(other, key, jobBody("Idem scoped"));
    expectStatus(mine, 201);
    expectStatus(theirs, 201);
    expect(theirs.body.job_uuid).not.toBe(mine.body.job_uuid);
  });

  it("a key is kept 24 h: expired ones are new again, and the cron purges them", async () => {
    const key = crypto.randomUUID();
    const first = await createWithKey(staff, key, jobBody("Idem expiry"));
    const row = await env.DB.prepare("SELECT created_at, expires_at FROM idempotency_keys WHERE idem_key = ?")
      .bind(key)
      .first<{ created_at: string; expires_at: string }>();
    expect(Date.parse(String(row?.expires_at)) - Date.parse(String(row?.created_at))).toBe(24 * 3_600_000);
    await env.DB.prepare("UPDATE idempotency_keys SET expires_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?").bind(key).run();
    const again = await createWithKey(staff, key, jobBody("Idem expiry"));
    expectStatus(again, 201);
    expect(again.body.job_uuid).not.toBe(first.body.job_uuid);
    await env.DB.prepare("UPDATE idempotency_keys SET expires_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?").bind(key).run();
    expect(await purgeIdempotencyKeys(env.DB)).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT count(*) AS n FROM idempotency_keys WHERE idem_key = ?", key)).toBe(0);
  });

  it("a request that fails frees its key; a malformed key is 400", async () => {
    const key = crypto.randomUUID();
    const failed = await createWithKey(staff, key, { ...jobBody("Idem fail"), address_id: 999_999 });
    expectStatus(failed, 400);
    expectStatus(await createWithKey(staff, key, jobBody("Idem fail")), 201);
    const bad = await createWithKey(staff, "has space", jobBody("Idem bad"));
    expectStatus(bad, 400);
    expect(bad.body.message).toBe("Idempotency-Key: must be 1 to 255 visible ASCII characters");
  });

  it("replays each create: case notes, photos, documents, amendment requests, recalls", async () => {
    const job = await createJob(staff, fx, { contractor_budget: 180 });
    const done = await jobInStatus(staff, fx, 6);
    const multipart = (fields: Record<string, string>, file: Uint8Array, name: string) => () => {
      // A fresh FormData per call: a retry re-encodes the body with a new boundary.
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      f.append("file", new Blob([file]), name);
      return f;
    };
    const cases: [string, Actor, string, () => Record<string, unknown> | FormData, string][] = [
      [
        "case note",
        staff,
        "/api/jobs/case-notes",
        () => ({ job_uuid: job.job_uuid, message: "Idem note" }),
        "SELECT count(*) AS n FROM case_notes",
      ],
      [
        "photo",
        staff,
        "/api/jobs/photos",
        multipart({ action: "upload", job_id: String(job.job_id) }, makeJpeg(64, 48), "a.jpg"),
        "SELECT count(*) AS n FROM photos",
      ],
      [
        "document",
        staff,
        "/api/jobs/documents",
        multipart({ action: "upload", job_id: String(job.job_id), file_type_id: "1" }, makePdf(), "a.pdf"),
        "SELECT count(*) AS n FROM documents",
      ],
      [
        "amendment request",
        contractor,
        "/api/jobs/amend-request",
        () => ({ job_uuid: job.job_uuid, field_name: "contractor_budget", requested_value: "220.00", reason: "Materials" }),
        "SELECT count(*) AS n FROM amendment_requests",
      ],
      [
        "recall",
        staff,
        "/api/jobs/recall",
        () => ({ job_uuid: done.job_uuid, recall_reason: "Leaking again" }),
        "SELECT count(*) AS n FROM recalls",
      ],
    ];
    for (const [name, who, path, body, rowsSql] of cases) {
      const key = crypto.randomUUID();
      const call = () => api("POST", path, { token: who.token, csrf: who.csrf, body: body(), headers: { "Idempotency-Key": key } });
      const first = await call();
      expect(first.status, `${name}: ${JSON.stringify(first.body)}`).toBeLessThan(300);
      // Each one's write batch carried the key's commit mark (a crash before the answer is safe too).
      expect(await count("SELECT count(*) AS n FROM idempotency_keys WHERE idem_key = ? AND committed_at IS NOT NULL", key), name).toBe(1);
      const rows = await count(rowsSql);
      const again = await call();
      expectReplay(first, again);
      expect(await count(rowsSql), name).toBe(rows);
    }
  });
});

describe("ETag and If-Match on jobs", () => {
  const get = (uuid: string) => api("GET", `/api/jobs/manage?action=get&uuid=${uuid}`, { token: staff.token });
  const update = (uuid: string, fields: Record<string, unknown>, ifMatch?: string) =>
    api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "update", uuid, ...fields },
      headers: ifMatch === undefined ? {} : { "If-Match": ifMatch },
    });
  const remove = (uuid: string, ifMatch?: string) =>
    api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid },
      headers: ifMatch === undefined ? {} : { "If-Match": ifMatch },
    });

  /** The version in an ETag `"vN"`, and the ETag of a version. */
  const versionOf = (etag: string | null) => Number(/^"v(\d+)"$/.exec(etag ?? "")?.[1]);
  const tag = (n: number) => `"v${n}"`;

  it("action=get and the update answer carry the job's ETag; it changes with every change", async () => {
    const job = await createJob(staff, fx);
    const first = (await get(job.job_uuid)).headers.get("ETag");
    expect(first).toMatch(/^"v\d+"$/);
    const updated = await update(job.job_uuid, { job_title: "Renamed" });
    expectStatus(updated, 200);
    const second = updated.headers.get("ETag");
    expect(versionOf(second)).toBe(versionOf(first) + 1);
    expect((await get(job.job_uuid)).headers.get("ETag")).toBe(second);
    // No change: the same ETag.
    expect((await update(job.job_uuid, { job_title: "Renamed" })).headers.get("ETag")).toBe(second);
  });

  it("If-Match: a stale ETag is 412 and changes nothing; the current one, or *, updates", async () => {
    const job = await createJob(staff, fx);
    const etag = (await get(job.job_uuid)).headers.get("ETag") ?? "";
    const v = versionOf(etag);
    expectStatus(await update(job.job_uuid, { job_title: "Changed by someone else" }), 200);
    const before = await jobRow(job.job_uuid);
    const audits = await auditActions(job.job_uuid);
    const stale = await update(job.job_uuid, { job_title: "My stale edit" }, etag);
    expectStatus(stale, 412);
    expect(stale.body).toMatchObject({
      success: false,
      code: "PRECONDITION_FAILED",
      message: `If-Match: the job has changed (its ETag is now ${tag(v + 1)}); read it again and retry`,
    });
    expect(await jobRow(job.job_uuid)).toEqual(before);
    expect(await auditActions(job.job_uuid)).toEqual(audits);
    // Weak tags never match for If-Match (strong comparison).
    expectStatus(await update(job.job_uuid, { job_title: "Weak" }, `W/${tag(v + 1)}`), 412);
    const fresh = await update(job.job_uuid, { job_title: "My fresh edit" }, tag(v + 1));
    expectStatus(fresh, 200);
    expect(fresh.headers.get("ETag")).toBe(tag(v + 2));
    expectStatus(await update(job.job_uuid, { job_title: "Any" }, "*"), 200);
    expectStatus(await update(job.job_uuid, { job_title: "Listed" }, `${tag(v)}, ${tag(v + 3)}`), 200);
  });

  it("a change through another operation (a recall) moves the ETag too", async () => {
    const job = await jobInStatus(staff, fx, 6);
    const etag = (await get(job.job_uuid)).headers.get("ETag") ?? "";
    const recalled = await api("POST", "/api/jobs/recall", {
      token: staff.token,
      csrf: staff.csrf,
      body: { job_uuid: job.job_uuid, recall_reason: "Leak" },
    });
    expectStatus(recalled, 200);
    expect((await get(job.job_uuid)).headers.get("ETag")).not.toBe(etag);
    expectStatus(await update(job.job_uuid, { job_title: "After recall" }, etag), 412);
  });

  it("delete with a stale If-Match is 412 and keeps the job; with the current one it deletes", async () => {
    const job = await createJob(staff, fx);
    const etag = (await get(job.job_uuid)).headers.get("ETag") ?? "";
    expectStatus(await update(job.job_uuid, { job_title: "Edited" }), 200);
    const stale = await remove(job.job_uuid, etag);
    expectStatus(stale, 412);
    expect(await jobRow(job.job_uuid)).not.toBeNull();
    expect(await auditActions(job.job_uuid)).not.toContain("job.deleted");
    const current = (await get(job.job_uuid)).headers.get("ETag") ?? "";
    expectStatus(await remove(job.job_uuid, current), 200);
    expect(await jobRow(job.job_uuid)).toBeNull();
  });
});
