import { env } from "cloudflare:test";
import PostalMime from "postal-mime";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { makePng } from "../../../../scripts/lib/media-fixtures";
import { scopeFor } from "../../../../src/app/scope";
import type { Permission } from "../../../../src/auth/permissions";
import { ROLE_PERMISSIONS } from "../../../../src/auth/permissions";
import { fieldCipher } from "../../../../src/crypto/fields";
import type { Principal } from "../../../../src/domain/caller";
import { ApiError } from "../../../../src/domain/errors";
import { encryptNote } from "../../../../src/domain/notes";
import { noteReplyAddress } from "../../../../src/email/note-mail";
import { createNote } from "../../../../src/jobs/case-notes/service";
import { createServices } from "../../../../src/platform/services";
import { type Actor, actor, api, createJob, csrfFor, expectStatus, type Fixtures, makeUser, seedFixtures } from "../../../support/helpers";

let fx: Fixtures;
let staff: Actor;
let contractor: Actor;
let otherContractor: Actor;
let job: { job_id: number; job_uuid: string; job_ref: string };
let otherJob: { job_uuid: string };

const PATH = "/api/jobs/case-notes";
const PDF = new TextEncoder().encode("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");
// A real PNG: note files go through the same structural sniffer as photos (src/media/sniff.ts).
const PNG = makePng(4, 4);
const EXE = new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00]);

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  contractor = await actor("contractor", { contractorId: fx.contractorId });
  otherContractor = await actor("contractor", { contractorId: fx.otherContractorId });
  job = await createJob(staff, fx, { agent_id: fx.agentId, private_contact_email: "tenant.contact@example.test" });
  otherJob = await createJob(staff, fx, { contractor_id: fx.otherContractorId });
});

afterEach(() => {
  vi.restoreAllMocks();
});

const create = (who: Actor, body: Record<string, unknown>, as: "json" | "form" | "multipart" = "json") =>
  api("POST", PATH, { token: who.token, csrf: who.csrf, body, as });
const post = create;
const list = (who: Actor, jobUuid: string) => api("GET", `${PATH}?action=list&job_uuid=${jobUuid}`, { token: who.token });
const noteRows = () =>
  env.DB.prepare("SELECT * FROM case_notes ORDER BY id")
    .all<Record<string, unknown>>()
    .then((r) => r.results);
const counts = async () => ({
  notes: (await env.DB.prepare("SELECT count(*) AS n FROM case_notes").first<{ n: number }>())?.n,
  files: (await env.DB.prepare("SELECT count(*) AS n FROM note_attachments").first<{ n: number }>())?.n,
  objects: (await env.MEDIA.list({ prefix: "jobs/" })).objects.filter((o) => o.key.includes("/notes/")).length,
  audit: (await env.DB.prepare("SELECT count(*) AS n FROM audit_events WHERE action LIKE 'case_note.%'").first<{ n: number }>())?.n,
});
const auditOf = (jobUuid: string) =>
  env.DB.prepare("SELECT action, changes, actor_name FROM audit_events WHERE job_uuid = ? AND action LIKE 'case_note.%' ORDER BY id")
    .bind(jobUuid)
    .all<{ action: string; changes: string; actor_name: string }>()
    .then((r) => r.results);
/** The raw MIME the send_email binding received (miniflare keeps it on the EmailMessage). */
const rawOf = (m: unknown) => {
  const raw = (m as Record<string, unknown>)["EmailMessage::raw"];
  expect(typeof raw, "the EmailMessage should carry its raw MIME").toBe("string");
  return raw as string;
};

describe("create and list", () => {
  it("creates a plain-text note as the reference does (no action) and lists it with the reference's fields", async () => {
    const res = await create(staff, { job_uuid: job.job_uuid, message: "Contractor attended site and completed boiler service." });
    expectStatus(res, 201);
    expect(res.body).toEqual({
      success: true,
      note_uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      note_id: expect.any(Number),
      email_status: "none",
      email_error: null,
      attachments_count: 0,
      message: "Case note created",
    });
    const listed = await list(staff, job.job_uuid);
    expectStatus(listed, 200);
    expect(listed.body.message).toBe("Operation completed successfully");
    const note = listed.body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note).toEqual({
      ID: res.body.note_id,
      uuid: res.body.note_uuid,
      job_id: job.job_id,
      message: "Contractor attended site and completed boiler service.",
      created_by_name: expect.stringMatching(/^Staff_/),
      send_email: false,
      attachments_count: 0,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      parent_uuid: null,
      is_html: false,
      is_pinned: false,
      source: "api",
      email_status: "none",
      email_error: null,
      updated_at: expect.any(String),
      attachments: [],
    });
    expect(listed.body.count).toBe(listed.body.data.length);
  });

  it.each([
    ["<img/src=x/onerror=alert(1)> text", "text"],
    ["x <svg/onload=alert(1)>", "x"],
    ["y <iframe/src=javascript:alert(1)>", "y"],
    ["z <img src=x onerror=alert(1)", "z"],
  ])("markup not written as well-formed HTML is sanitised too: %j", async (input, shown) => {
    const res = await create(staff, { job_uuid: job.job_uuid, message: input }, "form");
    expectStatus(res, 201);
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note).toMatchObject({ is_html: true, message: shown });
  });

  it("returns markup stored as plain text by earlier versions sanitised", async () => {
    const res = await create(staff, { job_uuid: job.job_uuid, message: "legacy" });
    const sealed = await encryptNote(await fieldCipher(env), res.body.note_uuid, {
      message: "<img/src=x/onerror=alert(1)>legacy",
      text: "legacy",
    });
    await env.DB.prepare("UPDATE case_notes SET message = ?, is_html = 0 WHERE uuid = ?").bind(sealed.message, res.body.note_uuid).run();
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note).toMatchObject({ is_html: true, message: "legacy" });
  });

  it("stores no plaintext: message, message_text are sealed per note", async () => {
    const secret = "Key safe code 4711 behind the bins";
    const res = await create(staff, { job_uuid: job.job_uuid, message: `<p>${secret}</p>` }, "form");
    expectStatus(res, 201);
    const row = (await noteRows()).find((r) => r.uuid === res.body.note_uuid);
    expect(row?.message).toMatch(/^v1\.k2\./);
    expect(row?.message_text).toMatch(/^v1\.k2\./);
    expect(JSON.stringify(row)).not.toContain("4711");
    // A note's ciphertext does not decrypt as another note's.
    const other = (await noteRows()).find((r) => r.uuid !== res.body.note_uuid);
    await env.DB.prepare("UPDATE case_notes SET message = ? WHERE uuid = ?").bind(row?.message, other?.uuid).run();
    const broken = await list(staff, job.job_uuid);
    expectStatus(broken, 500);
    await env.DB.prepare("UPDATE case_notes SET message = ? WHERE uuid = ?").bind(other?.message, other?.uuid).run();
    expectStatus(await list(staff, job.job_uuid), 200);
  });

  it("sanitises hostile HTML before storage and keeps its plain text", async () => {
    const res = await create(staff, {
      action: "create",
      job_uuid: job.job_uuid,
      message: `<p onclick="steal()">Fixed <b>leak</b><script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(3)">here</a></p>`,
    });
    expectStatus(res, 201);
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note).toMatchObject({ is_html: true, message: "<p>Fixed <b>leak</b> <a>here</a></p>" });
  });

  it("writes an audit event on the job for the creation, naming the note but not its text", async () => {
    const events = await auditOf(job.job_uuid);
    const created = events.filter((e) => e.action === "case_note.created");
    expect(created.length).toBeGreaterThanOrEqual(3);
    for (const e of created) expect(e.changes).not.toContain("Contractor attended");
    expect(JSON.parse(created[0]?.changes ?? "{}")).toMatchObject({ message: { changed: true }, send_email: false });
  });

  it("lets the assigned contractor write and read notes on their job only", async () => {
    expectStatus(await create(contractor, { job_uuid: job.job_uuid, message: "On my way" }), 201);
    expectStatus(await list(contractor, job.job_uuid), 200);
    const before = await counts();
    const theirs = await create(otherContractor, { job_uuid: job.job_uuid, message: "Not my job" });
    expectStatus(theirs, 404);
    expect(theirs.body.message).toBe("Job not found");
    const read = await list(otherContractor, job.job_uuid);
    expectStatus(read, 404);
    expect(read.body.message).toBe("Job not found");
    expectStatus(await list(contractor, otherJob.job_uuid), 404);
    expectStatus(await create(contractor, { job_uuid: otherJob.job_uuid, message: "Not mine either" }), 404);
    expectStatus(await list(otherContractor, otherJob.job_uuid), 200);
    expect(await counts()).toEqual(before);
  });

  it("lists every note of a job without limit, as the reference's list shows (beyond the old 50)", async () => {
    const long = await createJob(staff, fx);
    const made: string[] = [];
    for (let i = 1; i <= 60; i++) {
      const res = await create(staff, { job_uuid: long.job_uuid, message: `Site visit ${i}` });
      expectStatus(res, 201);
      made.push(res.body.note_uuid);
    }
    // The reference's call: action=list&job_uuid=…, nothing else.
    const all = await list(staff, long.job_uuid);
    expectStatus(all, 200);
    expect(all.body).toMatchObject({ success: true, count: 60, message: "Operation completed successfully" });
    expect(all.body.data.map((n: { uuid: string }) => n.uuid)).toEqual(made);
    expect(all.body.data[59]).toMatchObject({ job_id: long.job_id, message: "Site visit 60", created_by_name: expect.any(String) });

    const page = (query: string) => api("GET", `${PATH}?action=list&job_uuid=${long.job_uuid}&${query}`, { token: staff.token });
    const ten = await page("limit=10&offset=5");
    expectStatus(ten, 200);
    expect(ten.body.data.map((n: { uuid: string }) => n.uuid)).toEqual(made.slice(5, 15));
    expect(ten.body.count).toBe(60);
    // offset alone: the rest of the thread.
    const rest = await page("offset=55");
    expect(rest.body.data.map((n: { uuid: string }) => n.uuid)).toEqual(made.slice(55));
    expect((await page("limit=500")).body.data).toHaveLength(60);
    for (const [query, message] of [
      ["limit=501", "must be at most 500"],
      ["limit=0", "must be at least 1"],
      ["limit=ten", "must be an integer"],
    ]) {
      const bad = await page(String(query));
      expectStatus(bad, 400);
      expect(bad.body.errors, query).toEqual([{ field: "limit", message }]);
    }
  });

  it("pages with limit/offset while count stays the total", async () => {
    const page = await api("GET", `${PATH}?action=list&job_uuid=${job.job_uuid}&limit=1&offset=1`, { token: staff.token });
    expectStatus(page, 200);
    expect(page.body.data).toHaveLength(1);
    expect(page.body.count).toBeGreaterThan(2);
  });
});

describe("bad input stores nothing", () => {
  const cases: [string, () => Record<string, unknown>, number, string][] = [
    ["missing job_uuid", () => ({ message: "x" }), 400, "job_uuid: is required"],
    ["missing message", () => ({ job_uuid: job.job_uuid }), 400, "message: is required"],
    ["empty message", () => ({ job_uuid: job.job_uuid, message: "   " }), 400, "message: must not be empty"],
    [
      "oversized message",
      () => ({ job_uuid: job.job_uuid, message: "x".repeat(50_001) }),
      400,
      "message: must be at most 50000 characters",
    ],
    [
      "HTML with nothing safe left",
      () => ({ job_uuid: job.job_uuid, message: "<script>alert(1)</script><iframe src=x></iframe>" }),
      400,
      "message: has no text left once unsafe HTML is removed",
    ],
    ["malformed job_uuid", () => ({ job_uuid: "not-a-uuid", message: "x" }), 400, "job_uuid: must be a UUID"],
    ["unknown job", () => ({ job_uuid: crypto.randomUUID(), message: "x" }), 404, "Job not found"],
    [
      "unknown action",
      () => ({ action: "explode", uuid: crypto.randomUUID() }),
      400,
      "action: is missing or unknown; expected one of: create, update, delete, attach",
    ],
  ];
  it.each(cases)("%s", async (_name, body, status, message) => {
    const before = await counts();
    const res = await create(staff, body());
    expectStatus(res, status);
    expect(res.body.message).toBe(message);
    expect(await counts()).toEqual(before);
  });

  it("403 on an archived job", async () => {
    const archived = await createJob(staff, fx);
    await env.DB.prepare("UPDATE jobs SET status_id = 9 WHERE uuid = ?").bind(archived.job_uuid).run();
    const before = await counts();
    const res = await create(staff, { job_uuid: archived.job_uuid, message: "x" });
    expectStatus(res, 403);
    expect(res.body.message).toBe("Archived jobs cannot be changed");
    expect(await counts()).toEqual(before);
  });

  it("list: missing or unknown job", async () => {
    const missing = await api("GET", `${PATH}?action=list`, { token: staff.token });
    expectStatus(missing, 400);
    expect(missing.body.message).toBe("job_uuid: is required");
    const unknown = await list(staff, crypto.randomUUID());
    expectStatus(unknown, 404);
  });
});

describe("send_email", () => {
  it("sends a MIME message per party through the binding and records the Message-ID", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const res = await create(staff, { job_uuid: job.job_uuid, message: "<p>Parts <b>ordered</b></p>", send_email: true });
    expectStatus(res, 201);
    expect(res.body).toMatchObject({ email_status: "sent", email_error: null });
    const uuid = res.body.note_uuid;

    const sent = send.mock.calls.map((c) => c[0] as unknown as { from: string; to: string });
    expect(sent.map((m) => m.to).sort()).toEqual(["agent1@example.test", "contractor1@example.test", "tenant.contact@example.test"]);
    for (const m of send.mock.calls.map((c) => c[0])) {
      const parsed = await PostalMime.parse(rawOf(m));
      expect(parsed.messageId).toBe(`<note-${uuid}@propops.example.com>`);
      // Reply-To is issued to this recipient alone (see email-inbound.test.ts for what it opens).
      const recipient = (m as unknown as { to: string }).to;
      expect(parsed.replyTo?.[0]).toMatchObject({
        address: await noteReplyAddress(env.SIGNING_SECRET, uuid, recipient, "propops.example.com"),
      });
      expect(parsed.from).toMatchObject({ address: "jobs@propops.example.com" });
      // Each copy names only its own recipient: the private contact's address is not shown to the others.
      expect(parsed.to?.map((t) => t.address)).toEqual([(m as unknown as { to: string }).to]);
      expect(parsed.subject).toBe(`[${job.job_ref}] Boiler Service - Unit 001`);
      expect(parsed.text).toContain("Parts ordered");
      expect(parsed.html).toContain("<p>Parts <b>ordered</b></p>");
    }

    const row = (await noteRows()).find((r) => r.uuid === uuid);
    expect(row).toMatchObject({ email_status: "sent", email_message_id: `<note-${uuid}@propops.example.com>`, send_email: 1 });
    expect(String(row?.email_recipients)).not.toContain("@");
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === uuid);
    expect(note).toMatchObject({ send_email: true, email_status: "sent", email_error: null });
    const events = (await auditOf(job.job_uuid)).map((e) => e.action);
    expect(events).toContain("case_note.emailed");
  });

  it("never mails the author themselves", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    expectStatus(await create(contractor, { job_uuid: job.job_uuid, message: "Done", send_email: true }), 201);
    const to = send.mock.calls.map((c) => (c[0] as unknown as { to: string }).to);
    // The contractor user's own address differs from the contractor record's; the private contact,
    // whom contractors cannot see, is not mailed their notes (uploads-hardening.test.ts).
    expect(to.sort()).toEqual(["agent1@example.test", "contractor1@example.test"]);
    // The address changed before the token's first use: once used, its caller (email included) is
    // cached in this isolate for up to 30 s (src/auth/token-cache.ts).
    const user = await makeUser("staff");
    await env.DB.prepare("UPDATE users SET email = 'agent1@example.test' WHERE id = ?").bind(user.userId).run();
    const same = { ...user, csrf: await csrfFor(user.token) };
    send.mockClear();
    expectStatus(await create(same, { job_uuid: job.job_uuid, message: "Done", send_email: true }), 201);
    expect(send.mock.calls.map((c) => (c[0] as unknown as { to: string }).to)).not.toContain("agent1@example.test");
  });

  it("records a partial failure per party, visible on the note, and keeps the note", async () => {
    const send = vi.spyOn(env.EMAIL, "send").mockImplementation(async (m) => {
      if ((m as unknown as { to: string }).to === "agent1@example.test")
        throw new Error("destination address agent1@example.test not verified");
      return { messageId: "x" } as unknown as EmailSendResult;
    });
    const res = await create(staff, { job_uuid: job.job_uuid, message: "Partly", send_email: true });
    expectStatus(res, 201);
    expect(send).toHaveBeenCalledTimes(3);
    expect(res.body.email_status).toBe("partial");
    expect(res.body.email_error).toBe("agent: destination address <agent> not verified");
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note).toMatchObject({ email_status: "partial", email_error: "agent: destination address <agent> not verified" });
    expect((await auditOf(job.job_uuid)).at(-1)?.action).toBe("case_note.email_failed");
  });

  it("records a total failure, and no recipients at all as a failure", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("binding unavailable"));
    const failed = await create(staff, { job_uuid: job.job_uuid, message: "Nobody gets this", send_email: true });
    expectStatus(failed, 201);
    expect(failed.body.email_status).toBe("failed");
    expect(failed.body.email_error).toContain("contractor: binding unavailable");
    vi.restoreAllMocks();

    const lonely = await createJob(staff, fx, { contractor_id: "" });
    const none = await create(staff, { job_uuid: lonely.job_uuid, message: "Anyone?", send_email: "true" }, "form");
    expectStatus(none, 201);
    expect(none.body).toMatchObject({ email_status: "failed", email_error: expect.stringMatching(/^No recipients/) });
    const note = (await list(staff, lonely.job_uuid)).body.data[0];
    expect(note).toMatchObject({ email_status: "failed", send_email: true });
  });
});

describe("attachments", () => {
  const form = (fields: Record<string, string>, files: [string, Uint8Array][]) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    for (const [name, bytes] of files) f.append("attachments", new File([bytes], name));
    return f;
  };
  const send = (who: Actor, body: FormData) => api("POST", PATH, { token: who.token, csrf: who.csrf, body });

  it("uploads files with the note, lists them and serves them for download", async () => {
    const res = await send(
      staff,
      form({ job_uuid: job.job_uuid, message: "Invoice and photo" }, [
        ["invoice.pdf", PDF],
        ["meter.png", PNG],
      ]),
    );
    expectStatus(res, 201);
    expect(res.body.attachments_count).toBe(2);
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === res.body.note_uuid);
    expect(note.attachments_count).toBe(2);
    expect(note.attachments).toEqual([
      {
        uuid: expect.any(String),
        filename: "invoice.pdf",
        content_type: "application/pdf",
        size: PDF.length,
        download_url: expect.any(String),
      },
      { uuid: expect.any(String), filename: "meter.png", content_type: "image/png", size: PNG.length, download_url: expect.any(String) },
    ]);
    const objects = await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/notes/${res.body.note_uuid}/` });
    expect(objects.objects).toHaveLength(2);

    const dl = await api("GET", note.attachments[0].download_url, { token: contractor.token });
    expectStatus(dl, 200);
    expect(dl.headers.get("content-type")).toBe("application/pdf");
    expect(dl.headers.get("content-disposition")).toContain('attachment; filename="invoice.pdf"');
    expect(dl.body).toContain("%PDF-1.4");
    const denied = await api("GET", note.attachments[0].download_url, { token: otherContractor.token });
    expectStatus(denied, 404);
    expect(denied.body.message).toBe("Attachment not found");
  });

  it("adds files to an existing note (action=attach)", async () => {
    const created = await create(staff, { job_uuid: job.job_uuid, message: "Files later" });
    const res = await send(
      staff,
      form({ action: "attach", uuid: created.body.note_uuid }, [["notes.txt", new TextEncoder().encode("plain notes\n")]]),
    );
    expectStatus(res, 200);
    const note = (await list(staff, job.job_uuid)).body.data.find((n: { uuid: string }) => n.uuid === created.body.note_uuid);
    expect(note.attachments.map((a: { content_type: string }) => a.content_type)).toEqual(["text/plain"]);
    const last = (await auditOf(job.job_uuid)).at(-1);
    expect(last?.action).toBe("case_note.attachments_added");
    expect(JSON.parse(last?.changes ?? "{}")).toEqual({ note_uuid: created.body.note_uuid, attachments: ["notes.txt"] });
  });

  it.each([
    [
      "a type the bytes do not show as accepted",
      [["tool.pdf", EXE]] as [string, Uint8Array][],
      415,
      "attachments: tool.pdf is not a PDF, JPEG, PNG or plain-text file",
    ],
    [
      "a file over 5 MB",
      [["big.pdf", new Uint8Array(5 * 1024 * 1024 + 1).fill(0x25)]] as [string, Uint8Array][],
      413,
      "attachments: big.pdf is larger than 5 MB",
    ],
    [
      "more than 5 files",
      Array.from({ length: 6 }, (_, i) => [`f${i}.pdf`, PDF]) as [string, Uint8Array][],
      400,
      "attachments: at most 5 files per note",
    ],
  ])("rejects %s and stores nothing", async (_name, files, status, message) => {
    const before = await counts();
    const res = await send(staff, form({ job_uuid: job.job_uuid, message: "with files" }, files));
    expectStatus(res, status);
    expect(res.body.message).toBe(message);
    expect(await counts()).toEqual(before);
  });
});

describe("update and delete", () => {
  it("edits the text (re-sealed), toggles the pin (pinned first), audits each change", async () => {
    const created = await create(staff, { job_uuid: job.job_uuid, message: "Frist draft" });
    const uuid = created.body.note_uuid;
    const before = (await noteRows()).find((r) => r.uuid === uuid);
    const edit = await post(staff, { action: "update", uuid, message: "<p>First draft</p>" });
    expectStatus(edit, 200);
    expect(edit.body).toEqual({ success: true, note_uuid: uuid, changed_fields: ["message"], message: "Case note updated" });
    const after = (await noteRows()).find((r) => r.uuid === uuid);
    expect(after?.message).not.toBe(before?.message);

    const pin = await post(staff, { action: "update", uuid, is_pinned: true }, "form");
    expectStatus(pin, 200);
    expect(pin.body.changed_fields).toEqual(["is_pinned"]);
    const data = (await list(staff, job.job_uuid)).body.data;
    expect(data[0]).toMatchObject({ uuid, is_pinned: true, message: "<p>First draft</p>", is_html: true });

    const same = await post(staff, { action: "update", uuid, is_pinned: true });
    expect(same.body).toMatchObject({ changed_fields: [], message: "No changes: the note already has these values" });
    const events = (await auditOf(job.job_uuid)).filter((e) => e.action === "case_note.updated").slice(-2);
    expect(events.map((e) => JSON.parse(e.changes))).toEqual([
      { note_uuid: uuid, message: { changed: true } },
      { note_uuid: uuid, is_pinned: { before: false, after: true } },
    ]);
    await post(staff, { action: "update", uuid, is_pinned: false });
  });

  // Pinning reorders everyone's view of the job's notes: the same moderation rule as editing.
  describe.each([
    ["admin", true],
    ["manager", true],
    ["staff", true],
    ["agent", false],
    ["contractor", false],
  ] as const)("pinning as %s", (role, moderates) => {
    let who: Actor;
    let author: Actor;
    beforeAll(async () => {
      who = await actor(role, { contractorId: role === "contractor" ? fx.contractorId : null });
      author = await actor("agent");
    });

    it(`${moderates ? "may" : "may not"} pin or unpin someone else's note`, async () => {
      const created = await create(author, { job_uuid: job.job_uuid, message: `Agent's note for ${role}` });
      const uuid = created.body.note_uuid;
      const before = await counts();
      const pin = await post(who, { action: "update", uuid, is_pinned: true });
      if (!moderates) {
        expectStatus(pin, 403);
        expect(pin.body.message).toBe("Only the note's author or staff may pin this note");
        expect(await counts()).toEqual(before);
        // Pinned by its author, it cannot be unpinned by them either.
        expectStatus(await post(author, { action: "update", uuid, is_pinned: true }), 200);
        const unpin = await post(who, { action: "update", uuid, is_pinned: false });
        expectStatus(unpin, 403);
        expect(unpin.body.message).toBe("Only the note's author or staff may unpin this note");
        expect((await noteRows()).find((r) => r.uuid === uuid)?.is_pinned).toBe(1);
      } else {
        expectStatus(pin, 200);
        expect(pin.body.changed_fields).toEqual(["is_pinned"]);
        expectStatus(await post(who, { action: "update", uuid, is_pinned: false }), 200);
        expect((await noteRows()).find((r) => r.uuid === uuid)?.is_pinned).toBe(0);
      }
    });

    it("may pin and unpin their own note, and create it pinned", async () => {
      const created = await create(who, { job_uuid: job.job_uuid, message: `My own note (${role})`, is_pinned: true });
      expectStatus(created, 201);
      const uuid = created.body.note_uuid;
      expectStatus(await post(who, { action: "update", uuid, is_pinned: false }), 200);
      expectStatus(await post(who, { action: "update", uuid, is_pinned: true }), 200);
      // Restore the job's order for the other tests.
      expectStatus(await post(who, { action: "update", uuid, is_pinned: false }), 200);
    });
  });

  it("refuses text edits and deletion by someone else's contractor user, and bad updates", async () => {
    const created = await create(staff, { job_uuid: job.job_uuid, message: "Staff only" });
    const uuid = created.body.note_uuid;
    const before = await counts();
    const edit = await post(contractor, { action: "update", uuid, message: "Hacked" });
    expectStatus(edit, 403);
    expect(edit.body.message).toBe("Only the note's author or staff may edit this note");
    const del = await post(contractor, { action: "delete", uuid });
    expectStatus(del, 403);
    const hidden = await post(otherContractor, { action: "update", uuid, is_pinned: true });
    expectStatus(hidden, 404);
    expect(hidden.body.message).toBe("Case note not found");
    const nothing = await post(staff, { action: "update", uuid });
    expectStatus(nothing, 400);
    expect(nothing.body.message).toBe("message: send message and/or is_pinned");
    const hostile = await post(staff, { action: "update", uuid, message: "<script>x</script>" });
    expectStatus(hostile, 400);
    const unknown = await post(staff, { action: "delete", uuid: crypto.randomUUID() });
    expectStatus(unknown, 404);
    expect(await counts()).toEqual(before);
  });

  it("deletes a note with its files and audits it", async () => {
    const f = new FormData();
    f.append("job_uuid", job.job_uuid);
    f.append("message", "Temporary");
    f.append("attachments", new File([PDF], "a.pdf"));
    const created = await api("POST", PATH, { token: contractor.token, csrf: contractor.csrf, body: f });
    expectStatus(created, 201);
    const uuid = created.body.note_uuid;
    const prefix = `jobs/${job.job_uuid}/notes/${uuid}/`;
    expect((await env.MEDIA.list({ prefix })).objects).toHaveLength(1);
    const res = await post(contractor, { action: "delete", uuid });
    expectStatus(res, 200);
    expect(res.body).toEqual({ success: true, note_uuid: uuid, message: "Case note deleted" });
    expect((await noteRows()).some((r) => r.uuid === uuid)).toBe(false);
    expect((await env.MEDIA.list({ prefix })).objects).toEqual([]);
    const last = (await auditOf(job.job_uuid)).at(-1);
    expect(last).toMatchObject({ action: "case_note.deleted" });
  });

  it("deleting the job removes its notes, their rows and files", async () => {
    const doomed = await createJob(staff, fx);
    const f = new FormData();
    f.append("job_uuid", doomed.job_uuid);
    f.append("message", "Will go");
    f.append("attachments", new File([PNG], "p.png"));
    expectStatus(await api("POST", PATH, { token: staff.token, csrf: staff.csrf, body: f }), 201);
    expectStatus(
      await api("POST", "/api/jobs/manage", { token: staff.token, csrf: staff.csrf, body: { action: "delete", uuid: doomed.job_uuid } }),
      200,
    );
    const rows = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM case_notes WHERE job_id = ?1) + (SELECT count(*) FROM note_attachments WHERE job_id = ?1) AS n",
    )
      .bind(doomed.job_id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
    const prefix = `jobs/${doomed.job_uuid}/`;
    // The media queue's cleanup runs after the answer: bounded generously (a loaded machine).
    await vi.waitFor(async () => expect((await env.MEDIA.list({ prefix })).objects).toEqual([]), { timeout: 20_000, interval: 100 });
    const listed = await list(staff, doomed.job_uuid);
    expectStatus(listed, 404);
  });
});

describe("openapi", () => {
  it("documents both case-note operations", async () => {
    const doc = await api("GET", "/api/openapi.json");
    expect(Object.keys(doc.body.paths["/api/jobs/case-notes"])).toEqual(["get", "post"]);
    const get = doc.body.paths["/api/jobs/case-notes"].get;
    expect(get.description).toContain("Every note of the job unless `limit` is given (at most 500 per answer");
    const limit = (get.parameters as { name: string; description?: string }[]).find((p) => p.name === "limit");
    expect(limit?.description).toBe("At most this many notes (1–500). Absent: every note of the job, up to 500");
  });
});

describe("the case-note use cases, called without HTTP", () => {
  /** The caller as the token check would resolve it, for a scope of another channel. */
  async function principalOf(who: Actor, permissions?: Permission[]): Promise<Principal> {
    const u = await env.DB.prepare("SELECT name, email, agent_id FROM users WHERE id = ?")
      .bind(who.userId)
      .first<{ name: string; email: string; agent_id: number | null }>();
    return {
      tokenId: who.tokenId,
      userId: who.userId,
      userUuid: who.userUuid,
      name: u?.name ?? "",
      email: u?.email ?? "",
      role: who.role,
      contractorId: who.contractorId,
      agentId: u?.agent_id ?? null,
      permissions: new Set(permissions ?? ROLE_PERMISSIONS[who.role]),
    };
  }
  /** The status and message a use case refuses with (or 201 when it creates the note). */
  const direct = async (caller: Principal, jobUuid: string) => {
    try {
      await createNote(scopeFor(createServices(env), caller), {
        job_uuid: jobUuid,
        message: "Direct",
        send_email: false,
        is_pinned: false,
      });
      return { status: 201, message: "Case note created" };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return { status: err.status as number, message: err.message };
    }
  };

  it("refuses and admits each role as the HTTP route does", async () => {
    const narrowed = await actor("staff", { permissions: ["api.jobs.manage.list"] });
    const cases: [string, Actor, string, Permission[]?][] = [
      ["staff", staff, job.job_uuid],
      ["manager", await actor("manager"), job.job_uuid],
      ["admin", await actor("admin"), job.job_uuid],
      ["agent", await actor("agent", { agentId: fx.agentId }), job.job_uuid],
      ["contractor, own job", contractor, job.job_uuid],
      ["contractor, another's job", otherContractor, job.job_uuid],
      ["token without the permission", narrowed, job.job_uuid, ["api.jobs.manage.list"]],
      ["unknown job", staff, crypto.randomUUID()],
    ];
    for (const [label, who, jobUuid, permissions] of cases) {
      const http = await create(who, { job_uuid: jobUuid, message: "Over HTTP" });
      const got = await direct(await principalOf(who, permissions), jobUuid);
      expect(got, label).toEqual({ status: http.status, message: http.body.message });
    }
  });
});
