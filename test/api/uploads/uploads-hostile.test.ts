/**
 * Resumable uploads (tus 1.0, issue 22) under hostile or broken clients, on real local D1 and R2:
 * offsets that do not match, bytes past the declared length, another token resuming someone
 * else's upload, the wrong Content-Type or protocol version, a polyglot finished through the
 * resumable path, an upload never finished (expired by the cron, its R2 multipart aborted),
 * permissions and CSRF at creation. Each gets its clear error and leaves nothing behind: the
 * integrity checker of the fault suite finds no orphan.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ascii, concat, makeJpeg, makeZip } from "../../../scripts/lib/media-fixtures";
import worker from "../../../src/index";
import { PART_SIZE, UPLOAD_TTL_SECONDS } from "../../../src/uploads/service";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../support/helpers";
import { checkIntegrity } from "../../support/integrity";
import { bigPdf, create, metadata, patch, tus } from "./support";

let fx: Fixtures;
let staff: Actor;
let job: { job_id: number; job_uuid: string };

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  job = await createJob(staff, fx);
});

const original = { CORS_ORIGINS: env.CORS_ORIGINS };
afterEach(() => {
  Object.assign(env, original);
});

const uuidOf = (path: string) => path.split("/").pop() ?? "";
const uploadRow = (uuid: string) => env.DB.prepare("SELECT * FROM uploads WHERE uuid = ?").bind(uuid).first<Record<string, unknown>>();
const staged = async (path: string) =>
  (await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/uploads/${uuidOf(path)}/` })).objects.map((o) => o.key);
const count = async (table: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())?.n ?? 0;
const offsetOf = async (who: { token: string }, path: string) =>
  Number((await tus("HEAD", path, { token: who.token })).headers.get("upload-offset"));
const docMeta = () => ({ filename: "plans.pdf", job_id: job.job_id, target: "document", file_type_id: 1 });

/** A body of `bytes` with no Content-Length (the client streams it): only the bytes themselves can be counted. */
function streamed(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** The plain multipart photo upload of the reference, for comparing answers. */
function plainPhoto(who: Actor, bytes: Uint8Array, jobId: number, filename = "photo.jpg") {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(jobId));
  form.append("photo_type", "during");
  form.append("file", new Blob([bytes], { type: "image/jpeg" }), filename);
  return api("POST", "/api/jobs/photos", { token: who.token, csrf: who.csrf, body: form });
}

describe("the protocol's own refusals", () => {
  it("a PATCH at the wrong offset is 409 and changes nothing; the right one then goes on", async () => {
    const file = bigPdf(200_000);
    const { path } = await create(staff, file.length, docMeta());
    expect((await patch(staff, path, 0, file.subarray(0, 50_000))).status).toBe(204);
    for (const wrong of [0, 49_999, 50_001, file.length]) {
      const res = await patch(staff, path, wrong, file.subarray(wrong, wrong + 10));
      expect(res.status, String(wrong)).toBe(409);
      expect(res.body).toMatchObject({ success: false, code: "CONFLICT" });
      expect(res.body.message).toBe(`Upload-Offset ${wrong} does not match the upload's offset 50000`);
      expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    }
    expect(await offsetOf(staff, path)).toBe(50_000);
    const rest = await patch(staff, path, 50_000, file.subarray(50_000));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.headers.get("upload-complete")).toBe("?1");
  });

  it("bytes past the declared length are refused (413) whether Content-Length says so or the stream does; none are kept", async () => {
    const file = bigPdf(100_000);
    const { path } = await create(staff, file.length, docMeta());
    const declared = await patch(staff, path, 0, concat(file, new Uint8Array(10)));
    expect(declared.status).toBe(413);
    expect(declared.body.message).toBe(`The body goes past the upload's declared length (Upload-Length ${file.length})`);
    const stream = await patch(staff, path, 0, streamed(concat(file, new Uint8Array(1))));
    expect(stream.status).toBe(413);
    expect(await offsetOf(staff, path)).toBe(0);
    expect(await staged(path)).toEqual([]);
    // The upload is intact: the right bytes still finish it.
    expect((await patch(staff, path, 0, file)).status).toBe(200);
  });

  it("a creation above the target's size limit is 413 before any byte is sent (the plain upload's message)", async () => {
    const before = await count("uploads");
    const { res } = await create(staff, 20 * 1024 * 1024 + 1, { filename: "huge.mp4", job_id: job.job_id, target: "photo" });
    expect(res.status).toBe(413);
    expect(res.body.message).toBe("file: larger than 20 MB");
    const note = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "create", job_uuid: job.job_uuid, message: "n" },
    });
    const noteFile = await create(staff, 5 * 1024 * 1024 + 1, {
      filename: "big.txt",
      job_id: job.job_id,
      target: "note_file",
      note_uuid: note.body.note_uuid,
    });
    expect(noteFile.res.status).toBe(413);
    expect(await count("uploads")).toBe(before);
  });

  it("a chunk with the wrong Content-Type is 415; a request without Tus-Resumable 1.0.0 is 412 naming the version", async () => {
    const file = bigPdf(10_000);
    const { path } = await create(staff, file.length, docMeta());
    const wrongType = await patch(staff, path, 0, file, { "Content-Type": "application/pdf" });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.message).toBe("Content-Type must be application/offset+octet-stream");
    const noVersion = await tus("PATCH", path, { token: staff.token, version: null, headers: { "Upload-Offset": "0" }, body: file });
    expect(noVersion.status).toBe(412);
    expect(noVersion.headers.get("tus-version")).toBe("1.0.0");
    const oldVersion = await tus("HEAD", path, { token: staff.token, version: "0.2.2" });
    expect(oldVersion.status).toBe(412);
    expect(await offsetOf(staff, path)).toBe(0);
  });

  it("bad metadata is 400 naming the field; nothing is created", async () => {
    const before = await count("uploads");
    const cases: [Record<string, string | number>, string][] = [
      [{ job_id: job.job_id, target: "photo" }, "filename"],
      [{ filename: "a.jpg", job_id: job.job_id, target: "video" }, "target"],
      [{ filename: "a.jpg", job_id: "abc", target: "photo" }, "job_id"],
      [{ filename: "a.pdf", job_id: job.job_id, target: "document" }, "file_type_id"],
      [{ filename: "a.txt", job_id: job.job_id, target: "note_file" }, "note_uuid"],
    ];
    for (const [meta, field] of cases) {
      const { res } = await create(staff, 10, meta);
      expect(res.status, JSON.stringify(meta)).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const garbled = await tus("POST", "/api/uploads", {
      token: staff.token,
      csrf: staff.csrf,
      headers: { "Upload-Length": "10", "Upload-Metadata": "filename !!notbase64!!" },
    });
    expect(garbled.status).toBe(400);
    const noLength = await tus("POST", "/api/uploads", {
      token: staff.token,
      csrf: staff.csrf,
      headers: { "Upload-Metadata": metadata(docMeta()) },
    });
    expect(noLength.status).toBe(400);
    expect(noLength.body.message).toBe("Upload-Length is required");
    expect(await count("uploads")).toBe(before);
  });
});

describe("an upload is bound to the token that created it", () => {
  it("another token (another staff member, even an admin) gets 404 on HEAD, PATCH and DELETE; the upload is untouched", async () => {
    const file = bigPdf(100_000);
    const { path } = await create(staff, file.length, docMeta());
    expect((await patch(staff, path, 0, file.subarray(0, 40_000))).status).toBe(204);
    const other = await actor("staff");
    const admin = await actor("admin");
    for (const intruder of [other, admin]) {
      expect((await tus("HEAD", path, { token: intruder.token })).status).toBe(404);
      const stolen = await patch(intruder, path, 40_000, file.subarray(40_000));
      expect(stolen.status).toBe(404);
      expect(stolen.body).toMatchObject({ success: false, code: "NOT_FOUND", message: "Upload not found" });
      expect((await tus("DELETE", path, { token: intruder.token })).status).toBe(404);
    }
    expect((await tus("HEAD", path, { token: "pp_not-a-token" })).status).toBe(401);
    expect(await offsetOf(staff, path)).toBe(40_000);
    expect((await patch(staff, path, 40_000, file.subarray(40_000))).status).toBe(200);
  });

  it("CSRF at creation: none, or another token's, is 403 CSRF_INVALID and creates nothing", async () => {
    const before = await count("uploads");
    const other = await actor("staff");
    for (const csrf of [undefined, other.csrf, "forged"]) {
      const res = await tus("POST", "/api/uploads", {
        token: staff.token,
        csrf,
        headers: { "Upload-Length": "10", "Upload-Metadata": metadata(docMeta()) },
      });
      expect(res.status, String(csrf)).toBe(403);
      expect(res.body.code).toBe("CSRF_INVALID");
    }
    // A CSRF token in the body is no way round it: the body is file bytes.
    const inBody = await tus("POST", "/api/uploads", {
      token: staff.token,
      headers: { "Upload-Length": "29", "Upload-Metadata": metadata(docMeta()) },
      body: ascii(`csrf_token=${staff.csrf}`).subarray(0, 29),
    });
    expect(inBody.status).toBe(403);
    expect(await count("uploads")).toBe(before);
  });

  it("permissions are the plain upload's: a contractor on another contractor's job is refused alike; on their own job it works", async () => {
    const contractor = await actor("contractor", { contractorId: fx.contractorId });
    const theirs = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
    const jpeg = makeJpeg(64, 48);
    const plain = await plainPhoto(contractor, jpeg, theirs.job_id);
    expect(plain.status).toBeGreaterThanOrEqual(403);
    const before = await count("uploads");
    const { res } = await create(contractor, jpeg.length, { filename: "p.jpg", job_id: theirs.job_id, target: "photo" });
    expect(res.status).toBe(plain.status);
    expect(res.body.message).toBe(plain.body.message);
    expect(await count("uploads")).toBe(before);

    const own = await create(contractor, jpeg.length, { filename: "p.jpg", job_id: job.job_id, target: "photo", photo_type: "after" });
    expect(own.res.status, JSON.stringify(own.res.body)).toBe(201);
    const done = await patch(contractor, own.path, 0, jpeg);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: contractor.token });
    expect(list.body.data.after.map((p: { uuid: string }) => p.uuid)).toContain(done.body.photo_uuid);

    // A token without the photos permission may not start one.
    const narrow = await actor("staff", { permissions: ["api.jobs.view"] });
    const denied = await create(narrow, jpeg.length, { filename: "p.jpg", job_id: job.job_id, target: "photo" });
    expect(denied.res.status).toBe(403);
  });

  it("a note file is bound to a note of the named job (another job's note is 404)", async () => {
    const otherJob = await createJob(staff, fx);
    const note = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "create", job_uuid: otherJob.job_uuid, message: "elsewhere" },
    });
    const { res } = await create(staff, 10, { filename: "a.txt", job_id: job.job_id, target: "note_file", note_uuid: note.body.note_uuid });
    expect(res.status).toBe(404);
  });
});

describe("the file's checks, when its last byte lands", () => {
  it("a polyglot sent in chunks is refused with the plain upload's error, and leaves no upload, photo, part or object", async () => {
    const poly = concat(makeJpeg(200, 150), makeZip([{ name: "evil.js", data: ascii("alert(1)") }]));
    const plain = await plainPhoto(staff, poly, job.job_id);
    expect(plain.status).toBe(415);
    const photos = await count("photos");
    const { path } = await create(staff, poly.length, { filename: "photo.jpg", job_id: job.job_id, target: "photo" });
    const half = Math.floor(poly.length / 2);
    expect((await patch(staff, path, 0, poly.subarray(0, half))).status).toBe(204);
    const last = await patch(staff, path, half, poly.subarray(half));
    expect(last.status).toBe(415);
    expect(last.body.message).toBe(plain.body.message);
    expect(last.body.message).toBe("file: file is a polyglot: a JPEG that also carries ZIP content");
    expect(await count("photos")).toBe(photos);
    expect(await uploadRow(uuidOf(path))).toBeNull();
    expect(await staged(path)).toEqual([]);
    expect((await tus("HEAD", path, { token: staff.token })).status).toBe(404);
  });

  it("a polyglot over a multipart R2 upload: the assembled object and its parts go too", async () => {
    // A PDF whose stream carries a ZIP after a JPEG-looking start is refused by the document sniffer alike.
    const evil = concat(makeJpeg(32, 32), new Uint8Array(PART_SIZE), makeZip([{ name: "x.js", data: ascii("alert(1)") }]));
    const plainForm = new FormData();
    plainForm.append("action", "upload");
    plainForm.append("job_id", String(job.job_id));
    plainForm.append("file_type_id", "1");
    plainForm.append("file", new Blob([evil]), "scan.jpg");
    const plain = await api("POST", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: plainForm });
    expect(plain.status).toBe(415);
    const { path } = await create(staff, evil.length, { filename: "scan.jpg", job_id: job.job_id, target: "document", file_type_id: 1 });
    const last = await patch(staff, path, 0, evil);
    expect(last.status).toBe(415);
    expect(last.body.message).toBe(plain.body.message);
    expect(await uploadRow(uuidOf(path))).toBeNull();
    expect(await staged(path)).toEqual([]);
  });
});

describe("expiration", () => {
  it("an upload never finished expires: 404 once past Upload-Expires, then the cron aborts its R2 multipart upload and removes every staged byte", async () => {
    const file = bigPdf(PART_SIZE + 500_000);
    const { res, path } = await create(staff, file.length, docMeta());
    const expires = new Date(res.headers.get("upload-expires") ?? "");
    expect(expires.getTime() - Date.now()).toBeGreaterThan((UPLOAD_TTL_SECONDS - 60) * 1000);
    expect((await patch(staff, path, 0, file.subarray(0, PART_SIZE + 100_000))).status).toBe(204);
    const row = await uploadRow(uuidOf(path));
    expect(JSON.parse(String(row?.parts))).toHaveLength(1);
    expect(await staged(path)).toHaveLength(1); // the tail; the part is inside the multipart upload

    // Past its expiry (moved into the past rather than waiting a day), it answers 404 at once...
    await env.DB.prepare("UPDATE uploads SET expires_at = ? WHERE uuid = ?")
      .bind(new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, "Z"), uuidOf(path))
      .run();
    expect((await tus("HEAD", path, { token: staff.token })).status).toBe(404);
    expect((await patch(staff, path, PART_SIZE + 100_000, file.subarray(PART_SIZE + 100_000))).status).toBe(404);

    // ...and the next cron run sweeps it.
    const controller = createScheduledController({ scheduledTime: new Date(), cron: "*/5 * * * *" });
    const ctx = createExecutionContext();
    await worker.scheduled?.(controller, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await uploadRow(uuidOf(path))).toBeNull();
    expect(await staged(path)).toEqual([]);
    const multipart = env.MEDIA.resumeMultipartUpload(String(row?.r2_key), String(row?.r2_upload_id));
    await expect(multipart.complete(JSON.parse(String(row?.parts)))).rejects.toThrow();
  });
});

describe("CORS for browser clients (tus-js-client)", () => {
  it("a preflight allows the tus request headers and an actual answer exposes the tus response headers", async () => {
    Object.assign(env, { CORS_ORIGINS: "https://app.example.com" });
    const pre = await api("OPTIONS", "/api/uploads", {
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-csrf-token,tus-resumable,upload-length,upload-metadata",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const allowed = (pre.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["tus-resumable", "upload-length", "upload-offset", "upload-metadata", "content-type"]) expect(allowed).toContain(h);
    expect(pre.headers.get("access-control-allow-methods")).toContain("PATCH");

    const file = bigPdf(1000);
    const { res, path } = await create(staff, file.length, docMeta(), { headers: { Origin: "https://app.example.com" } });
    expect(res.status).toBe(201);
    const head = await tus("HEAD", path, { token: staff.token, headers: { Origin: "https://app.example.com" } });
    expect(head.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const exposed = (head.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const h of ["tus-resumable", "upload-offset", "upload-length", "upload-expires", "location", "upload-complete"]) {
      expect(exposed).toContain(h);
    }
  });

  it("OPTIONS without a preflight's method is tus discovery, with the IETF draft's limits", async () => {
    const res = await tus("OPTIONS", "/api/uploads", { version: null });
    expect(res.status).toBe(204);
    expect(res.headers.get("upload-limit")).toBe(`max-size=${20 * 1024 * 1024}, expires=${UPLOAD_TTL_SECONDS}`);
  });
});

describe("afterwards", () => {
  it("the integrity checker finds no orphan and no dangling row", async () => {
    const report = await checkIntegrity(env, { drained: false });
    expect(report.orphans).toEqual([]);
    expect(report.dangling).toEqual([]);
  });
});
