import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import PostalMime from "postal-mime";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ascii, concat, makeDocx, makeJpeg, makeMp4, makePdf, makePng, makeZip } from "../../../../scripts/lib/media-fixtures";
import { safeFilename } from "../../../../src/media/intake";
import { signObjectUrl, verifyObjectUrl } from "../../../../src/media/signed-urls";
import { sniff, sniffDeep } from "../../../../src/media/sniff";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";

const ALL = ["jpeg", "png", "mp4", "pdf", "docx"] as const;

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let job: { job_id: number; job_uuid: string };

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  job = await createJob(staff, fx, {
    contractor_id: fx.contractorId,
    agent_id: fx.agentId,
    private_contact_email: "tenant.contact@example.test",
  });
});

/** A JPEG with a COM segment carrying `text`, optionally after `pad` bytes of comment first. */
function jpegWithComment(text: string, pad = 0): Uint8Array {
  const jpeg = makeJpeg(40, 30);
  const payload = concat(new Uint8Array(pad).fill(0x20), ascii(text));
  const com = new Uint8Array([0xff, 0xfe, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return concat(jpeg.subarray(0, 2), com, payload, jpeg.subarray(2));
}

const mp4Box = (type: string, payload: Uint8Array) => {
  const out = new Uint8Array(8 + payload.length);
  new DataView(out.buffer).setUint32(0, out.length);
  out.set(ascii(type), 4);
  out.set(payload, 8);
  return out;
};

async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer());
}
async function deflateZlib(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
}

const pdfWith = (body: string) => ascii(`%PDF-1.4\n${body}\ntrailer<</Root 1 0 R>>\n%%EOF\n`);

describe("media: markup anywhere in the file is refused (finding: only the first KiB, few tags)", () => {
  it.each([
    ["<img src=x onerror=alert(1)>"],
    ["<IMG SRC=x OnError=alert(1)>"],
    ["<body onload=alert(1)>"],
    ["<object data=x>"],
    ["<embed src=x>"],
    ["<iframe src=x>"],
    ["<svg/onload=alert(1)>"],
    ["<a href=javascript:alert(1)>x</a>"],
  ])("JPEG comment with %j", async (markup) => {
    await expect(sniffDeep(jpegWithComment(markup), ALL)).rejects.toThrow(/polyglot: a JPEG that also carries HTML\/script/);
  });

  it("<script> after the first KiB: in a JPEG comment, after a PNG's end, in an MP4 box", async () => {
    await expect(sniffDeep(jpegWithComment("<script>alert(1)</script>", 4096), ALL)).rejects.toThrow(/JPEG that also carries HTML/);
    const png = concat(makePng(40, 30), new Uint8Array(2048), ascii("<script>alert(1)</script>"));
    await expect(sniffDeep(png, ALL)).rejects.toThrow(/PNG that also carries HTML/);
    const mp4 = concat(makeMp4(), mp4Box("free", concat(new Uint8Array(2048), ascii("<svg onload=alert(1)>"))));
    await expect(sniffDeep(mp4, ALL)).rejects.toThrow(/MP4 that also carries HTML/);
  });

  it("honest media and text that only mentions tags pass", async () => {
    expect((await sniffDeep(makeJpeg(800, 600), ALL)).type).toBe("jpeg");
    expect((await sniffDeep(makePng(300, 200), ALL)).type).toBe("png");
    expect((await sniffDeep(makeMp4(), ALL)).type).toBe("mp4");
    expect((await sniffDeep(jpegWithComment("Taken at <unit 5> by Bob, svg and script"), ALL)).type).toBe("jpeg");
  });

  it("a photo upload with markup past the first KiB answers 415 through the API", async () => {
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(job.job_id));
    form.append("file", new Blob([jpegWithComment("<img src=x onerror=alert(1)>", 2048)]), "boiler.jpg");
    const res = await api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form });
    expectStatus(res, 415);
    expect(res.body.message).toMatch(/^file: file is a polyglot: a JPEG that also carries HTML\/script content$/);
  });
});

describe("PDF JavaScript is refused", () => {
  it.each([
    [
      "an /OpenAction running JavaScript",
      "1 0 obj<</Type/Catalog/OpenAction 3 0 R>>endobj\n3 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj",
    ],
    ["/JS alone", "1 0 obj<</Type/Catalog/AA<</O<</JS(app.alert(1))>>>>>>endobj"],
    ["a name spelt with #xx escapes", "1 0 obj<</Type/Catalog/OpenAction<</S/J#61vaScript/J#53(x)>>>>endobj"],
  ])("%s", async (_name, body) => {
    await expect(sniffDeep(pdfWith(body), ALL)).rejects.toThrow(
      "PDF contains JavaScript (/JavaScript, /JS or an /OpenAction running it): not accepted",
    );
  });

  it("JavaScript inside a compressed object stream", async () => {
    const objects = await deflateZlib(ascii("3 0 <</S/JavaScript/JS(app.alert(1))>>"));
    const objStmPdf = (junk: string) =>
      concat(
        ascii(
          `%PDF-1.5\n1 0 obj<</Type/Catalog/OpenAction 3 0 R>>endobj\n2 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length ${objects.length}>>stream\n`,
        ),
        objects,
        ascii(`${junk}\nendstream\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n`),
      );
    expect(() => sniff(objStmPdf(""), ALL)).toThrow(/PDF contains JavaScript/); // sniff decodes streams itself now
    await expect(sniffDeep(objStmPdf(""), ALL)).rejects.toThrow(/PDF contains JavaScript/);
    // Junk after the data (readers shrug it off) does not hide it either.
    await expect(sniffDeep(objStmPdf("JUNK"), ALL)).rejects.toThrow(/PDF contains JavaScript|PDF object stream is corrupt/);
  });

  it("a plain PDF (and one naming /JSON-like keys) passes; the documents API answers 415 with the reason", async () => {
    expect((await sniffDeep(makePdf(), ALL)).type).toBe("pdf");
    expect((await sniffDeep(pdfWith("1 0 obj<</Type/Catalog/JSONData 2 0 R>>endobj"), ALL)).type).toBe("pdf");
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(job.job_id));
    form.append("file_type_id", "1");
    form.append("file", new Blob([pdfWith("1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(x)>>>>endobj")]), "report.pdf");
    const res = await api("POST", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: form });
    expectStatus(res, 415);
    expect(res.body.message).toBe("file: PDF contains JavaScript (/JavaScript, /JS or an /OpenAction running it): not accepted");
  });
});

describe("DOCX sizes come from the inflated data (finding: an understating central directory passed)", () => {
  const types = { name: "[Content_Types].xml", data: ascii("<Types/>") };

  it("a bomb whose directory claims a small size is refused once inflation passes the cap", async () => {
    const zeros = new Uint8Array(40 * 1024 * 1024);
    const packed = await deflateRaw(zeros);
    const bomb = makeZip([types, { name: "word/document.xml", data: packed, uncompressedSize: packed.length * 2, method: 8 }]);
    expect(sniff(bomb, ALL).type).toBe("docx"); // the directory alone looks honest
    await expect(sniffDeep(bomb, ALL)).rejects.toThrow("zip bomb: word/document.xml expands more than 100:1");
  });

  it("an entry that inflates to another size than claimed is refused; an honest document passes", async () => {
    const xml = ascii(`<w:document>${"<w:p>Boiler service report. </w:p>".repeat(500)}</w:document>`);
    const packed = await deflateRaw(xml);
    const lying = makeZip([types, { name: "word/document.xml", data: packed, uncompressedSize: 1000, method: 8 }]);
    await expect(sniffDeep(lying, ALL)).rejects.toThrow(
      `ZIP entry word/document.xml inflates to ${xml.length} bytes, not the 1000 its directory claims`,
    );
    const honest = makeZip([types, { name: "word/document.xml", data: packed, uncompressedSize: xml.length, method: 8 }]);
    expect((await sniffDeep(honest, ALL)).type).toBe("docx");
    expect((await sniffDeep(makeDocx(), ALL)).type).toBe("docx");
  });
});

describe("note attachments: an allow-list by bytes", () => {
  const attach = (files: [string, Uint8Array][], message = "Files") => {
    const f = new FormData();
    f.append("job_uuid", job.job_uuid);
    f.append("message", message);
    for (const [name, bytes] of files) f.append("attachments", new File([bytes], name, { type: "text/plain" }));
    return api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body: f });
  };

  it.each([
    ["page.txt", "<!doctype html><html><body>hi</body></html>", " is not a PDF, JPEG, PNG or plain-text file"],
    ["logo.txt", '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', " is not a PDF, JPEG, PNG or plain-text file"],
    ["x.txt", '<?xml version="1.0"?><svg/>', " is not a PDF, JPEG, PNG or plain-text file"],
    ["notes.txt", "see <img src=x onerror=alert(1)>", ": carries HTML/script content"],
  ])("%s (markup as text/plain) is refused", async (name, text, reason) => {
    const res = await attach([[name, ascii(text)]]);
    expectStatus(res, 415);
    expect(res.body.message).toBe(`attachments: ${name}${reason}`);
  });

  it("images carrying markup and PDFs carrying JavaScript are refused", async () => {
    const img = await attach([["p.jpg", jpegWithComment("<body onload=alert(1)>", 3000)]]);
    expectStatus(img, 415);
    // The same sniffer as photo and document uploads, with its reasons.
    expect(img.body.message).toMatch(/^attachments: p\.jpg: file is a polyglot: a JPEG that also carries HTML/);
    const pdf = await attach([["a.pdf", pdfWith("1 0 obj<</OpenAction<</S/JavaScript/JS(x)>>>>endobj")]]);
    expectStatus(pdf, 415);
    expect(pdf.body.message).toMatch(/^attachments: a\.pdf: PDF contains JavaScript/);
  });

  it("plain text that mentions a < still passes; bidirectional controls leave file names", async () => {
    const res = await attach([
      ["log.txt", ascii("temp < 60 and pressure > 1 bar\n")],
      ["invoice\u202Efdp.exe.pdf", makePdf()],
    ]);
    expectStatus(res, 201);
    const notes = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${job.job_uuid}`, { token: staff.token });
    const note = notes.body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note.attachments.map((a: { filename: string }) => a.filename)).toEqual(["log.txt", "invoicefdp.exe.pdf"]);
  });

  it("safeFilename strips every bidirectional control", () => {
    expect(safeFilename("a\u202Ab\u202Bc\u202Cd\u202De\u202Ef\u2066g\u2067h\u2068i\u2069j\u200Ek\u200Fl\u061Cm.pdf")).toBe(
      "abcdefghijklm.pdf",
    );
  });
});

describe("signed object URLs", () => {
  it("verification refuses an expiry beyond what the signer issues (finding: any exp accepted)", async () => {
    const key = `jobs/${job.job_uuid}/photos/00000000-0000-0000-0000-000000000000/original.jpg`;
    // Signed with the real secret, as a leaked or forged long-lived URL would be: a year out.
    const far = new URL(await signObjectUrl(env, "GET", key, 3600, Date.now() + 365 * 86_400_000));
    const params = Object.fromEntries(far.searchParams);
    expect(await verifyObjectUrl(env.SIGNING_SECRET, "GET", params)).toBe("invalid");
    const res = await exports.default.fetch(new Request(far.toString()));
    expect(res.status).toBe(403);
    const fresh = Object.fromEntries(new URL(await signObjectUrl(env, "GET", key, 3600)).searchParams);
    expect(await verifyObjectUrl(env.SIGNING_SECRET, "GET", fresh)).toBe("ok");
  });
});

describe("a contractor's note by email", () => {
  it("is not mailed to the private contact the contractor cannot see; staff notes still are", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const body = {
      job_uuid: job.job_uuid,
      message: '<p>Done <img src="https://tracker.example/p.gif"><a href="https://x.example">here</a></p>',
      send_email: true,
    };
    const byContractor = await api("POST", "/api/jobs/case-notes", { token: contractor.token, csrf: contractor.csrf, body });
    expectStatus(byContractor, 201);
    const contractorTo = send.mock.calls.map((c) => (c[0] as unknown as { to: string }).to);
    send.mockClear();
    const byStaff = await api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body });
    expectStatus(byStaff, 201);
    const staffTo = send.mock.calls.map((c) => (c[0] as unknown as { to: string }).to);
    const raws = await Promise.all(
      send.mock.calls.map((c) => PostalMime.parse(String((c[0] as unknown as Record<string, unknown>)["EmailMessage::raw"]))),
    );
    send.mockRestore();
    // The contractor company's address is a party like the agent; the private contact is not mailed.
    expect(contractorTo.sort()).toEqual(["agent1@example.test", "contractor1@example.test"]);
    expect(staffTo.sort()).toEqual(["agent1@example.test", "contractor1@example.test", "tenant.contact@example.test"]);
    expect(raws).toHaveLength(3);
  });
});
