/**
 * The proof under faults (issue 12), inside workerd with the real local D1, R2 and the Worker's own
 * fetch and queue handlers (src/index.ts). Faults are injected by wrapping bindings
 * (test/support/fault-env.ts): R2, D1 or the media queue producer throws on a chosen call, nothing of the
 * logic under test is replaced. The media queue is played by this file: every message the Worker
 * sends is recorded and delivered to `worker.queue` as Cloudflare would (retried messages again
 * with attempts + 1, after max_retries = 5 to the dead-letter consumer), so a scenario can run
 * until the queue is drained. Every scenario ends with the integrity checker (test/support/integrity.ts)
 * clean: no orphan object, no row pointing at nothing, no event about a record that never was, every
 * photo and video completed or failed with a reason; and with what a user sees through the API.
 *
 * Each check prints one `[faults] {...}` line with its counts (scripts/proof-faults.ts sums them).
 *
 * Covered elsewhere (not repeated here): the queue refusing an upload's message (rolled back, 503) in
 * test/api/jobs/photos/photos.test.ts; a duplicate webhook delivery message sending nothing in test/api/admin/webhooks/webhooks.test.ts;
 * a duplicate video.transcode while an attempt runs, a lost watchdog, and a retryable failure on the
 * last attempt in test/api/jobs/video-variants/video.test.ts; a real transcoder SIGKILLed mid-job in test/e2e/media.e2e.test.ts.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { makeJpeg, makeMp4, makePdf, transcoderCompleted } from "../../scripts/lib/media-fixtures";
import worker from "../../src/index";
import type { MediaMessage } from "../../src/media/messages";
import { MAX_VIDEO_ATTEMPTS } from "../../src/media/video-job";
import { type FaultRule, faultyEnv, keyMatches, sqlTouches } from "../support/fault-env";
import {
  type Actor,
  type ApiResponse,
  actor,
  api,
  createJob,
  expectStatus,
  type Fixtures,
  fetchWith,
  seedFixtures,
} from "../support/helpers";
import { checkIntegrity, counts } from "../support/integrity";

const BASE = "https://propops.test";
/** wrangler.toml: the media consumer's max_retries (deliveries = 1 + retries), then the DLQ. */
const MAX_RETRIES = 5;
/** Where the Worker dispatches videos in this file (nothing listens; the stub below answers). */
const TRANSCODER = "http://127.0.0.1:9";

let staff: Actor;
let job: { job_id: number; job_uuid: string };
let fixtures: Fixtures;

interface Queued {
  body: MediaMessage;
  attempts: number;
  delaySeconds?: number;
}
let queued: Queued[] = [];
const scenarioTotals = { deliveries: 0, retries: 0, deadLetters: 0 };

beforeAll(async () => {
  Object.assign(env, { MEDIA_SERVICE: "process", TRANSCODER_URL: TRANSCODER, PUBLIC_URL: BASE, VIDEO_WATCHDOG_SECONDS: "900" });
  const fx = await seedFixtures();
  fixtures = fx;
  staff = await actor("staff");
  job = await createJob(staff, fx, { contractor_id: fx.contractorId });
});

beforeEach(() => {
  queued = [];
  vi.spyOn(env.MEDIA_QUEUE, "send").mockImplementation(async (body: unknown, options?: QueueSendOptions) => {
    queued.push({ body: body as MediaMessage, attempts: 1, delaySeconds: options?.delaySeconds });
    return { metadata: { metrics: { backlogCount: queued.length, backlogBytes: 0 } } };
  });
  vi.spyOn(env.MEDIA_QUEUE, "sendBatch").mockImplementation(async (messages: Iterable<MessageSendRequest<unknown>>) => {
    for (const m of messages) queued.push({ body: m.body as MediaMessage, attempts: 1, delaySeconds: m.delaySeconds });
    return { metadata: { metrics: { backlogCount: queued.length, backlogBytes: 0 } } };
  });
  // Expected failures are logged by the Worker; keep the report readable.
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

// ── the queue, played as Cloudflare plays it ────────────────────────────────────────────────────

/** One delivery of one message to the Worker's queue handler (under `runEnv`). */
async function deliver(runEnv: Env, body: MediaMessage, attempts = 1, queue = "propops-media") {
  const id = `m${crypto.randomUUID()}`;
  const batch = createMessageBatch<MediaMessage>(queue, [{ id, timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  scenarioTotals.deliveries++;
  try {
    await worker.queue(batch, runEnv, ctx);
  } catch {
    // A handler that throws retries the whole batch.
    return "retried" as const;
  }
  const result = await getQueueResult(batch, ctx);
  return result.retryMessages.some((m) => m.msgId === id) ? ("retried" as const) : ("acked" as const);
}

/**
 * Delivers queued messages (those `now` accepts; the rest stay queued) until none is left: a
 * retried message comes back with attempts + 1; after the last retry it goes to the dead-letter
 * consumer. Delays are not waited for (the order is what the queue would do, sooner).
 */
async function drain(runEnv: Env = env, now: (m: MediaMessage) => boolean = () => true, limit = 100) {
  const stats = { acked: 0, retried: 0, dead: 0, delivered: [] as MediaMessage["type"][] };
  for (let n = 0; n < limit; n++) {
    const i = queued.findIndex((q) => now(q.body));
    if (i < 0) return stats;
    const [next] = queued.splice(i, 1);
    if (!next) return stats;
    // This queue plays every message at once, with no delays: the status checks of a running video
    // (video.check, every VIDEO_CHECK_SECONDS until its watchdog) would ask again without end. The
    // scenarios here prove the watchdog path; the checks have their own tests (video.test.ts, e2e).
    if (next.body.type === "video.check") continue;
    stats.delivered.push(next.body.type);
    const outcome = await deliver(runEnv, next.body, next.attempts);
    if (outcome === "acked") {
      stats.acked++;
      continue;
    }
    stats.retried++;
    scenarioTotals.retries++;
    if (next.attempts > MAX_RETRIES) {
      stats.dead++;
      scenarioTotals.deadLetters++;
      expect(await deliver(runEnv, next.body, next.attempts, "propops-media-dlq")).toBe("acked");
    } else queued.push({ ...next, attempts: next.attempts + 1 });
  }
  throw new Error(`the queue did not drain in ${limit} deliveries: ${JSON.stringify(queued.map((q) => q.body))}`);
}

/** The end of every scenario: the queue drained and the integrity checker clean. */
async function expectClean(scenario: string) {
  await drain();
  const report = await checkIntegrity(env);
  console.log(`[faults] ${JSON.stringify({ scenario, ...counts(report) })}`);
  expect(report.orphans, "orphan objects").toEqual([]);
  expect(report.dangling, "rows pointing at nothing").toEqual([]);
  expect(report.danglingEvents, "events about records that never were").toEqual([]);
  expect(report.unsettled, "media neither completed nor failed with a reason").toEqual([]);
  expect(report.transient).toEqual([]);
  return report;
}

// ── what a client does ──────────────────────────────────────────────────────────────────────────

function uploadPhoto(bytes: Uint8Array, runEnv?: Env, type = "image/jpeg", name = "photo.jpg") {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("photo_type", "before");
  form.append("file", new Blob([bytes], { type }), name);
  return api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form, env: runEnv });
}

function uploadDocument(runEnv?: Env) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("file_type_id", "1");
  form.append("file", new Blob([makePdf()], { type: "application/pdf" }), "quote.pdf");
  return api("POST", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: form, env: runEnv });
}

function createNote(files: [string, Uint8Array][], runEnv?: Env) {
  const form = new FormData();
  form.append("action", "create");
  form.append("job_uuid", job.job_uuid);
  form.append("message", "Boiler pressure checked, see the attached readings.");
  for (const [name, bytes] of files) form.append("attachments", new Blob([bytes], { type: "text/plain" }), name);
  return api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body: form, env: runEnv });
}

async function photoItem(uuid: string) {
  const res = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
  expectStatus(res, 200);
  const all = Object.values(res.body.data as Record<string, { uuid: string }[]>).flat();
  return all.find((p) => p.uuid === uuid) as Record<string, unknown> | undefined;
}

const countRows = async (sql: string, ...args: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...args)
      .first<{ n: number }>()
  )?.n ?? 0;
const events = (action: string, subject: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = ? AND instr(changes, ?) > 0", action, subject);
const keysUnder = async (prefix: string) => (await env.MEDIA.list({ prefix })).objects.map((o) => o.key);

/** The documented error envelope of an infrastructure failure: 5xx, a code, the request id in body and header. */
function expectInfrastructureError(res: ApiResponse) {
  expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(500);
  expect(res.body).toMatchObject({ success: false, code: expect.stringMatching(/^(INTERNAL|UNAVAILABLE)$/), errors: [] });
  expect(res.body.message).toEqual(expect.any(String));
  expect(res.body.request_id).toBe(res.headers.get("X-Request-Id"));
  expect(JSON.stringify(res.body)).not.toMatch(/injected fault/);
}

/** One fault, one env: answers the env and how often the fault fired. */
function withFault(rule: FaultRule) {
  const f = faultyEnv(env, [rule]);
  return { env: f.env, fired: () => f.fired(rule) };
}

// ── the transcoder, played by the test ──────────────────────────────────────────────────────────

interface Dispatch {
  job_id: string;
  attempt: number;
  outputs: Record<"1080p" | "720p" | "thumbnail", { put_url: string }>;
  callback_url: string;
}

/** A transcoder that accepts every job (202) and then never reports back, as one SIGKILLed after accepting. */
function acceptingTranscoder() {
  const dispatches: Dispatch[] = [];
  const realFetch = globalThis.fetch;
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== TRANSCODER) return realFetch(input, init);
    dispatches.push(JSON.parse(String(init?.body)) as Dispatch);
    return new Response(JSON.stringify({ accepted: true }), { status: 202 });
  });
  return dispatches;
}

const OUT = { "1080p": makeMp4(), "720p": makeMp4().subarray(0, 300), thumbnail: makeJpeg(64, 36) };

/** The transcoder's uploads, through the Worker's signed PUT route (under `runEnv`). */
async function putOutput(d: Dispatch, name: keyof typeof OUT, runEnv: Env = env) {
  const bytes = OUT[name];
  const type = name === "thumbnail" ? "image/jpeg" : "video/mp4";
  return fetchWith(
    runEnv,
    new Request(d.outputs[name].put_url, {
      method: "PUT",
      body: bytes,
      headers: { "content-type": type, "content-length": String(bytes.length) },
    }),
  );
}

const completed = (d: Dispatch) =>
  transcoderCompleted(d, { "1080p": OUT["1080p"].length, "720p": OUT["720p"].length, thumbnail: OUT.thumbnail.length });

const callback = (d: Dispatch, body: unknown, runEnv: Env = env) =>
  fetchWith(
    runEnv,
    new Request(d.callback_url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  );

async function uploadVideo() {
  const res = await uploadPhoto(makeMp4(), undefined, "video/mp4", "walkthrough.mp4");
  expectStatus(res, 201);
  return { id: res.body.photo_id as number, uuid: res.body.photo_uuid as string };
}

const variantsOf = (uuid: string) => api("GET", `/api/jobs/video-variants?uuid=${uuid}`, { token: staff.token });

// ── the scenarios ───────────────────────────────────────────────────────────────────────────────

describe("the integrity checker", () => {
  it("is clean on a consistent state and reports each kind of breakage", async () => {
    const photo = await uploadPhoto(makeJpeg(320, 240));
    expectStatus(photo, 201);
    // Before the queue ran: a pending photo is unsettled, not an error of storage.
    const early = await checkIntegrity(env);
    expect(early.unsettled.map((u) => u.uuid)).toEqual([photo.body.photo_uuid]);
    expect((await checkIntegrity(env, { drained: false })).unsettled).toEqual([]);
    const doc = await uploadDocument();
    expectStatus(doc, 201);
    await expectClean("checker: consistent state");

    // An orphan object; a row whose object is gone; a failed photo without a reason; an event about
    // a photo that never existed; a compressed copy nothing names once the photo is settled.
    const orphan = `jobs/${job.job_uuid}/documents/${crypto.randomUUID()}/stray.pdf`;
    await env.MEDIA.put(orphan, "x");
    const docKey = (
      await env.DB.prepare("SELECT r2_key FROM documents WHERE uuid = ?").bind(doc.body.document_uuid).first<{ r2_key: string }>()
    )?.r2_key as string;
    const docBytes = await (await env.MEDIA.get(docKey))?.arrayBuffer();
    await env.MEDIA.delete(docKey);
    await env.DB.prepare("UPDATE photos SET processing_status = 'failed', processing_error = '' WHERE uuid = ?")
      .bind(photo.body.photo_uuid)
      .run();
    const ghost = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO audit_events (uuid, job_uuid, actor_name, action, changes) VALUES (?, ?, 'test', 'photo.uploaded', ?)",
    )
      .bind(crypto.randomUUID(), job.job_uuid, JSON.stringify({ photo_uuid: ghost }))
      .run();
    const row = await env.DB.prepare("SELECT r2_key, compressed_key FROM photos WHERE uuid = ?")
      .bind(photo.body.photo_uuid)
      .first<{ r2_key: string; compressed_key: string | null }>();
    const stray = `${row?.r2_key.slice(0, row.r2_key.lastIndexOf("/") + 1)}720p.mp4`;
    await env.MEDIA.put(stray, "y");

    const broken = await checkIntegrity(env);
    expect(broken.orphans.sort()).toEqual([orphan, stray].sort());
    expect(broken.dangling).toEqual([
      { table: "documents", uuid: doc.body.document_uuid, column: "r2_key", key: docKey, reason: "object missing" },
    ]);
    expect(broken.unsettled).toEqual([{ uuid: photo.body.photo_uuid, kind: "image", status: "failed", error: "" }]);
    expect(broken.danglingEvents).toEqual([expect.objectContaining({ action: "photo.uploaded", subject: ghost })]);

    // While the photo is in flight, an unnamed object in its folder is work in progress.
    await env.DB.prepare("UPDATE photos SET processing_status = 'processing' WHERE uuid = ?").bind(photo.body.photo_uuid).run();
    const inFlight = await checkIntegrity(env, { drained: false });
    expect(inFlight.transient).toEqual([stray]);
    expect(inFlight.orphans).toEqual([orphan]);

    // Repaired: clean again.
    await env.MEDIA.delete([orphan, stray]);
    await env.MEDIA.put(docKey, docBytes ?? new Uint8Array());
    await env.DB.prepare("UPDATE photos SET processing_status = 'completed', processing_error = NULL WHERE uuid = ?")
      .bind(photo.body.photo_uuid)
      .run();
    await env.DB.prepare("DELETE FROM audit_events WHERE instr(changes, ?) > 0").bind(ghost).run();
    await expectClean("checker: repaired");
  });
});

describe("the queue consumer throws", () => {
  it("on the first delivery (D1 refuses the consumer's first write): retried, and the photo ends compressed", async () => {
    const res = await uploadPhoto(makeJpeg(1200, 900));
    expectStatus(res, 201);
    const fault = withFault({ binding: "DB", method: "run", match: sqlTouches("update", "photos") });
    const stats = await drain(fault.env);
    expect(fault.fired()).toBe(1);
    expect(stats).toMatchObject({ retried: 1, dead: 0, acked: 1 });
    const item = await photoItem(res.body.photo_uuid);
    expect(item).toMatchObject({ processing_status: "completed", processing_error: null, compressed_url: expect.any(String) });
    expect(await events("photo.compressed", res.body.photo_uuid)).toBe(1);
    await expectClean("consumer throws once: photo.compress retried");
  });

  it("on every delivery (R2 cannot read the original): dead-lettered, the photo failed with its reason, nothing orphaned", async () => {
    const res = await uploadPhoto(makeJpeg(640, 480));
    expectStatus(res, 201);
    const fault = withFault({
      binding: "MEDIA",
      method: "get",
      match: keyMatches(/\/original\.jpg$/),
      times: Number.POSITIVE_INFINITY,
      message: "R2 GET failed: 503 Service Unavailable",
    });
    const stats = await drain(fault.env);
    expect(fault.fired()).toBe(MAX_RETRIES + 1);
    expect(stats).toMatchObject({ retried: MAX_RETRIES + 1, dead: 1 });
    const item = await photoItem(res.body.photo_uuid);
    expect(item).toMatchObject({
      processing_status: "failed",
      processing_error: `gave up after ${MAX_RETRIES + 1} attempts: R2 GET failed: 503 Service Unavailable`,
      compressed_url: null,
    });
    expect(await events("photo.compress_failed", res.body.photo_uuid)).toBe(1);
    await expectClean("consumer throws always: photo.compress dead-lettered");
  });
});

describe("R2 and D1 out of step: uploads, note files, deletes", () => {
  it("upload: the R2 write fails: a 5xx in the error envelope, nothing recorded; the same request then succeeds", async () => {
    const before = await checkIntegrity(env);
    const fault = withFault({ binding: "MEDIA", method: "put", message: "R2 PUT failed: 503" });
    const res = await uploadPhoto(makeJpeg(200, 150), fault.env);
    expect(fault.fired()).toBe(1);
    expectInfrastructureError(res);
    expect((await checkIntegrity(env)).rows).toBe(before.rows);
    expect(queued).toEqual([]);
    const retry = await uploadPhoto(makeJpeg(200, 150));
    expectStatus(retry, 201);
    await expectClean("upload: R2 put fails");
  });

  it("upload: R2 written, then the D1 batch fails: the object is removed, a 5xx; the retry succeeds (photo and document)", async () => {
    for (const [table, send] of [
      ["photos", (e?: Env) => uploadPhoto(makeJpeg(220, 160), e)],
      ["documents", (e?: Env) => uploadDocument(e)],
    ] as const) {
      const before = await checkIntegrity(env);
      const fault = withFault({ binding: "DB", method: "batch", match: sqlTouches("insert into", table) });
      const res = await send(fault.env);
      expect(fault.fired()).toBe(1);
      expectInfrastructureError(res);
      const after = await checkIntegrity(env);
      expect([after.objects, after.rows]).toEqual([before.objects, before.rows]);
      expectStatus(await send(), 201);
    }
    await expectClean("upload: D1 batch fails after the R2 put");
  });

  it("upload: the D1 batch fails and so does the rollback's R2 delete: the removal goes through the queue", async () => {
    const before = await checkIntegrity(env);
    const f = faultyEnv(env, [
      { binding: "DB", method: "batch", match: sqlTouches("insert into", "photos") },
      { binding: "MEDIA", method: "delete" },
    ]);
    const res = await uploadPhoto(makeJpeg(240, 180), f.env);
    expectInfrastructureError(res);
    expect(queued.map((q) => q.body.type)).toEqual(["r2.cleanup"]);
    // Until the cleanup message runs, the object is an orphan: the checker sees it.
    expect((await checkIntegrity(env)).orphans).toHaveLength(1);
    await drain();
    expect((await checkIntegrity(env)).objects).toBe(before.objects);
    await expectClean("upload: D1 batch and rollback delete fail");
  });

  it("compression: R2 refuses the compressed copy after D1 marked the photo processing: retried, then completed", async () => {
    const res = await uploadPhoto(makeJpeg(1000, 750));
    expectStatus(res, 201);
    const fault = withFault({ binding: "MEDIA", method: "put", match: keyMatches(/\/compressed$/) });
    const stats = await drain(fault.env);
    expect(fault.fired()).toBe(1);
    expect(stats).toMatchObject({ retried: 1, acked: 1, dead: 0 });
    expect(await photoItem(res.body.photo_uuid)).toMatchObject({ processing_status: "completed", compressed_url: expect.any(String) });
    expect(await events("photo.compressed", res.body.photo_uuid)).toBe(1);
    await expectClean("compression: R2 put of the compressed copy fails");
  });

  it("compression: the compressed copy stored, then recording it in D1 fails: retried, then completed", async () => {
    const res = await uploadPhoto(makeJpeg(1000, 750, 92, 7));
    expectStatus(res, 201);
    const fault = withFault({
      binding: "DB",
      method: "batch",
      match: (s) => sqlTouches("update", "photos")(s) && String(s).includes('"compressed_key"'),
    });
    const stats = await drain(fault.env);
    expect(fault.fired()).toBe(1);
    expect(stats).toMatchObject({ retried: 1, acked: 1 });
    expect(await photoItem(res.body.photo_uuid)).toMatchObject({ processing_status: "completed", compressed_url: expect.any(String) });
    expect(await events("photo.compressed", res.body.photo_uuid)).toBe(1);
    await expectClean("compression: D1 record fails after the compressed put");
  });

  it("compression: the compressed copy stored, recording it fails on every delivery: failed with a reason, and the copy does not outlive it", async () => {
    const res = await uploadPhoto(makeJpeg(1000, 750, 92, 9));
    expectStatus(res, 201);
    const fault = withFault({
      binding: "DB",
      method: "batch",
      match: (s) => sqlTouches("update", "photos")(s) && String(s).includes('"compressed_key"'),
      times: Number.POSITIVE_INFINITY,
      message: "D1_ERROR: database is overloaded",
    });
    const stats = await drain(fault.env);
    expect(fault.fired()).toBe(MAX_RETRIES + 1);
    expect(stats).toMatchObject({ dead: 1 });
    expect(await photoItem(res.body.photo_uuid)).toMatchObject({
      processing_status: "failed",
      processing_error: `gave up after ${MAX_RETRIES + 1} attempts: D1_ERROR: database is overloaded`,
      compressed_url: null,
    });
    await expectClean("compression: D1 record fails on every delivery");
  });

  it("compression: a copy stored by an attempt that failed to record it, then the image is refused for good: failed, and the copy does not outlive it", async () => {
    const res = await uploadPhoto(makeJpeg(1000, 750, 92, 11));
    expectStatus(res, 201);
    const fault = withFault({
      binding: "DB",
      method: "batch",
      match: (s) => sqlTouches("update", "photos")(s) && String(s).includes('"compressed_key"'),
    });
    const [first] = queued.splice(0, 1);
    if (!first) throw new Error("no compression queued");
    expect(await deliver(fault.env, first.body, first.attempts)).toBe("retried");
    expect(fault.fired()).toBe(1);
    const row = await env.DB.prepare("SELECT r2_key FROM photos WHERE uuid = ?").bind(res.body.photo_uuid).first<{ r2_key: string }>();
    const stored = await env.MEDIA.list({ prefix: String(row?.r2_key).replace(/[^/]+$/, "") });
    expect(stored.objects.map((o) => o.key).some((k) => k.endsWith("/compressed"))).toBe(true);
    // The original is no longer an image the compressor accepts: the next attempt fails for good.
    await env.MEDIA.put(String(row?.r2_key), new TextEncoder().encode("no longer a picture"));
    expect(await deliver(env, first.body, first.attempts + 1)).toBe("acked");
    expect(await photoItem(res.body.photo_uuid)).toMatchObject({ processing_status: "failed", compressed_url: null });
    await expectClean("compression: permanent failure after an unrecorded copy");
  });

  it("case note: files stored, then the note's D1 batch fails: the files are removed, a 5xx; the retry succeeds", async () => {
    const before = await checkIntegrity(env);
    const fault = withFault({ binding: "DB", method: "batch", match: sqlTouches("insert into", "note_attachments") });
    const files: [string, Uint8Array][] = [
      ["readings.txt", new TextEncoder().encode("1.4 bar before, 1.5 bar after\n")],
      ["notes.txt", new TextEncoder().encode("valve replaced\n")],
    ];
    const res = await createNote(files, fault.env);
    expect(fault.fired()).toBe(1);
    expectInfrastructureError(res);
    const after = await checkIntegrity(env);
    expect([after.objects, after.rows]).toEqual([before.objects, before.rows]);
    expect(await countRows("SELECT count(*) AS n FROM case_notes")).toBe(0);
    const retry = await createNote(files);
    expectStatus(retry, 201);
    expect(retry.body.attachments_count).toBe(2);
    await expectClean("case note: D1 batch fails after the attachments are stored");
  });

  it("case note: the second file's R2 write fails: the first is removed, nothing recorded", async () => {
    const before = await checkIntegrity(env);
    const notes = await countRows("SELECT count(*) AS n FROM case_notes");
    const fault = withFault({ binding: "MEDIA", method: "put", nth: 2 });
    const res = await createNote(
      [
        ["a.txt", new TextEncoder().encode("first\n")],
        ["b.txt", new TextEncoder().encode("second\n")],
      ],
      fault.env,
    );
    expect(fault.fired()).toBe(1);
    expectInfrastructureError(res);
    expect((await checkIntegrity(env)).objects).toBe(before.objects);
    expect(await countRows("SELECT count(*) AS n FROM case_notes")).toBe(notes);
    await expectClean("case note: one attachment's R2 put fails");
  });

  it("case note attach: files stored, then the D1 batch fails: removed, a 5xx; the retry succeeds", async () => {
    const created = await createNote([]);
    expectStatus(created, 201);
    const attach = (e?: Env) => {
      const form = new FormData();
      form.append("action", "attach");
      form.append("uuid", created.body.note_uuid);
      form.append("attachments", new Blob(["photo of the gauge\n"], { type: "text/plain" }), "gauge.txt");
      return api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body: form, env: e });
    };
    const before = await checkIntegrity(env);
    const fault = withFault({ binding: "DB", method: "batch", match: sqlTouches("insert into", "note_attachments") });
    const res = await attach(fault.env);
    expect(fault.fired()).toBe(1);
    expectInfrastructureError(res);
    expect((await checkIntegrity(env)).objects).toBe(before.objects);
    expectStatus(await attach(), 200);
    const list = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${job.job_uuid}`, { token: staff.token });
    const note = list.body.data.find((n: { uuid?: string; note_uuid?: string }) => (n.uuid ?? n.note_uuid) === created.body.note_uuid);
    expect(note?.attachments_count).toBe(1);
    await expectClean("case note attach: D1 batch fails after the put");
  });

  it("delete: D1 row deleted, then the R2 delete fails: the removal is queued, the client gets 200, nothing is left", async () => {
    const up = await uploadPhoto(makeJpeg(300, 200));
    expectStatus(up, 201);
    await drain();
    const prefix = `jobs/${job.job_uuid}/photos/${up.body.photo_uuid}/`;
    expect((await keysUnder(prefix)).length).toBeGreaterThan(0);
    const fault = withFault({ binding: "MEDIA", method: "delete" });
    const del = await api("DELETE", "/api/jobs/photos", {
      token: staff.token,
      csrf: staff.csrf,
      body: { id: up.body.photo_id },
      env: fault.env,
    });
    expectStatus(del, 200);
    expect(fault.fired()).toBe(1);
    expect(queued.map((q) => q.body)).toEqual([{ type: "r2.cleanup", prefix }]);
    await drain();
    expect(await keysUnder(prefix)).toEqual([]);
    await expectClean("delete: R2 delete fails after the D1 delete");
  });
});

describe("the video callback and the transcoder's writes", () => {
  it("outputs stored, then recording the result in D1 fails: the callback is a 500, the transcoder's retry records it once", async () => {
    const dispatches = acceptingTranscoder();
    const v = await uploadVideo();
    await drain(env, (m) => m.type === "video.transcode");
    const d = dispatches.at(-1) as Dispatch;
    for (const name of ["1080p", "720p", "thumbnail"] as const) expect((await putOutput(d, name)).status).toBe(201);
    const fault = withFault({ binding: "DB", method: "batch", match: (s) => String(s).includes('"variants"') });
    const first = await callback(d, completed(d), fault.env);
    expect(fault.fired()).toBe(1);
    expect(first.status).toBe(500);
    // In flight: the outputs are transient, not orphans.
    const mid = await checkIntegrity(env, { drained: false });
    expect(mid.orphans).toEqual([]);
    expect(mid.transient).toHaveLength(3);
    const again = await callback(d, completed(d));
    expect(again.status).toBe(200);
    // A duplicate callback (the transcoder retried after a lost answer): no second event.
    expect(await (await callback(d, completed(d))).json()).toMatchObject({ outcome: "completed", message: "already recorded" });
    expect(await events("photo.video_processed", v.uuid)).toBe(1);
    const res = await variantsOf(v.uuid);
    expect(res.body).toMatchObject({ processing_status: "completed", processed: true });
    expect(Object.keys(res.body.variants)).toEqual(["1080p", "720p"]);
    // The watchdog of the completed attempt finds nothing to do.
    expect((await drain()).delivered).toEqual(["video.watchdog"]);
    expect(dispatches).toHaveLength(1);
    await expectClean("video callback: D1 fails after the outputs are stored");
  });

  it("an output's R2 write fails on the last attempt: failed with the reason, and the outputs already written do not outlive it", async () => {
    const dispatches = acceptingTranscoder();
    const v = await uploadVideo();
    await drain(env, (m) => m.type === "video.transcode");
    await env.DB.prepare("UPDATE photos SET processing_attempts = ? WHERE id = ?").bind(MAX_VIDEO_ATTEMPTS, v.id).run();
    const d = { ...(dispatches.at(-1) as Dispatch), attempt: MAX_VIDEO_ATTEMPTS };
    const { signCallbackUrl } = await import("../../src/media/video-callback");
    d.callback_url = await signCallbackUrl(env, { jobUuid: job.job_uuid, photoUuid: v.uuid, attempt: MAX_VIDEO_ATTEMPTS }, 600);
    // 1080p and the thumbnail land; R2 refuses the 720p.
    const fault = withFault({ binding: "MEDIA", method: "put", match: keyMatches(/\/720p\.mp4$/) });
    expect((await putOutput(d, "1080p", fault.env)).status).toBe(201);
    expect((await putOutput(d, "thumbnail", fault.env)).status).toBe(201);
    expect((await putOutput(d, "720p", fault.env)).status).toBe(500);
    expect(fault.fired()).toBe(1);
    // So the transcoder reports a retryable failure, on the last attempt.
    const res = await callback(d, {
      job_id: v.uuid,
      attempt: MAX_VIDEO_ATTEMPTS,
      status: "failed",
      error: "upload of 720p failed: HTTP 500",
      retryable: true,
    });
    expect(await res.json()).toMatchObject({ outcome: "failed" });
    expect((await variantsOf(v.uuid)).body).toMatchObject({ processing_status: "failed", processed: false, variants: [] });
    const row = await env.DB.prepare("SELECT processing_error FROM photos WHERE id = ?").bind(v.id).first<{ processing_error: string }>();
    expect(row?.processing_error).toBe(`gave up after ${MAX_VIDEO_ATTEMPTS} attempts: upload of 720p failed: HTTP 500`);
    await expectClean("video: an output's R2 put fails on the last attempt");
  });
});

describe("the transcoder dies mid-job (Worker side; the real SIGKILL is in test/e2e/media.e2e.test.ts)", () => {
  it("an attempt that never reports back is re-dispatched by the watchdog, and after the last one the video fails with the reason", async () => {
    const dispatches = acceptingTranscoder();
    const v = await uploadVideo();
    // Attempt 3's transcoder wrote one output before it died.
    let wrote = false;
    for (let round = 0; round < 3 * MAX_VIDEO_ATTEMPTS; round++) {
      const stats = await drain(env, (m) => m.type !== "video.watchdog");
      const d = dispatches.at(-1);
      if (d?.attempt === 3 && !wrote) {
        expect((await putOutput(d, "1080p")).status).toBe(201);
        wrote = true;
      }
      if (queued.length === 0 && stats.delivered.length === 0) break;
      // The watchdog's delay passes with no callback.
      await drain(env, (m) => m.type === "video.watchdog");
    }
    expect(dispatches.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5]);
    const res = await variantsOf(v.uuid);
    expect(res.body).toMatchObject({ processing_status: "failed", processed: false, variants: [] });
    const row = await env.DB.prepare("SELECT processing_error FROM photos WHERE id = ?").bind(v.id).first<{ processing_error: string }>();
    expect(row?.processing_error).toBe(
      `gave up after ${MAX_VIDEO_ATTEMPTS} attempts: the transcoder did not report back on attempt ${MAX_VIDEO_ATTEMPTS} within 900 s`,
    );
    expect(await events("photo.video_failed", v.uuid)).toBe(1);
    await expectClean("transcoder dies on every attempt: watchdog, then failed");
  });
});

describe("the cron's media sweep (a message lost for good)", () => {
  /** One run of the Worker's own cron handler at `at`. */
  async function cronAt(at: number) {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(at), cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
  }

  it("the queue refuses an upload's message and the rollback's D1 delete fails too: pending until the cron re-queues it, then compressed", async () => {
    const f = faultyEnv(env, [
      { binding: "MEDIA_QUEUE", method: "send" },
      { binding: "DB", method: "batch", match: sqlTouches("delete from", "photos") },
    ]);
    const res = await uploadPhoto(makeJpeg(240, 180, 90, 13), f.env);
    expectInfrastructureError(res);
    expect(queued).toEqual([]);
    const row = await env.DB.prepare("SELECT uuid, created_at FROM photos ORDER BY id DESC LIMIT 1").first<{
      uuid: string;
      created_at: string;
    }>();
    if (!row) throw new Error("no photo row");
    expect(await photoItem(row.uuid)).toMatchObject({ processing_status: "pending" });
    expect((await checkIntegrity(env)).unsettled).toHaveLength(1);
    // A minute on it may only be slow: left alone. Half an hour on, its message is sent again.
    await cronAt(Date.parse(row.created_at) + 60_000);
    expect(queued).toEqual([]);
    await cronAt(Date.parse(row.created_at) + 31 * 60_000);
    expect(queued.map((q) => q.body.type)).toEqual(["photo.compress"]);
    await drain();
    expect(await photoItem(row.uuid)).toMatchObject({ processing_status: "completed", compressed_url: expect.any(String) });
    await expectClean("upload: queue send and rollback both fail; the cron sweep settles it");
  });

  it("a video whose messages are all gone is re-queued only after every attempt's watchdog delay", async () => {
    const video = await uploadVideo();
    queued = []; // its video.transcode message is lost
    const row = await env.DB.prepare("SELECT created_at FROM photos WHERE id = ?").bind(video.id).first<{ created_at: string }>();
    const created = Date.parse(String(row?.created_at));
    await cronAt(created + 31 * 60_000);
    expect(queued).toEqual([]);
    await cronAt(created + (MAX_VIDEO_ATTEMPTS + 1) * 900_000 + 60_000);
    expect(queued.map((q) => q.body)).toEqual([{ type: "video.transcode", photoId: video.id }]);
    // What that message does is the dispatch scenarios' (above); here the video is removed again.
    queued = [];
    expectStatus(await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id: video.id } }), 200);
    await expectClean("video: every message lost; re-queued by the cron after its watchdog delays");
  });
});

describe("safe retries: the Worker dies after a job create committed, before its Idempotency-Key answer is stored", () => {
  const create = (key: string, title: string, runEnv?: Env) =>
    api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      headers: { "Idempotency-Key": key },
      env: runEnv,
      body: {
        action: "create",
        job_title: title,
        job_description: "Retried after a crash",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: fixtures.addressId,
      },
    });
  const jobsTitled = (title: string) => countRows("SELECT count(*) AS n FROM jobs WHERE job_title = ?", title);
  /** The in-flight lease (60 s) of the first request runs out: its claim is moved back in time. */
  const leaseExpired = (key: string) =>
    env.DB.prepare("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00Z' WHERE idem_key = ?").bind(key).run();
  const touchesKeys = (subject: unknown) => typeof subject === "string" && subject.toLowerCase().includes('"idempotency_keys"');

  /** Retries under the same key, during the lease and after it: never a second job. */
  async function expectNoSecondJob(key: string, title: string) {
    const during = await create(key, title);
    expectStatus(during, 409);
    expect(during.body.message).toBe("A request with this Idempotency-Key is still in progress; retry later");
    await leaseExpired(key);
    const after = await create(key, title);
    expectStatus(after, 409);
    expect(after.body).toMatchObject({
      code: "CONFLICT",
      message:
        "The request with this Idempotency-Key was applied, but its answer was lost: it is not run again; look up its result instead (a new key would repeat it)",
      errors: [{ field: "Idempotency-Key", message: "was applied; its answer was not kept" }],
    });
    expect(await jobsTitled(title)).toBe(1);
    const created =
      "SELECT count(*) AS n FROM audit_events WHERE action = 'job.created' AND job_uuid IN (SELECT uuid FROM jobs WHERE job_title = ?)";
    expect(await countRows(created, title)).toBe(1);
  }

  it("storing the answer fails: the client still gets its 201, and a retry after the lease creates no second job", async () => {
    const key = crypto.randomUUID();
    const title = "Crash: answer not stored";
    const fault = withFault({ binding: "DB", method: "run", match: (s) => touchesKeys(s) && String(s).toLowerCase().startsWith("update") });
    const first = await create(key, title, fault.env);
    expect(fault.fired()).toBe(1);
    expectStatus(first, 201);
    expect(await jobsTitled(title)).toBe(1);
    await expectNoSecondJob(key, title);
    await expectClean("job create: the Idempotency-Key answer not stored");
  });

  it("nothing reaches D1 after the job's batch commits (neither the answer nor the key's release): a 5xx, and a retry after the lease creates no second job", async () => {
    const key = crypto.randomUUID();
    const title = "Crash: right after the batch";
    const crash = faultyEnv(env, [
      { binding: "DB", method: "batch", match: sqlTouches("insert into", "jobs"), after: true },
      { binding: "DB", method: "run", match: touchesKeys, times: Number.POSITIVE_INFINITY },
    ]);
    const first = await create(key, title, crash.env);
    expectInfrastructureError(first);
    expect(await jobsTitled(title)).toBe(1);
    await expectNoSecondJob(key, title);
    await expectClean("job create: the Worker dies right after the batch");
  });

  it("a crash before the job's batch commits leaves nothing, not even the key: the retry creates the job once", async () => {
    const key = crypto.randomUUID();
    const title = "Crash: before the batch";
    const crash = faultyEnv(env, [
      { binding: "DB", method: "batch", match: sqlTouches("insert into", "jobs") },
      { binding: "DB", method: "run", match: touchesKeys, times: Number.POSITIVE_INFINITY },
    ]);
    expectInfrastructureError(await create(key, title, crash.env));
    expect(await jobsTitled(title)).toBe(0);
    // The key rides in the job's batch: rolled back with it, so nothing holds the key.
    expect(await countRows("SELECT count(*) AS n FROM idempotency_keys WHERE idem_key = ?", key)).toBe(0);
    const retry = await create(key, title);
    expectStatus(retry, 201);
    expect(retry.headers.get("Idempotent-Replayed")).toBeNull();
    const replay = await create(key, title);
    expectStatus(replay, 201);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(replay.body).toEqual(retry.body);
    expect(await jobsTitled(title)).toBe(1);
    await expectClean("job create: the Worker dies before the batch");
  });
});

describe("duplicate deliveries are harmless", () => {
  it("photo.compress twice: one compressed copy, one event, both acked", async () => {
    const res = await uploadPhoto(makeJpeg(900, 600, 92, 11));
    expectStatus(res, 201);
    const message = queued[0]?.body as MediaMessage;
    queued.push({ body: message, attempts: 1 });
    const stats = await drain();
    expect(stats).toMatchObject({ acked: 2, retried: 0 });
    expect(await events("photo.compressed", res.body.photo_uuid)).toBe(1);
    expect(await keysUnder(`jobs/${job.job_uuid}/photos/${res.body.photo_uuid}/`)).toHaveLength(2);
    await expectClean("duplicate photo.compress");
  });

  it("video.transcode and video.watchdog twice: one dispatch per attempt, one superseding attempt, no error", async () => {
    const dispatches = acceptingTranscoder();
    const v = await uploadVideo();
    const transcode = queued[0]?.body as MediaMessage;
    queued.push({ body: transcode, attempts: 1 });
    let stats = await drain(env, (m) => m.type === "video.transcode");
    expect(stats).toMatchObject({ acked: 2, retried: 0 });
    expect(dispatches.map((d) => d.attempt)).toEqual([1]);
    // The watchdog of attempt 1, delivered twice: attempt 2 is dispatched once.
    const watchdog = queued.find((q) => q.body.type === "video.watchdog")?.body as MediaMessage;
    queued.push({ body: watchdog, attempts: 1 });
    stats = await drain(env, (m) => m.type === "video.watchdog");
    expect(stats).toMatchObject({ acked: 2, retried: 0 });
    stats = await drain(env, (m) => m.type === "video.transcode");
    expect(stats.retried).toBe(0);
    expect(dispatches.map((d) => d.attempt)).toEqual([1, 2]);
    // Attempt 2 completes; what is still queued (its watchdog) finds nothing to do.
    const d = dispatches.at(-1) as Dispatch;
    for (const name of ["1080p", "720p", "thumbnail"] as const) expect((await putOutput(d, name)).status).toBe(201);
    expect((await callback(d, completed(d))).status).toBe(200);
    expect((await drain()).retried).toBe(0);
    expect(dispatches).toHaveLength(2);
    expect(await events("photo.video_dispatched", v.uuid)).toBe(2);
    expect(await events("photo.video_processed", v.uuid)).toBe(1);
    await expectClean("duplicate video.transcode and video.watchdog");
  });

  it("r2.cleanup twice: the second finds nothing and is acked", async () => {
    const up = await uploadPhoto(makeJpeg(300, 220, 92, 13));
    expectStatus(up, 201);
    await drain();
    const fault = withFault({ binding: "MEDIA", method: "delete" });
    expectStatus(
      await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id: up.body.photo_id }, env: fault.env }),
      200,
    );
    const cleanup = queued[0]?.body as MediaMessage;
    expect(cleanup.type).toBe("r2.cleanup");
    queued.push({ body: cleanup, attempts: 1 });
    expect(await drain()).toMatchObject({ acked: 2, retried: 0 });
    await expectClean("duplicate r2.cleanup");
  });
});

afterAll(() => {
  console.log(`[faults-queue] ${JSON.stringify(scenarioTotals)}`);
});
