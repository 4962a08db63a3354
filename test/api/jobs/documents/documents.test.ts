import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ascii, concat, makeDocx, makeJpeg, makePdf, makeZip, pngBomb } from "../../../../scripts/lib/media-fixtures";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let otherContractor: Actor;
let job: { job_id: number; job_uuid: string };

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId });
  job = await createJob(staff, fx, { contractor_id: fx.contractorId });
});

function upload(who: Actor, file: Uint8Array | null, filename: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("file_type_id", "1");
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  if (file) form.append("file", new Blob([file], { type: "application/octet-stream" }), filename);
  return api("POST", "/api/jobs/documents", { token: who.token, csrf: who.csrf, body: form });
}

const snapshot = async () => ({
  rows: (await env.DB.prepare("SELECT count(*) AS n FROM documents").first<{ n: number }>())?.n ?? 0,
  keys: (await env.MEDIA.list({ prefix: "jobs/" })).objects.map((o) => o.key),
});

describe("documents", () => {
  it("uploads PDF, DOCX, JPEG; lists them; downloads with the right type, attachment and nosniff", async () => {
    const pdf = await upload(contractor, makePdf(), "Quote #12 (signed).pdf");
    expectStatus(pdf, 201);
    expect(pdf.body).toMatchObject({ success: true, message: "Document uploaded" });
    expect(pdf.body.document_uuid).toMatch(/^[0-9a-f-]{36}$/);
    const docx = await upload(contractor, makeDocx(), "Report é.docx", { file_type_id: "4" });
    expectStatus(docx, 201);
    const jpeg = await upload(staff, makeJpeg(320, 240), "scan.jpeg", { file_type_id: "3" });
    expectStatus(jpeg, 201);

    const list = await api("GET", `/api/jobs/documents?action=list&job_id=${job.job_id}`, { token: contractor.token });
    expectStatus(list, 200);
    expect(list.body.count).toBe(3);
    expect(list.body.data.map((d: { content_type: string; file_type_name: string }) => [d.content_type, d.file_type_name])).toEqual([
      ["application/pdf", "Quote"],
      ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Report"],
      ["image/jpeg", "Certificate"],
    ]);
    const first = list.body.data[0];
    expect(first).toMatchObject({ ID: pdf.body.document_id, job_id: job.job_id, file_type_id: 1, filename: "Quote #12 (signed).pdf" });
    expect(first.download_url).toBe(`/api/jobs/documents?action=download&uuid=${pdf.body.document_uuid}`);

    const dl = await api("GET", first.download_url, { token: contractor.token });
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("application/pdf");
    expect(dl.headers.get("x-content-type-options")).toBe("nosniff");
    expect(dl.headers.get("content-disposition")).toBe(
      `attachment; filename="Quote #12 (signed).pdf"; filename*=UTF-8''Quote%20%2312%20(signed).pdf`,
    );
    expect(dl.body).toBe(new TextDecoder().decode(makePdf()));
    const dx = await api("GET", list.body.data[1].download_url, { token: contractor.token });
    expect(dx.headers.get("content-disposition")).toBe(`attachment; filename="Report _.docx"; filename*=UTF-8''Report%20%C3%A9.docx`);

    // Object keys are generated, never the file name.
    const keys = (await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/documents/` })).objects.map((o) => o.key);
    expect(keys.sort()).toEqual(
      [
        `jobs/${job.job_uuid}/documents/${pdf.body.document_uuid}/file.pdf`,
        `jobs/${job.job_uuid}/documents/${docx.body.document_uuid}/file.docx`,
        `jobs/${job.job_uuid}/documents/${jpeg.body.document_uuid}/file.jpg`,
      ].sort(),
    );

    const jobs = await api("GET", "/api/jobs/manage?action=list&has_documents=true", { token: staff.token });
    expect(jobs.body.data.find((j: { uuid: string }) => j.uuid === job.job_uuid).documents_count).toBe(3);
  });

  it("another contractor's job and documents are 404", async () => {
    const list = await api("GET", `/api/jobs/documents?action=list&job_id=${job.job_id}`, { token: otherContractor.token });
    expectStatus(list, 404);
    const own = await api("GET", `/api/jobs/documents?action=list&job_id=${job.job_id}`, { token: staff.token });
    const doc = own.body.data[0];
    expectStatus(await api("GET", doc.download_url, { token: otherContractor.token }), 404);
    const del = await api("DELETE", "/api/jobs/documents", {
      token: otherContractor.token,
      csrf: otherContractor.csrf,
      body: { document_id: doc.ID },
    });
    expectStatus(del, 404);
  });

  it("delete removes the row and the object, with an audit event", async () => {
    const res = await upload(staff, makePdf(), "old.pdf");
    const key = `jobs/${job.job_uuid}/documents/${res.body.document_uuid}/file.pdf`;
    expect(await env.MEDIA.head(key)).not.toBeNull();
    const del = await api("DELETE", "/api/jobs/documents", {
      token: staff.token,
      csrf: staff.csrf,
      body: { document_id: res.body.document_id },
    });
    expectStatus(del, 200);
    expect(del.body).toEqual({ success: true, document_uuid: res.body.document_uuid, message: "Document deleted" });
    expect(await env.MEDIA.head(key)).toBeNull();
    expect(await env.DB.prepare("SELECT id FROM documents WHERE id = ?").bind(res.body.document_id).first()).toBeNull();
    const audit = await env.DB.prepare("SELECT action FROM audit_events WHERE job_uuid = ? AND changes LIKE ? ORDER BY id")
      .bind(job.job_uuid, `%${res.body.document_uuid}%`)
      .all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toEqual(["document.uploaded", "document.deleted"]);
  });
});

describe("documents: bad input refused with its status and message, nothing stored", () => {
  const refused = async (
    file: Uint8Array | null,
    name: string,
    status: number,
    message: string | RegExp,
    fields: Record<string, string> = {},
    who?: Actor,
  ) => {
    const before = await snapshot();
    const res = await upload(who ?? staff, file, name, fields);
    expectStatus(res, status);
    if (typeof message === "string") expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
    expect(await snapshot()).toEqual(before);
    return res;
  };

  it("a zip bomb named .docx (entries claiming 1000:1) → 415", async () => {
    const bomb = makeZip([
      { name: "[Content_Types].xml", data: ascii("<Types/>") },
      { name: "word/document.xml", data: new Uint8Array(1024), uncompressedSize: 1024 * 1024 * 1024, method: 8 },
    ]);
    await refused(bomb, "contract.docx", 415, /^file: zip bomb: /);
  });

  it("a zip bomb of overlapping entries → 415", async () => {
    const zip = makeZip([
      { name: "[Content_Types].xml", data: ascii("<Types/>") },
      { name: "word/document.xml", data: ascii("<w/>") },
    ]);
    // Point the second central entry at the first local header: the classic overlap trick.
    const view = new DataView(zip.buffer);
    const eocd = zip.length - 22;
    const cd = view.getUint32(eocd + 16, true);
    const second = cd + 46 + "[Content_Types].xml".length;
    view.setUint32(second + 42, 0, true);
    await refused(zip, "a.docx", 415, /zip bomb|no local header/);
  });

  it("too many entries → 415", async () => {
    const many = makeZip(Array.from({ length: 2001 }, (_, i) => ({ name: `word/f${i}.xml`, data: ascii("x") })));
    await refused(many, "many.docx", 415, "file: zip bomb: 2001 entries (limit 2000)");
  });

  it("a ZIP that is not a Word document → 415", async () => {
    await refused(makeZip([{ name: "hello.txt", data: ascii("hi") }]), "fake.docx", 415, /not a Word document/);
  });

  it("wrong magic bytes behind a .pdf name → 415", async () => {
    await refused(
      ascii("just some text pretending to be a PDF"),
      "invoice.pdf",
      415,
      /^file: file content is not an accepted format \(PDF, DOCX, JPEG, PNG\)/,
    );
  });

  it("a truncated PDF → 415", async () => {
    const pdf = makePdf();
    await refused(pdf.subarray(0, pdf.length - 10), "cut.pdf", 415, "file: PDF is truncated (no %%EOF trailer)");
  });

  it("a polyglot (PDF + ZIP) → 415", async () => {
    await refused(concat(makePdf(), makeZip([{ name: "x.js", data: ascii("1") }])), "poly.pdf", 415, /polyglot/);
  });

  it("a pixel bomb image as a document → 415", async () => {
    await refused(pngBomb(30_000, 30_000), "plan.png", 415, "file: image is 30000×30000 (900 MP), above the 50 MP limit");
  });

  it("an MP4 is not a document → 415", async () => {
    const mp4 = concat(new Uint8Array([0, 0, 0, 16]), ascii("ftypisom"), new Uint8Array(4));
    await refused(mp4, "video.pdf", 415, /not an accepted format/);
  });

  it("an empty file → 400", async () => {
    await refused(new Uint8Array(), "empty.pdf", 400, "file: is empty");
  });

  it("over 20 MB → 413", async () => {
    const big = new Uint8Array(20 * 1024 * 1024 + 1);
    big.set(makePdf());
    await refused(big, "big.pdf", 413, "file: larger than 20 MB");
  });

  it("an unknown file_type_id → 400 as a field error", async () => {
    const res = await refused(makePdf(), "a.pdf", 400, "file_type_id: no file type with id 999", { file_type_id: "999" });
    expect(res.body.errors).toEqual([{ field: "file_type_id", message: "no file type with id 999; see GET /api/jobs/file-types" }]);
  });

  it("an unknown job_id → 404", async () => {
    await refused(makePdf(), "a.pdf", 404, "Job not found", { job_id: "999999" });
  });

  it("another contractor's job → 404", async () => {
    await refused(makePdf(), "a.pdf", 404, "Job not found", {}, otherContractor);
  });

  it("missing file → 400", async () => {
    const res = await refused(null, "", 400, "file: is required: send the file as multipart/form-data");
    expect(res.body.errors).toEqual([{ field: "file", message: "is required: send the file as multipart/form-data" }]);
  });
});
