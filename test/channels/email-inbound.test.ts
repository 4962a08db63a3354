import { createExecutionContext, env } from "cloudflare:test";
import PostalMime from "postal-mime";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { stripQuoted } from "../../src/email/inbound";
import { noteReplyAddress } from "../../src/email/note-mail";
import worker from "../../src/index";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";

const DOMAIN = "propops.example.com";
const PDF = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

let fx: Fixtures;
let staff: Actor;
let job: { job_id: number; job_uuid: string; job_ref: string };
/** The note that was emailed, and the outbound message the contractor received. */
let note: { uuid: string; messageId: string; subject: string; text: string };
/** The Reply-To each recipient's copy of that note carried, by recipient address. */
let replyTo: Record<string, string>;

/** The Reply-To address of each copy sent through the spied send_email binding, by recipient. */
async function replyAddresses(send: { mock: { calls: unknown[][] } }): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [m] of send.mock.calls) {
    const msg = m as Record<string, unknown>;
    const parsed = await PostalMime.parse(String(msg["EmailMessage::raw"]));
    out[String(msg.to)] = parsed.replyTo?.[0]?.address ?? "";
  }
  return out;
}

interface Inbound {
  rejected: string | undefined;
}

/**
 * Delivers a raw RFC 822 message to the Worker's email() handler, as Email Routing would. The
 * envelope sender defaults to the From header's address, the recipient to the reply address the
 * note's email gave that sender.
 */
async function deliver(raw: string, opts: { from?: string; to?: string; rawSize?: number } = {}): Promise<Inbound> {
  const bytes = new TextEncoder().encode(raw);
  const result: Inbound = { rejected: undefined };
  const headerFrom = /^From: [^\r\n]*<([^>\r\n]+)>/m.exec(raw)?.[1] ?? "contractor1@example.test";
  const from = opts.from ?? headerFrom;
  const message = {
    from,
    to: opts.to ?? replyTo[from.toLowerCase()] ?? `notes+${note.uuid}@${DOMAIN}`,
    headers: new Headers(),
    raw: new Blob([bytes]).stream(),
    rawSize: opts.rawSize ?? bytes.byteLength,
    setReject(reason: string) {
      result.rejected = reason;
    },
    forward: async () => ({}) as EmailSendResult,
    reply: async () => ({}) as EmailSendResult,
  } as unknown as ForwardableEmailMessage;
  const ctx = createExecutionContext();
  await worker.email(message, env, ctx);
  return result;
}

/** A reply as a mail client writes it: new text above, the original quoted below. */
function reply(
  o: {
    from?: string;
    messageId?: string | null;
    inReplyTo?: string | null;
    references?: string;
    body?: string;
    extraHeaders?: string[];
    attachments?: { name: string; type: string; content: string }[];
    html?: string;
  } = {},
) {
  const messageId = o.messageId === undefined ? `<${crypto.randomUUID()}@mail.example.test>` : o.messageId;
  const inReplyTo = o.inReplyTo === undefined ? note.messageId : o.inReplyTo;
  const body =
    o.body ??
    `Thanks, I will attend on Tuesday morning.\n\nBob\n\nOn Mon, 1 Jun 2024 at 14:00, Staff via PropOps <jobs@${DOMAIN}> wrote:\n${note.text
      .split("\n")
      .map((l) => `> ${l}`)
      .join("\n")}\n`;
  const headers = [
    `From: Bob Builder <${o.from ?? "contractor1@example.test"}>`,
    `To: notes+${note.uuid}@${DOMAIN}`,
    `Subject: Re: ${note.subject}`,
    "Date: Tue, 02 Jun 2024 09:00:00 +0000",
    ...(messageId ? [`Message-ID: ${messageId}`] : []),
    ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`] : []),
    ...(o.references !== undefined ? [`References: ${o.references}`] : inReplyTo ? [`References: ${inReplyTo}`] : []),
    "MIME-Version: 1.0",
    ...(o.extraHeaders ?? []),
  ];
  const textPart = o.html
    ? `Content-Type: text/html; charset=utf-8\r\n\r\n${o.html}`
    : `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body.replaceAll("\n", "\r\n")}`;
  if (!o.attachments?.length) return `${headers.join("\r\n")}\r\n${textPart}\r\n`;
  const b = "b0undary";
  const parts = [
    textPart,
    ...o.attachments.map(
      (a) =>
        `Content-Type: ${a.type}; name="${a.name}"\r\nContent-Disposition: attachment; filename="${a.name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${btoa(a.content)}`,
    ),
  ];
  return `${headers.join("\r\n")}\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n${parts.map((p) => `--${b}\r\n${p}\r\n`).join("")}--${b}--\r\n`;
}

/** The message with its From header replaced. */
const withFrom = (raw: string, from: string) => raw.replace(/^From: [^\r\n]*/m, `From: ${from}`);

const notesOf = async (jobUuid = job.job_uuid) => {
  const res = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${jobUuid}`, { token: staff.token });
  expectStatus(res, 200);
  return res.body.data as Record<string, unknown>[];
};
const counts = async () => ({
  notes: (await env.DB.prepare("SELECT count(*) AS n FROM case_notes").first<{ n: number }>())?.n,
  files: (await env.DB.prepare("SELECT count(*) AS n FROM note_attachments").first<{ n: number }>())?.n,
  objects: (await env.MEDIA.list({ prefix: "jobs/" })).objects.length,
  audit: (await env.DB.prepare("SELECT count(*) AS n FROM audit_events").first<{ n: number }>())?.n,
});

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  job = await createJob(staff, fx, { agent_id: fx.agentId, private_contact_email: "tenant.contact@example.test" });
  // Send a real note and keep the MIME the contractor received: the replies below answer it.
  const send = vi.spyOn(env.EMAIL, "send");
  const res = await api("POST", "/api/jobs/case-notes", {
    token: staff.token,
    csrf: staff.csrf,
    body: { job_uuid: job.job_uuid, message: "<p>Please attend to the boiler.</p><p>Access via the side gate.</p>", send_email: true },
  });
  expectStatus(res, 201);
  expect(res.body.email_status).toBe("sent");
  const toContractor = send.mock.calls
    .map((c) => c[0] as unknown as Record<string, unknown>)
    .find((m) => m.to === "contractor1@example.test");
  const outbound = await PostalMime.parse(String(toContractor?.["EmailMessage::raw"]));
  replyTo = Object.fromEntries(Object.entries(await replyAddresses(send)).map(([k, v]) => [k.toLowerCase(), v]));
  send.mockRestore();
  note = { uuid: res.body.note_uuid, messageId: outbound.messageId ?? "", subject: outbound.subject ?? "", text: outbound.text ?? "" };
  // Each copy names the note and a tag issued to its own recipient; no two recipients share one.
  expect(Object.keys(replyTo).sort()).toEqual(["agent1@example.test", "contractor1@example.test", "tenant.contact@example.test"]);
  for (const address of Object.values(replyTo)) {
    expect(address).toMatch(new RegExp(`^notes\\+${note.uuid}\\.[a-z2-7]{20}@${DOMAIN.replaceAll(".", "\\.")}$`));
    expect(address.split("@")[0]?.length).toBeLessThanOrEqual(64);
  }
  expect(new Set(Object.values(replyTo)).size).toBe(3);
});

describe("threaded replies", () => {
  it("stores a reply to the sent email as a child note: quoted history stripped, sender recorded, text sealed", async () => {
    const messageId = `<${crypto.randomUUID()}@mail.example.test>`;
    const result = await deliver(reply({ messageId }));
    expect(result.rejected).toBeUndefined();
    const child = (await notesOf()).find((n) => n.source === "email" && n.parent_uuid === note.uuid);
    expect(child).toMatchObject({
      message: "Thanks, I will attend on Tuesday morning.\n\nBob",
      created_by_name: "Contractor_001",
      is_html: false,
      send_email: false,
      email_status: "none",
      attachments_count: 0,
    });
    const row = await env.DB.prepare("SELECT * FROM case_notes WHERE uuid = ?").bind(child?.uuid).first<Record<string, string>>();
    expect(row?.inbound_message_id).toBe(messageId);
    for (const col of ["message", "message_text", "from_email"]) expect(row?.[col]).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain("Tuesday");
    expect(JSON.stringify(row)).not.toContain("contractor1@");
    const audit = await env.DB.prepare("SELECT action, actor_name FROM audit_events WHERE job_uuid = ? ORDER BY id DESC LIMIT 1")
      .bind(job.job_uuid)
      .first();
    expect(audit).toEqual({ action: "case_note.reply_received", actor_name: "Contractor_001" });
  });

  it("stores a duplicate delivery of the same Message-ID once, without bouncing it", async () => {
    const raw = reply({ messageId: "<dup-1@mail.example.test>", body: "Arrived." });
    expect((await deliver(raw)).rejected).toBeUndefined();
    const before = await counts();
    expect((await deliver(raw)).rejected).toBeUndefined();
    expect(await counts()).toEqual(before);
    expect((await notesOf()).filter((n) => n.message === "Arrived.")).toHaveLength(1);
  });

  it("accepts one mailbox whose display name holds a comma (quoted or encoded)", async () => {
    for (const [from, text] of [
      ['"Builder, Bob" <contractor1@example.test>', "Quoted name."],
      ["=?utf-8?q?Builder=2C_Bob?= <contractor1@example.test>", "Encoded name."],
    ] as const) {
      const raw = withFrom(reply({ body: text }), from);
      expect((await deliver(raw, { from: "contractor1@example.test" })).rejected).toBeUndefined();
      expect((await notesOf()).find((n) => n.message === text)).toMatchObject({ parent_uuid: note.uuid });
    }
  });

  it("strips control characters (NUL, ESC, DEL, …) from a reply and keeps it; tab and line breaks stay text (issue 25)", async () => {
    const body = "Meter\u0000 read\u0001 at 09:00\u001b[2J.\u007f\nSee\tyou";
    expect((await deliver(reply({ body }))).rejected).toBeUndefined();
    const html = "<div>Valve&#1; closed&#x1b;, <b>all\u0000 good</b></div>";
    expect((await deliver(reply({ html, body: "" }))).rejected).toBeUndefined();
    const messages = (await notesOf()).map((n) => String(n.message));
    expect(messages).toContain("Meter read at 09:00[2J.\nSee you");
    expect(messages).toContain("Valve closed, all good");
    // No C0 control but tab, LF and CR, and no DEL.
    for (const m of messages)
      expect(
        [...m].some((ch) => (ch < " " && !"\t\n\r".includes(ch)) || ch === "\u007f"),
        JSON.stringify(m),
      ).toBe(false);
  });

  it("threads without In-Reply-To / References, and whatever case the mail system gives the address", async () => {
    const raw = reply({ body: "Threaded by address.", inReplyTo: null, references: "" });
    const to = (replyTo["contractor1@example.test"] ?? "").toUpperCase();
    expect((await deliver(raw, { to, from: "CONTRACTOR1@example.test" })).rejected).toBeUndefined();
    expect((await notesOf()).find((n) => n.message === "Threaded by address.")).toMatchObject({ parent_uuid: note.uuid });
  });

  it("stores attachments in R2 with the reply and lists them", async () => {
    const raw = reply({ body: "Certificate attached.", attachments: [{ name: "gas-safe.pdf", type: "application/pdf", content: PDF }] });
    expect((await deliver(raw)).rejected).toBeUndefined();
    const child = (await notesOf()).find((n) => n.message === "Certificate attached.");
    expect(child).toMatchObject({ attachments_count: 1, attachments: [{ filename: "gas-safe.pdf", content_type: "application/pdf" }] });
    const objects = await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/notes/${child?.uuid}/` });
    expect(objects.objects).toHaveLength(1);
  });

  it("accepts replies from the agent and the private contact through their own addresses; HTML-only mail is reduced to text", async () => {
    expect((await deliver(reply({ from: "agent1@example.test", body: "Agent here." }))).rejected).toBeUndefined();
    expect((await deliver(reply({ from: "Tenant.Contact@example.test", body: "Tenant here." }))).rejected).toBeUndefined();
    const html = `<div>Agent <b>reply</b><script>x()</script></div><div>On Mon, Staff wrote:</div><blockquote>old</blockquote>`;
    expect((await deliver(reply({ from: "agent1@example.test", html, body: "" }))).rejected).toBeUndefined();
    const byMessage = Object.fromEntries((await notesOf()).map((n) => [n.message, n.created_by_name]));
    expect(byMessage["Agent here."]).toBe("Agent_001");
    expect(byMessage["Tenant here."]).toBe("Private contact");
    expect(byMessage["Agent reply"]).toBe("Agent_001");
  });

  it("puts the text part, and the text of an HTML-only mail, through the sanitiser", async () => {
    expect((await deliver(reply({ body: "<img/src=x/onerror=alert(1)>Ready <svg/onload=alert(1)>" }))).rejected).toBeUndefined();
    const html = "<div>&lt;img src=x onerror=alert(1)&gt;Decoded</div>";
    expect((await deliver(reply({ html, body: "" }))).rejected).toBeUndefined();
    const notes = await notesOf();
    expect(notes.find((n) => String(n.message).startsWith("Ready"))).toMatchObject({ is_html: true, message: "Ready" });
    expect(notes.find((n) => String(n.message).includes("Decoded"))).toMatchObject({ is_html: true, message: "Decoded" });
    for (const n of notes) expect(String(n.message)).not.toMatch(/onerror|onload/);
  });

  it("deleting the emailed note removes its replies and their files", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const created = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { job_uuid: job.job_uuid, message: "Short-lived", send_email: true },
    });
    const addresses = await replyAddresses(send);
    send.mockRestore();
    const uuid = created.body.note_uuid;
    const raw = reply({ body: "Reply with file", attachments: [{ name: "x.pdf", type: "application/pdf", content: PDF }] }).replaceAll(
      note.uuid,
      uuid,
    );
    expect((await deliver(raw, { to: addresses["contractor1@example.test"] })).rejected).toBeUndefined();
    const replyNote = (await notesOf()).find((n) => n.parent_uuid === uuid);
    expect(replyNote).toBeDefined();
    const res = await api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body: { action: "delete", uuid } });
    expectStatus(res, 200);
    expect(res.body.message).toBe("Case note deleted with 1 reply");
    expect((await notesOf()).some((n) => n.uuid === replyNote?.uuid)).toBe(false);
    expect((await env.MEDIA.list({ prefix: `jobs/${job.job_uuid}/notes/${replyNote?.uuid}/` })).objects).toEqual([]);
  });
});

describe("rejected mail stores nothing", () => {
  const bigPdf = `%PDF-${"x".repeat(5 * 1024 * 1024)}`;
  const cases: [string, () => Promise<Inbound>, string][] = [
    [
      "the old untagged address notes+<note uuid>@ (a uuid every recipient has seen)",
      () => deliver(reply(), { to: `notes+${note.uuid}@${DOMAIN}` }),
      "Not a reply to a case note: unknown reply address",
    ],
    [
      "only In-Reply-To / References naming the note, sent to another address",
      () => deliver(reply({ references: `<older@mail.example.test> ${note.messageId}` }), { to: `jobs@${DOMAIN}` }),
      "Not a reply to a case note: unknown reply address",
    ],
    [
      "a malformed note address",
      () => deliver(reply({ inReplyTo: null, references: "" }), { to: `notes+1%20OR%201=1@${DOMAIN}` }),
      "Not a reply to a case note: unknown reply address",
    ],
    [
      "a made-up tag on a real note",
      () => deliver(reply(), { to: `notes+${note.uuid}.aaaaaaaaaaaaaaaaaaaa@${DOMAIN}` }),
      "Reply address was not issued to this sender",
    ],
    [
      "a forged From: with the contractor's leaked reply address (envelope sender differs)",
      () => deliver(reply(), { from: "mallory@evil.test" }),
      "Envelope sender does not match the From address",
    ],
    [
      "an envelope sender with no From: party match, case aside",
      () => deliver(reply({ from: "contractor1@example.test" }), { from: "contractor1@example.test.evil.test" }),
      "Envelope sender does not match the From address",
    ],
    [
      "another party (the agent) through the contractor's reply address",
      () => deliver(reply({ from: "agent1@example.test" }), { to: replyTo["contractor1@example.test"] }),
      "Reply address was not issued to this sender",
    ],
    [
      "a staff user who was not mailed, through the contractor's reply address",
      async () => {
        const row = await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(staff.userId).first<{ email: string }>();
        return deliver(reply({ from: row?.email }), { to: replyTo["contractor1@example.test"] });
      },
      "Reply address was not issued to this sender",
    ],
    [
      "a sender who is not a party, through the contractor's reply address",
      () => deliver(reply({ from: "mallory@evil.test" }), { to: replyTo["contractor1@example.test"] }),
      "Reply address was not issued to this sender",
    ],
    [
      "the other contractor, through the contractor's reply address",
      () => deliver(reply({ from: "contractor2@example.test" }), { to: replyTo["contractor1@example.test"] }),
      "Reply address was not issued to this sender",
    ],
    // issue 25: the first mailbox of a list was taken as the sender, whoever else the From names.
    ...(
      [
        ["two mailboxes in From", "contractor1@example.test, mallory@evil.test"],
        [
          "two named mailboxes in From, with a Sender: naming the first",
          "Bob <contractor1@example.test>, Mallory <mallory@evil.test>",
          "Sender: contractor1@example.test",
        ],
        ["a group in From", "Builders: contractor1@example.test;"],
        ["a group of two in From", "Builders: contractor1@example.test, mallory@evil.test;"],
        ["a mailbox then a group in From", "contractor1@example.test, Others: mallory@evil.test;"],
        ["an empty group then a mailbox in From", "Nobody:;, contractor1@example.test"],
      ] as [string, string, string?][]
    ).map(([name, from, extra]): [string, () => Promise<Inbound>, string] => [
      name,
      () =>
        deliver(withFrom(reply({ body: "Who sent this?", extraHeaders: extra ? [extra] : [] }), from), {
          from: "contractor1@example.test",
        }),
      "From must name exactly one mailbox",
    ]),
    ["no Message-ID", () => deliver(reply({ messageId: null })), "Malformed message: no Message-ID"],
    [
      "a forged second From header",
      () => deliver(reply({ from: "mallory@evil.test", extraHeaders: ["From: contractor1@example.test"] })),
      "Malformed message: exactly one From header is required",
    ],
    ["garbage", () => deliver("\u0000\u0001 this is not an email"), "Malformed message: no Message-ID"],
    ["a raw size over 10 MB", () => deliver(reply(), { rawSize: 10 * 1024 * 1024 + 1 }), "Message too large (limit 10 MB)"],
    [
      "a stream over 10 MB whatever rawSize says",
      () => deliver(reply({ body: "x".repeat(10 * 1024 * 1024 + 10) }), { rawSize: 100 }),
      "Message too large (limit 10 MB)",
    ],
    [
      "only quoted history",
      () => deliver(reply({ body: `On Mon, 1 Jun 2024, Staff wrote:\n> ${note.text}` })),
      "Empty reply: no text once quoted history is removed, and no attachments",
    ],
    [
      "an attachment of an unsupported type",
      () => deliver(reply({ attachments: [{ name: "run.exe", type: "application/pdf", content: "MZ\u0090\u0000\u0003" }] })),
      "Attachment rejected: run.exe is not a PDF, JPEG, PNG or plain-text file",
    ],
    [
      "an attachment over 5 MB",
      () => deliver(reply({ attachments: [{ name: "big.pdf", type: "application/pdf", content: bigPdf }] })),
      "Attachment rejected: big.pdf is larger than 5 MB",
    ],
    [
      "more than 5 attachments",
      () =>
        deliver(reply({ attachments: Array.from({ length: 6 }, (_, i) => ({ name: `${i}.pdf`, type: "application/pdf", content: PDF })) })),
      "Attachment rejected: at most 5 files per note",
    ],
  ];
  it.each(cases)("%s", async (_name, run, reason) => {
    const before = await counts();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const result = await run();
    const logged = warn.mock.calls.map((c) => c.join(" "));
    warn.mockRestore();
    expect(result.rejected).toBe(reason);
    expect(await counts()).toEqual(before);
    // Logged with its reason, and no address or text of the mail in the log.
    expect(logged).toEqual([`inbound mail rejected: ${reason}`]);
  });

  it("a tag issued for one note does not open another", async () => {
    const other = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { job_uuid: job.job_uuid, message: "Second emailed note", send_email: true },
    });
    expectStatus(other, 201);
    const tag = /\.([a-z2-7]+)@/.exec(replyTo["contractor1@example.test"] ?? "")?.[1];
    const before = await counts();
    const result = await deliver(reply(), { to: `notes+${other.body.note_uuid}.${tag}@${DOMAIN}` });
    expect(result.rejected).toBe("Reply address was not issued to this sender");
    expect(await counts()).toEqual(before);
  });

  it("refuses replies to a note that was never emailed, and on archived jobs", async () => {
    const plain = await api("POST", "/api/jobs/case-notes", {
      token: staff.token,
      csrf: staff.csrf,
      body: { job_uuid: job.job_uuid, message: "Internal only" },
    });
    const before = await counts();
    // Even a correctly signed address opens only a note that was emailed.
    const to = await noteReplyAddress(env.SIGNING_SECRET, plain.body.note_uuid, "contractor1@example.test", DOMAIN);
    const forged = await deliver(reply({ inReplyTo: null, references: "" }), { to });
    expect(forged.rejected).toBe("Unknown case note");
    await env.DB.prepare("UPDATE jobs SET status_id = 9 WHERE uuid = ?").bind(job.job_uuid).run();
    const archived = await deliver(reply());
    await env.DB.prepare("UPDATE jobs SET status_id = 1 WHERE uuid = ?").bind(job.job_uuid).run();
    expect(archived.rejected).toBe("The job is archived and takes no more notes");
    expect(await counts()).toEqual(before);
  });
});

describe("stripQuoted", () => {
  it.each([
    ["Gmail", "Yes.\n\nOn Tue, 2 Jun 2024 at 09:00, A <a@x.test> wrote:\n> old", "Yes."],
    ["wrapped Gmail header", "Yes.\nOn Tue, 2 Jun 2024 at 09:00, A Long Name\n<a@x.test> wrote:\n> old", "Yes."],
    ["Outlook", "Yes.\n\n________________________________\nFrom: A\nSent: Tuesday\nTo: B\nSubject: X\n\nold", "Yes."],
    ["Outlook headers", "Yes.\n\nFrom: A <a@x.test>\nSent: Tuesday\nSubject: X\nold", "Yes."],
    ["original message", "Yes.\n-----Original Message-----\nold", "Yes."],
    ["signature", "Yes.\n-- \nBob, Builder Ltd", "Yes."],
    ["interleaved quotes", "> q1\nAnswer 1\n> q2\nAnswer 2", "Answer 1\nAnswer 2"],
  ])("%s", (_name, input, expected) => {
    expect(stripQuoted(input)).toBe(expected);
  });
});
