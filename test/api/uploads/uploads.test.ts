/**
 * Resumable uploads (tus 1.0, issue 22) through the Worker's own fetch, on real local D1 and R2:
 * discovery, each target finishing into the list the reference shows it in, resuming at the stored
 * offset after a cut, and the finished upload answering with its record.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ascii } from "../../../scripts/lib/media-fixtures";
import { PART_SIZE } from "../../../src/uploads/service";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../support/helpers";
import { checkIntegrity } from "../../support/integrity";
import { bigMp4, bigPdf, create, cutAfter, patch, tus } from "./support";

let fx: Fixtures;
let staff: Actor;
let job: { job_id: number; job_uuid: string };

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  job = await createJob(staff, fx);
});

const uploadRow = (uuid: string) => env.DB.prepare("SELECT * FROM uploads WHERE uuid = ?").bind(uuid).first<Record<string, unknown>>();
const uuidOf = (path: string) => path.split("/").pop() ?? "";

describe("tus discovery", () => {
  it("OPTIONS answers the version, extensions and the largest size, without a token", async () => {
    const res = await tus("OPTIONS", "/api/uploads", { version: null });
    expect(res.status).toBe(204);
    expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    expect(res.headers.get("tus-version")).toBe("1.0.0");
    expect(res.headers.get("tus-extension")).toBe("creation,creation-with-upload,termination,expiration");
    expect(res.headers.get("tus-max-size")).toBe(String(20 * 1024 * 1024));
  });

  it("is described in the OpenAPI document", async () => {
    const res = await api("GET", "/api/openapi.json");
    const paths = res.body.paths;
    expect(Object.keys(paths["/api/uploads"])).toEqual(expect.arrayContaining(["options", "post"]));
    expect(Object.keys(paths["/api/uploads/{id}"])).toEqual(expect.arrayContaining(["head", "patch", "delete"]));
  });
});

describe("each target ends as its record, listed where the reference lists it", () => {
  it("a video over several R2 parts, in chunks that are not part-sized, becomes a photo in the photos list", async () => {
    const file = bigMp4(PART_SIZE * 2 + 123_457);
    const { res, path } = await create(staff, file.length, {
      filename: "walkround.mp4",
      job_id: job.job_id,
      target: "photo",
      photo_type: "during",
    });
    expectStatus(res as never, 201);
    expect(path).toMatch(/^\/api\/uploads\/[0-9a-f-]{36}$/);
    expect(res.headers.get("upload-expires")).toMatch(/GMT$/);
    // 3 MiB chunks: parts fill across requests, a tail waits in R2 in between.
    const chunk = 3 * 1024 * 1024;
    let offset = 0;
    let last = res;
    while (offset < file.length) {
      const piece = file.subarray(offset, offset + chunk);
      last = await patch(staff, path, offset, piece);
      offset += piece.length;
      if (offset < file.length) {
        expect(last.status, JSON.stringify(last.body)).toBe(204);
        expect(Number(last.headers.get("upload-offset"))).toBe(offset);
      }
    }
    expect(last.status, JSON.stringify(last.body)).toBe(200);
    expect(last.body).toMatchObject({ success: true, target: "photo", processing_status: "pending" });
    expect(last.headers.get("upload-record")).toBe(`photo; uuid=${last.body.photo_uuid}; id=${last.body.photo_id}`);

    const list = await api("GET", `/api/jobs/photos?job_id=${job.job_id}`, { token: staff.token });
    const video = list.body.data.during.find((p: { uuid: string }) => p.uuid === last.body.photo_uuid);
    expect(video).toMatchObject({ kind: "video", filename: "walkround.mp4", size: file.length, content_type: "video/mp4" });
    const stored = await env.MEDIA.get(`jobs/${job.job_uuid}/photos/${video.uuid}/original.mp4`);
    expect(new Uint8Array((await stored?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(file);
    // The staging copy and its parts are gone; HEAD still names the record for a client that lost the answer.
    expect((await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/uploads/${uuidOf(path)}/` })).objects).toEqual([]);
    const head = await tus("HEAD", path, { token: staff.token });
    expect(head.status).toBe(200);
    expect(head.headers.get("upload-offset")).toBe(String(file.length));
    expect(head.headers.get("upload-record")).toBe(`photo; uuid=${last.body.photo_uuid}`);
    // The lost-answer retry: an empty PATCH at the end answers the record again, nothing stored twice.
    const again = await patch(staff, path, file.length, new Uint8Array(0));
    expect(again.status).toBe(200);
    expect(again.body.photo_uuid).toBe(last.body.photo_uuid);
  });

  it("a document sent whole with the creation (creation-with-upload) is in the documents list", async () => {
    const file = bigPdf(PART_SIZE + 1000);
    const { res } = await create(
      staff,
      file.length,
      { filename: "survey.pdf", job_id: job.job_id, target: "document", file_type_id: 1 },
      { body: file },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ success: true, target: "document" });
    const list = await api("GET", `/api/jobs/documents?action=list&job_id=${job.job_id}`, { token: staff.token });
    expect(list.body.data.map((d: { uuid: string }) => d.uuid)).toContain(res.body.document_uuid);
    const doc = list.body.data.find((d: { uuid: string }) => d.uuid === res.body.document_uuid);
    expect(doc).toMatchObject({ filename: "survey.pdf", size: file.length, content_type: "application/pdf", file_type_id: 1 });
  });

  it("a note file is among the note's attachments", async () => {
    const note = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { action: "create", job_uuid: job.job_uuid, message: "Readings attached" },
    });
    expectStatus(note, 201);
    const text = ascii("Flow 12 l/min\nPressure 1.4 bar\n");
    const { res, path } = await create(staff, text.length, {
      filename: "readings.txt",
      job_id: job.job_id,
      target: "note_file",
      note_uuid: note.body.note_uuid,
    });
    expect(res.status).toBe(201);
    const done = await patch(staff, path, 0, text);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ target: "note_file", note_uuid: note.body.note_uuid });
    const notes = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${job.job_uuid}`, { token: staff.token });
    const found = JSON.stringify(notes.body);
    expect(found).toContain(done.body.attachment_uuid);
    expect(found).toContain("readings.txt");
  });
});

describe("resume after an interruption", () => {
  it("a chunk cut mid-way keeps what arrived; HEAD answers that offset and the upload resumes there", async () => {
    const file = bigPdf(PART_SIZE + 2 * 1024 * 1024);
    const { path } = await create(staff, file.length, { filename: "plans.pdf", job_id: job.job_id, target: "document", file_type_id: 1 });
    const first = await patch(staff, path, 0, file.subarray(0, 1_000_000));
    expect(first.status).toBe(204);
    // The connection drops after 5.5 MB more: one full part and a tail were stored before it went.
    const cut = 5_500_000;
    await patch(staff, path, 1_000_000, cutAfter(file.slice(1_000_000, 1_000_000 + cut))).catch(() => undefined);
    let head = await tus("HEAD", path, { token: staff.token });
    for (let i = 0; i < 50 && Number(head.headers.get("upload-offset")) !== 1_000_000 + cut; i++) {
      await new Promise((r) => setTimeout(r, 100));
      head = await tus("HEAD", path, { token: staff.token });
    }
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("upload-offset"))).toBe(1_000_000 + cut);
    expect(head.headers.get("upload-length")).toBe(String(file.length));
    const row = await uploadRow(uuidOf(path));
    expect(JSON.parse(String(row?.parts))).toHaveLength(1);

    const offset = Number(head.headers.get("upload-offset"));
    const rest = await patch(staff, path, offset, file.subarray(offset));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    const stored = await env.DB.prepare("SELECT r2_key FROM documents WHERE uuid = ?")
      .bind(rest.body.document_uuid)
      .first<{ r2_key: string }>();
    const bytes = new Uint8Array((await (await env.MEDIA.get(stored?.r2_key ?? ""))?.arrayBuffer()) ?? new ArrayBuffer(0));
    expect(bytes.length).toBe(file.length);
    expect(bytes).toEqual(file);
  });

  it("termination aborts the parts and leaves nothing (later requests 404)", async () => {
    const file = bigPdf(PART_SIZE + 10);
    const { path } = await create(staff, file.length, { filename: "x.pdf", job_id: job.job_id, target: "document", file_type_id: 1 });
    expect((await patch(staff, path, 0, file.subarray(0, PART_SIZE + 5))).status).toBe(204);
    const row = await uploadRow(uuidOf(path));
    const del = await tus("DELETE", path, { token: staff.token });
    expect(del.status).toBe(204);
    expect((await tus("HEAD", path, { token: staff.token })).status).toBe(404);
    expect(await uploadRow(uuidOf(path))).toBeNull();
    const multipart = env.MEDIA.resumeMultipartUpload(String(row?.r2_key), String(row?.r2_upload_id));
    await expect(multipart.complete(JSON.parse(String(row?.parts)))).rejects.toThrow();
    expect((await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/uploads/${uuidOf(path)}/` })).objects).toEqual([]);
  });

  it("after every upload of this file settled, the integrity checker finds no orphan", async () => {
    const report = await checkIntegrity(env, { drained: false });
    expect(report.orphans).toEqual([]);
    expect(report.dangling).toEqual([]);
  });
});
