import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { compressImage } from "@propops/media-core/photo-compressor";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  ascii,
  concat,
  contains,
  EXIF_MARKER,
  hasExif,
  makeJpeg,
  makeMp4,
  makePng,
  makeZip,
  pngBomb,
  withExif,
} from "../../../../scripts/lib/media-fixtures";
import worker from "../../../../src/index";
import type { MediaMessage } from "../../../../src/media/messages";
import { handlePhotoCompress } from "../../../../src/media/photo-job";
import { consumeDeadLetters } from "../../../../src/media/queue";
import { createServices } from "../../../../src/platform/services";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, makeUser, seedFixtures } from "../../../support/helpers";

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let otherContractor: Actor;
let job: { job_id: number; job_uuid: string };
let otherJob: { job_id: number; job_uuid: string };

beforeAll(async () => {
  // Tests reach the media service as a plain process at TRANSCODER_URL (containers need Docker).
  Object.assign(env, { MEDIA_SERVICE: "process" });
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId });
  job = await createJob(staff, fx, { contractor_id: fx.contractorId });
  otherJob = await createJob(staff, fx, { contractor_id: fx.otherContractorId, job_title: "Roof repair - other contractor" });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function upload(who: Actor, fields: Record<string, string | Blob>, filename = "photo.jpg") {
  const form = new FormData();
  form.append("action", "upload");
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Blob) form.append(k, v, filename);
    else form.append(k, v);
  }
  return api("POST", "/api/jobs/photos", { token: who.token, csrf: who.csrf, body: form });
}

const blob = (bytes: Uint8Array, type = "image/jpeg") => new Blob([bytes], { type });

async function keysUnder(prefix: string) {
  return (await env.MEDIA.list({ prefix })).objects.map((o) => o.key);
}

async function photoRow(id: number) {
  return env.DB.prepare("SELECT * FROM photos WHERE id = ?").bind(id).first<Record<string, string | number | null>>();
}

async function waitFor(id: number, statuses: string[], timeoutMs = 20_000) {
  const start = Date.now();
  for (;;) {
    const row = await photoRow(id);
    if (row && statuses.includes(String(row.processing_status))) return row;
    if (Date.now() - start > timeoutMs) throw new Error(`photo ${id} still ${row?.processing_status} (${row?.processing_error})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The media container, played by this test: it speaks the same protocol as transcoder/src/images.ts
 * (download the signed GET URL, compress with the same photon code, PUT to the signed URL) and reaches
 * the Worker's internal routes through its own fetch.
 */
function fakeContainer() {
  const realFetch = globalThis.fetch;
  const calls: Record<string, unknown>[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== new URL(env.TRANSCODER_URL).origin) return realFetch(input, init);
    const req = JSON.parse(String(init?.body)) as { source_url: string; put_url: string; photo_id: number };
    calls.push(req);
    const source = await exports.default.fetch(new Request(req.source_url));
    if (!source.ok) return Response.json({ error: `source ${source.status}` }, { status: 502 });
    const r = compressImage(new Uint8Array(await source.arrayBuffer()));
    if (r.outcome === "compressed") {
      const put = await exports.default.fetch(
        new Request(req.put_url, {
          method: "PUT",
          body: r.bytes,
          headers: { "content-type": r.contentType, "content-length": String(r.bytes.length) },
        }),
      );
      if (!put.ok) return Response.json({ error: `put ${put.status}` }, { status: 502 });
    }
    return Response.json({
      outcome: r.outcome,
      content_type: r.contentType,
      width: r.width,
      height: r.height,
      output_width: r.outputWidth,
      output_height: r.outputHeight,
      bytes_before: r.bytesBefore,
      bytes_after: r.bytesAfter,
    });
  });
  return calls;
}

async function fileBytes(who: { token: string }, url: string) {
  const res = await exports.default.fetch(new Request(`https://propops.test${url}`, { headers: { Authorization: `Bearer ${who.token}` } }));
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe("photo upload and compression", () => {
  it("compresses a camera-sized JPEG through the queue in the media container: smaller, re-encoded, EXIF/GPS gone, upright", async () => {
    const calls = fakeContainer();
    const original = withExif(makeJpeg(4000, 3000, 95), 6);
    expect(hasExif(original)).toBe(true);
    const res = await upload(contractor, { job_id: String(job.job_id), photo_type: "before", file: blob(original) }, "IMG_0001.jpg");
    expectStatus(res, 201);
    expect(res.body).toMatchObject({ success: true, processing_status: "pending", message: "Photo uploaded" });
    expect(res.body.photo_uuid).toMatch(/^[0-9a-f-]{36}$/);

    const row = await waitFor(res.body.photo_id, ["completed", "failed"]);
    expect(row.processing_status, String(row.processing_error)).toBe("completed");
    expect(calls).toHaveLength(1); // 12 MP is above the Worker budget: the container compressed it
    expect(row).toMatchObject({ width: 3000, height: 4000, compressed_width: 1536, compressed_height: 2048, size: original.length });
    expect(Number(row.compressed_size)).toBeLessThan(original.length);
    expect(await keysUnder(`jobs/${job.job_uuid}/photos/${res.body.photo_uuid}/`)).toEqual([
      `jobs/${job.job_uuid}/photos/${res.body.photo_uuid}/compressed`,
      `jobs/${job.job_uuid}/photos/${res.body.photo_uuid}/original.jpg`,
    ]);

    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: contractor.token });
    expectStatus(list, 200);
    const item = list.body.data.before.find((p: { uuid: string }) => p.uuid === res.body.photo_uuid);
    expect(item).toMatchObject({ kind: "image", filename: "IMG_0001.jpg", content_type: "image/jpeg", processing_status: "completed" });
    // Auto-compressed on ingest: `url` now serves the compressed copy; the original stays at original_url.
    expect(item.url).toBe(item.compressed_url);
    const compressed = await fileBytes(contractor, item.url);
    expect(compressed.res.status).toBe(200);
    expect(compressed.res.headers.get("content-type")).toBe("image/jpeg");
    expect(compressed.res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(compressed.bytes.length).toBe(Number(row.compressed_size));
    expect(hasExif(compressed.bytes)).toBe(false);
    expect(contains(compressed.bytes, ascii(EXIF_MARKER))).toBe(false);
    expect([compressed.bytes[0], compressed.bytes[1]]).toEqual([0xff, 0xd8]);

    const orig = await fileBytes(contractor, item.original_url);
    expect(orig.bytes).toEqual(original);
    expect(orig.res.headers.get("content-disposition")).toBe(`inline; filename="IMG_0001.jpg"; filename*=UTF-8''IMG_0001.jpg`);
  });

  it("compresses an image within the Worker budget inside the isolate (no container call)", async () => {
    const calls = fakeContainer();
    const original = withExif(makeJpeg(1200, 900, 97, 3), 1);
    const res = await upload(staff, { job_id: String(job.job_id), photo_type: "after", file: blob(original) });
    expectStatus(res, 201);
    const row = await waitFor(res.body.photo_id, ["completed", "failed"]);
    expect(row.processing_status, String(row.processing_error)).toBe("completed");
    expect(calls).toHaveLength(0);
    expect(Number(row.compressed_size)).toBeLessThan(original.length);
    const stored = await env.MEDIA.get(String(row.compressed_key));
    const bytes = new Uint8Array(await (stored as R2ObjectBody).arrayBuffer());
    expect(hasExif(bytes)).toBe(false);
  });

  it("the list's url serves the original until the queue has compressed the photo, then the compressed copy", async () => {
    // Hold the upload's message, to see the list before compression; then deliver it to the real consumer.
    const held: MediaMessage[] = [];
    const spy = vi.spyOn(env.MEDIA_QUEUE, "send").mockImplementation(async (m: unknown) => {
      held.push(m as MediaMessage);
      return { metadata: { metrics: { backlogCount: held.length, backlogBytes: 0 } } } as QueueSendResponse;
    });
    const fresh = await createJob(staff, fx, { contractor_id: fx.contractorId });
    const original = withExif(makeJpeg(1200, 900, 97, 5), 1);
    const res = await upload(contractor, { job_id: String(fresh.job_id), photo_type: "before", file: blob(original) }, "meter.jpg");
    spy.mockRestore();
    expectStatus(res, 201);
    const uuid = res.body.photo_uuid;
    const item = async () => {
      const list = await api("GET", `/api/jobs/photos?job_id=${fresh.job_id}`, { token: contractor.token });
      expectStatus(list, 200);
      return list.body.data.before[0];
    };

    const pending = await item();
    expect(pending).toMatchObject({
      uuid,
      processing_status: "pending",
      url: `/api/jobs/photos/file?uuid=${uuid}&variant=original`,
      original_url: `/api/jobs/photos/file?uuid=${uuid}&variant=original`,
      compressed_url: null,
    });
    expect((await fileBytes(contractor, pending.url)).bytes).toEqual(original);

    expect(held).toEqual([{ type: "photo.compress", photoId: res.body.photo_id }]);
    const batch = createMessageBatch<MediaMessage>("propops-media", [
      { id: "held", timestamp: new Date(), attempts: 1, body: { type: "photo.compress", photoId: res.body.photo_id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["held"]);

    const done = await item();
    expect(done).toMatchObject({
      processing_status: "completed",
      url: `/api/jobs/photos/file?uuid=${uuid}&variant=compressed`,
      original_url: `/api/jobs/photos/file?uuid=${uuid}&variant=original`,
      compressed_url: `/api/jobs/photos/file?uuid=${uuid}&variant=compressed`,
    });
    const shown = await fileBytes(contractor, done.url);
    expect(shown.res.status).toBe(200);
    expect(shown.bytes.length).toBe(done.compressed_size);
    expect(shown.bytes.length).toBeLessThan(original.length);
    expect(hasExif(shown.bytes)).toBe(false);
    expect((await fileBytes(contractor, done.original_url)).bytes).toEqual(original);
  });

  it("documents url, original_url and compressed_url in the OpenAPI document", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expectStatus(doc, 200);
    const op = doc.body.paths["/api/jobs/photos"].get;
    expect(op.description).toMatch(/`url` serves the compressed copy once it exists/);
    const item = op.responses["200"].content["application/json"].schema.properties.data.properties.before.items;
    expect(item.required).toEqual(expect.arrayContaining(["url", "original_url", "compressed_url"]));
    expect(item.properties.url.description).toMatch(/^The photo to show .*compressed.*else the original/);
    expect(item.properties.original_url.description).toBe("The original upload's bytes, always (GET, same bearer token)");
  });

  it("keeps a transparent PNG lossless (PNG in, PNG out)", async () => {
    const png = makePng(900, 600, { alpha: true });
    const res = await upload(staff, { job_id: String(job.job_id), photo_type: "during", file: blob(png, "image/png") }, "plan.png");
    expectStatus(res, 201);
    const row = await waitFor(res.body.photo_id, ["completed", "failed"]);
    expect(row.processing_status).toBe("completed");
    if (row.compressed_key) {
      const stored = (await env.MEDIA.get(String(row.compressed_key))) as R2ObjectBody;
      expect(stored.httpMetadata?.contentType).toBe("image/png");
    }
    expect(Number(row.compressed_size)).toBeLessThanOrEqual(png.length);
  });

  it("groups the list by type, counts, and feeds photos_count / has_photos on the jobs list", async () => {
    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
    expectStatus(list, 200);
    expect(Object.keys(list.body.data)).toEqual(["before", "during", "after", "other"]);
    expect(list.body.count).toBe(3);
    expect(list.body.data.before).toHaveLength(1);
    expect(list.body.data.during).toHaveLength(1);
    expect(list.body.data.after).toHaveLength(1);
    const jobs = await api("GET", "/api/jobs/manage?action=list&has_photos=true", { token: staff.token });
    const mine = jobs.body.data.find((j: { uuid: string }) => j.uuid === job.job_uuid);
    expect(mine.photos_count).toBe(3);
    expect(jobs.body.data.some((j: { uuid: string }) => j.uuid === otherJob.job_uuid)).toBe(false);
  });

  it("MP4: stored as a video, handed to the video pipeline (video.transcode), pending", async () => {
    const sent: MediaMessage[] = [];
    // The video pipeline is another issue's: record what was queued instead of delivering it.
    const spy = vi.spyOn(env.MEDIA_QUEUE, "send").mockImplementation(async (m: unknown) => {
      sent.push(m as MediaMessage);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as QueueSendResponse;
    });
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(makeMp4(), "video/mp4") }, "walkthrough.mp4");
    spy.mockRestore();
    expectStatus(res, 201);
    expect(sent).toEqual([{ type: "video.transcode", photoId: res.body.photo_id }]);
    const row = await photoRow(res.body.photo_id);
    expect(row).toMatchObject({ kind: "video", content_type: "video/mp4", processing_status: "pending", photo_type: "other" });
    expect(String(row?.r2_key)).toMatch(/\/original\.mp4$/);
  });
});

describe("viewing permissions", () => {
  it("api.jobs.photos.view fetches bytes but cannot list (the reference gates the list on manage)", async () => {
    const viewer = await makeUser("staff", { permissions: ["api.jobs.photos.view"] });
    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
    const item = list.body.data.before[0];
    const file = await fileBytes(viewer, item.url);
    expect(file.res.status).toBe(200);
    const denied = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: viewer.token });
    expectStatus(denied, 403);
    expect(denied.body.message).toBe("Missing permission: api.jobs.photos.manage");
    const noView = await makeUser("staff", { permissions: ["api.jobs.photos.manage"] });
    const res = await api("GET", item.url, { token: noView.token });
    expectStatus(res, 403);
  });

  it("serves byte ranges so players can seek (206 with Content-Range; 416 past the end)", async () => {
    const res = await upload(staff, { job_id: String(job.job_id), photo_type: "after", file: blob(makeJpeg(64, 48)) }, "range.jpg");
    expectStatus(res, 201);
    const item = { url: `/api/jobs/photos/file?uuid=${res.body.photo_uuid}&variant=original` };
    const whole = await fileBytes(staff, item.url);
    expect(whole.res.status).toBe(200);
    expect(whole.res.headers.get("accept-ranges")).toBe("bytes");
    const ranged = async (range: string) =>
      exports.default.fetch(
        new Request(`https://propops.test${item.url}`, { headers: { Authorization: `Bearer ${staff.token}`, Range: range } }),
      );
    const first = await ranged("bytes=0-9");
    expect(first.status).toBe(206);
    expect(first.headers.get("content-range")).toBe(`bytes 0-9/${whole.bytes.length}`);
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(whole.bytes.slice(0, 10));
    const tail = await ranged("bytes=-4");
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(whole.bytes.slice(-4));
    const open = await ranged(`bytes=${whole.bytes.length - 3}-`);
    expect(open.headers.get("content-range")).toBe(`bytes ${whole.bytes.length - 3}-${whole.bytes.length - 1}/${whole.bytes.length}`);
    const beyond = await ranged(`bytes=${whole.bytes.length + 10}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${whole.bytes.length}`);
    await beyond.arrayBuffer();
  });

  it("a contractor deletes only the photos they uploaded; the agency's stay (403), and a deletion is an event", async () => {
    const agencyPhoto = await upload(staff, { job_id: String(job.job_id), photo_type: "before", file: blob(makeJpeg(40, 30, 80)) });
    expectStatus(agencyPhoto, 201);
    const refused = await api("DELETE", "/api/jobs/photos", {
      token: contractor.token,
      csrf: contractor.csrf,
      body: { id: agencyPhoto.body.photo_id },
    });
    expectStatus(refused, 403);
    expect(refused.body.message).toBe("Contractors can delete only the photos they uploaded");
    expect(await photoRow(agencyPhoto.body.photo_id)).not.toBeNull();
    const mine = await upload(contractor, { job_id: String(job.job_id), photo_type: "after", file: blob(makeJpeg(40, 30, 80)) });
    expectStatus(mine, 201);
    const deleted = await api("DELETE", "/api/jobs/photos", {
      token: contractor.token,
      csrf: contractor.csrf,
      body: { id: mine.body.photo_id },
    });
    expectStatus(deleted, 200);
    expect(await photoRow(mine.body.photo_id)).toBeNull();
    const events = await env.DB.prepare("SELECT action, actor_user_id FROM audit_events WHERE job_uuid = ? AND action = 'photo.deleted'")
      .bind(job.job_uuid)
      .all<{ action: string; actor_user_id: number }>();
    expect(events.results).toContainEqual({ action: "photo.deleted", actor_user_id: contractor.userId });
  });

  it("another contractor's job is 404 for list, file, upload and delete", async () => {
    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: otherContractor.token });
    expectStatus(list, 404);
    const own = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
    const item = own.body.data.before[0];
    expectStatus(await api("GET", item.url, { token: otherContractor.token }), 404);
    const del = await api("DELETE", "/api/jobs/photos", {
      token: otherContractor.token,
      csrf: otherContractor.csrf,
      body: { id: item.ID },
    });
    expectStatus(del, 404);
    expect(await photoRow(item.ID)).not.toBeNull();
  });
});

describe("bad input: refused with its status and message, nothing stored", () => {
  let before: { rows: number; keys: string[] };
  const snapshot = async () => ({
    rows: (await env.DB.prepare("SELECT count(*) AS n FROM photos").first<{ n: number }>())?.n ?? 0,
    keys: await keysUnder("jobs/"),
  });

  const refused = async (
    file: Uint8Array,
    status: number,
    message: string | RegExp,
    fields: Record<string, string> = {},
    name = "photo.jpg",
  ) => {
    before = await snapshot();
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(file), ...fields }, name);
    expectStatus(res, status);
    expect(res.body.success).toBe(false);
    if (typeof message === "string") expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
    expect(await snapshot()).toEqual(before);
    return res;
  };

  it("wrong magic bytes behind a .jpg name → 415", async () => {
    await refused(ascii("<html><script>alert(1)</script></html>"), 415, /^file: file content is not an accepted format \(JPEG, PNG, MP4\)/);
  });

  it("a truncated JPEG → 415", async () => {
    const jpeg = makeJpeg(400, 300);
    await refused(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 415, "file: JPEG is truncated or malformed");
  });

  it("a truncated PNG → 415", async () => {
    const png = makePng(300, 200);
    await refused(png.subarray(0, png.length - 20), 415, "file: PNG is truncated or malformed", {}, "photo.png");
  });

  it("a 30 000 × 30 000 PNG header (pixel bomb) → 415", async () => {
    await refused(pngBomb(30_000, 30_000), 415, "file: image is 30000×30000 (900 MP), above the 50 MP limit", {}, "huge.png");
  });

  it("a polyglot (a JPEG with a ZIP appended) → 415", async () => {
    const poly = concat(makeJpeg(200, 150), makeZip([{ name: "evil.js", data: ascii("alert(1)") }]));
    await refused(poly, 415, "file: file is a polyglot: a JPEG that also carries ZIP content");
  });

  it("a polyglot (a JPEG carrying a PDF header) → 415", async () => {
    const jpeg = makeJpeg(200, 150);
    const comment = ascii("%PDF-1.4 hidden");
    const com = new Uint8Array([0xff, 0xfe, 0, comment.length + 2]);
    await refused(
      concat(jpeg.subarray(0, 2), com, comment, jpeg.subarray(2)),
      415,
      "file: file is a polyglot: a JPEG that also carries PDF content",
    );
  });

  it("an empty file → 400", async () => {
    await refused(new Uint8Array(), 400, "file: is empty");
  });

  it("over 20 MB (counted on the bytes read) → 413", async () => {
    const big = new Uint8Array(20 * 1024 * 1024 + 1);
    big.set(makeJpeg(64, 64));
    await refused(big, 413, "file: larger than 20 MB");
  });

  it("a file that is a DOCX, not a photo → 415", async () => {
    await refused(
      makeZip([{ name: "word/document.xml", data: ascii("<w/>") }]),
      415,
      /^file: file content is not an accepted format/,
      {},
      "photo.jpg",
    );
  });

  it("an unknown job_id → 404", async () => {
    before = await snapshot();
    const res = await upload(staff, { job_id: "999999", file: blob(makeJpeg(64, 64)) });
    expectStatus(res, 404);
    expect(res.body.message).toBe("Job not found");
    expect(await snapshot()).toEqual(before);
  });

  it("another contractor's job → 404", async () => {
    before = await snapshot();
    const res = await upload(otherContractor, { job_id: String(job.job_id), file: blob(makeJpeg(64, 64)) });
    expectStatus(res, 404);
    expect(res.body.message).toBe("Job not found");
    expect(await snapshot()).toEqual(before);
  });

  it("missing file, bad photo_type → 400 with the field named", async () => {
    before = await snapshot();
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(job.job_id));
    const res = await api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([{ field: "file", message: "is required: send the file as multipart/form-data" }]);
    const bad = await upload(staff, { job_id: String(job.job_id), photo_type: "sideways", file: blob(makeJpeg(64, 64)) });
    expectStatus(bad, 400);
    expect(bad.body.errors[0]).toEqual({ field: "photo_type", message: "must be one of: before, during, after, other" });
    expect(await snapshot()).toEqual(before);
  });

  it("if the queue refuses the message, the object and the row are rolled back → 503", async () => {
    before = await snapshot();
    const audits = await env.DB.prepare("SELECT count(*) AS n FROM audit_events").first<{ n: number }>();
    const spy = vi.spyOn(env.MEDIA_QUEUE, "send").mockRejectedValue(new Error("queue down"));
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(makeJpeg(64, 64)) });
    spy.mockRestore();
    expectStatus(res, 503);
    expect(res.body.message).toBe("The upload could not be queued for processing; nothing was stored, please retry");
    expect(await snapshot()).toEqual(before);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM audit_events").first<{ n: number }>()).toEqual(audits);
  });
});

describe("queue: idempotency, retries and dead letters", () => {
  it("a redelivered photo.compress for a completed photo changes nothing", async () => {
    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
    const item = list.body.data.after[0];
    const before = await photoRow(item.ID);
    await handlePhotoCompress(createServices(env), item.ID);
    expect(await photoRow(item.ID)).toEqual(before);
  });

  it("a transient failure is retried with backoff and its reason recorded; the dead letter marks the photo failed", async () => {
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(makeJpeg(4000, 2500, 80)) }, "big.jpg");
    expectStatus(res, 201);
    // No container stub: the media service is unreachable, so the message is retried.
    const id = res.body.photo_id;
    const batch = createMessageBatch<MediaMessage>("propops-media", [
      { id: "m1", timestamp: new Date(), attempts: 3, body: { type: "photo.compress", photoId: id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    const row = await photoRow(id);
    expect(String(row?.processing_error)).toMatch(/^retrying: media container unreachable/);

    const dead = createMessageBatch<MediaMessage>("propops-media-dlq", [
      { id: "d1", timestamp: new Date(), attempts: 6, body: { type: "photo.compress", photoId: id } },
    ]);
    await consumeDeadLetters(dead, createServices(env));
    const failed = await photoRow(id);
    expect(failed?.processing_status).toBe("failed");
    expect(String(failed?.processing_error)).toMatch(/^gave up after \d+ attempts: media container unreachable/);
  });

  it("an undecodable image fails at once (no pointless retries)", async () => {
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(makeJpeg(300, 200)) });
    const id = res.body.photo_id;
    await waitFor(id, ["completed", "failed"]);
    const row = await photoRow(id);
    // Replace the stored original with bytes the compressor refuses, and force a reprocess.
    await env.MEDIA.put(String(row?.r2_key), pngBomb(30_000, 30_000));
    await env.DB.prepare("UPDATE photos SET processing_status = 'pending' WHERE id = ?").bind(id).run();
    await handlePhotoCompress(createServices(env), id);
    const after = await photoRow(id);
    expect(after?.processing_status).toBe("failed");
    expect(after?.processing_error).toBe("image is 30000×30000 (900 MP), above the 50 MP limit");
  });
});

describe("delete", () => {
  it("deletes the row, its R2 objects and writes an audit event", async () => {
    const res = await upload(staff, { job_id: String(job.job_id), file: blob(makeJpeg(800, 600)) });
    const id = res.body.photo_id;
    await waitFor(id, ["completed"]);
    const prefix = `jobs/${job.job_uuid}/photos/${res.body.photo_uuid}/`;
    expect((await keysUnder(prefix)).length).toBe(2);
    const del = await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id } });
    expectStatus(del, 200);
    expect(del.body).toEqual({ success: true, photo_uuid: res.body.photo_uuid, message: "Photo deleted" });
    expect(await photoRow(id)).toBeNull();
    expect(await keysUnder(prefix)).toEqual([]);
    const audit = await env.DB.prepare("SELECT action, changes FROM audit_events WHERE job_uuid = ? AND action LIKE 'photo.%' ORDER BY id")
      .bind(job.job_uuid)
      .all<{ action: string; changes: string }>();
    expect(audit.results.filter((a) => a.changes.includes(res.body.photo_uuid)).map((a) => a.action)).toEqual([
      "photo.uploaded",
      "photo.compressed",
      "photo.deleted",
    ]);
    expectStatus(await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id } }), 404);
  });

  it("deleting the job removes its photo objects", async () => {
    const temp = await createJob(staff, fx, { job_title: "Temporary job for delete" });
    const res = await upload(staff, { job_id: String(temp.job_id), file: blob(makeJpeg(640, 480)) });
    expectStatus(res, 201);
    await waitFor(res.body.photo_id, ["completed"]);
    expect((await keysUnder(`jobs/${temp.job_uuid}/`)).length).toBe(2);
    const del = await api("POST", "/api/jobs/manage", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "delete", uuid: temp.job_uuid },
    });
    expectStatus(del, 200);
    await vi.waitFor(async () => expect(await keysUnder(`jobs/${temp.job_uuid}/`)).toEqual([]), { timeout: 20_000, interval: 100 });
  });
});

describe("signed media URLs", () => {
  it("a GET signature cannot PUT, a tampered key or an expired URL is refused", async () => {
    const { signObjectUrl } = await import("../../../../src/media/signed-urls");
    const key = `jobs/${job.job_uuid}/photos/00000000-0000-0000-0000-000000000000/compressed`;
    const get = await signObjectUrl(env, "GET", key, 60);
    const put = await exports.default.fetch(new Request(get, { method: "PUT", body: "x", headers: { "content-length": "1" } }));
    expect(put.status).toBe(403);
    const tampered = get.replace("compressed", "original.jpg");
    expect((await exports.default.fetch(new Request(tampered))).status).toBe(403);
    const expired = await signObjectUrl(env, "GET", key, 60, Date.now() - 3_600_000);
    const res = await exports.default.fetch(new Request(expired));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ success: false, message: "signed URL expired" });
    expect((await exports.default.fetch(new Request(get))).status).toBe(404); // valid, but no such object
  });
});
