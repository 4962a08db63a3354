import { base32nopad } from "@scure/base";
import { hmac, timingSafeEqual, utf8 } from "../crypto/bytes";
import type { PartyRole } from "../domain/notes";
import type { Services } from "../platform/services";
import type { MimeMessage } from "./mime";
import { escapeHtml } from "./sanitize";

/** A party of the job a case note is emailed to. */
export type { PartyRole };

export interface Recipient {
  role: PartyRole;
  email: string;
}

export type EmailStatus = "none" | "sent" | "failed" | "partial";

export interface NoteMailOutcome {
  status: Exclude<EmailStatus, "none">;
  /** Per-recipient failures, recipients named by role (addresses stay out of the row). */
  error: string | null;
  messageId: string;
  /** Stored as email_recipients: roles and results, no addresses (the private contact's is encrypted elsewhere). */
  recipients: { role: PartyRole; ok: boolean }[];
}

export const noteMessageId = (noteUuid: string, domain: string) => `<note-${noteUuid}@${domain}>`;

const REPLY_PURPOSE = "note-reply-address";
/** 12 bytes of the MAC: 96 bits, 20 base32 characters, so the local part stays within 64 characters. */
const TAG_BYTES = 12;

/** RFC 4648 base32 without padding, lower case (mail systems may lowercase local parts). */
const base32 = (bytes: Uint8Array) => base32nopad.encode(bytes).toLowerCase();

/** The MAC binding a note to the one address it was mailed to. */
async function replyTag(secret: string, noteUuid: string, recipient: string): Promise<string> {
  const mac = await hmac(secret, REPLY_PURPOSE, `${noteUuid.toLowerCase()}\0${recipient.trim().toLowerCase()}`);
  return base32(mac.subarray(0, TAG_BYTES));
}

/**
 * The Reply-To of one recipient's copy: `notes+<note uuid>.<tag>@domain`, the tag an HMAC over the
 * note and that recipient's address. Only a reply from that address into that note verifies, so a
 * note uuid seen in headers (or forwarded mail) is not enough to post as someone else.
 */
export async function noteReplyAddress(secret: string, noteUuid: string, recipient: string, domain: string): Promise<string> {
  return `notes+${noteUuid}.${await replyTag(secret, noteUuid, recipient)}@${domain}`;
}

/** The note uuid and tag of a reply address on our domain (any case), or null. */
export function parseReplyAddress(address: string, domain: string): { noteUuid: string; tag: string } | null {
  const at = address.trim().toLowerCase().lastIndexOf("@");
  if (
    at < 0 ||
    address
      .trim()
      .toLowerCase()
      .slice(at + 1) !== domain.toLowerCase()
  )
    return null;
  const m = /^notes\+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([a-z2-7]{1,32})$/.exec(
    address.trim().toLowerCase().slice(0, at),
  );
  return m?.[1] && m[2] ? { noteUuid: m[1], tag: m[2] } : null;
}

/** True when `tag` is the one issued for this note to `sender` (constant-time comparison). */
export async function verifyReplyTag(secret: string, noteUuid: string, sender: string, tag: string): Promise<boolean> {
  return timingSafeEqual(utf8(await replyTag(secret, noteUuid, sender)), utf8(tag.toLowerCase()));
}

/** The parties to write to: each address once, never the author's own. */
export function pickRecipients(candidates: { role: PartyRole; email: string | null | undefined }[], authorEmail?: string): Recipient[] {
  const seen = new Set<string>(authorEmail ? [authorEmail.trim().toLowerCase()] : []);
  const out: Recipient[] = [];
  for (const c of candidates) {
    const email = c.email?.trim();
    if (!email || seen.has(email.toLowerCase())) continue;
    seen.add(email.toLowerCase());
    out.push({ role: c.role, email });
  }
  return out;
}

export interface NoteMail {
  noteUuid: string;
  jobRef: string;
  jobTitle: string;
  authorName: string;
  text: string;
  /** Already sanitised HTML. */
  html: string;
  recipients: Recipient[];
}

/** One recipient's copy of a case note: text and HTML parts, a Reply-To issued to that recipient alone. */
export async function composeNoteMail(
  env: Pick<Env, "EMAIL_FROM" | "EMAIL_DOMAIN" | "SIGNING_SECRET">,
  m: NoteMail,
  recipient: Recipient,
  date: Date,
): Promise<MimeMessage> {
  const subject = `[${m.jobRef}] ${m.jobTitle}`.replace(/[\r\n]+/g, " ").slice(0, 200);
  const footer = `Reply to this email to add your answer to the case notes of job ${m.jobRef}.`;
  return {
    from: env.EMAIL_FROM,
    fromName: `${m.authorName} via PropOps`,
    to: [recipient.email],
    subject,
    text: `${m.text}\n\n--\n${footer}\n`,
    html:
      `<!doctype html><html><body><div>${m.html}</div>` +
      `<hr><p style="color:#666;font-size:12px">${escapeHtml(footer)}</p></body></html>`,
    messageId: noteMessageId(m.noteUuid, env.EMAIL_DOMAIN),
    replyTo: await noteReplyAddress(env.SIGNING_SECRET, m.noteUuid, recipient.email, env.EMAIL_DOMAIN),
    headers: { "X-PropOps-Note": m.noteUuid },
    date,
  };
}

/** Sends a note's email to each recipient separately and sums up the outcome for the note's row. */
export async function sendNoteMail(services: Pick<Services, "env" | "mailer" | "clock">, m: NoteMail): Promise<NoteMailOutcome> {
  const { env, mailer } = services;
  const messageId = noteMessageId(m.noteUuid, env.EMAIL_DOMAIN);
  if (m.recipients.length === 0) {
    return {
      status: "failed",
      error: "No recipients: the job has no contractor, agent or private contact email address",
      messageId,
      recipients: [],
    };
  }
  // One message per recipient: each carries its own Reply-To (same Message-ID, as Bcc copies would).
  const date = services.clock.now();
  const results = await Promise.all(m.recipients.map(async (r) => (await mailer.send(await composeNoteMail(env, m, r, date)))[0]));
  const recipients = m.recipients.map((r, i) => ({ role: r.role, ok: results[i]?.ok === true }));
  const failures = m.recipients.flatMap((r, i) => {
    const res = results[i];
    if (!res || res.ok) return [];
    // Binding errors may quote the address; the row names the party instead.
    return [`${r.role}: ${(res.error ?? "send failed").split(r.email).join(`<${r.role}>`)}`];
  });
  const sent = recipients.filter((r) => r.ok).length;
  const status = failures.length === 0 ? "sent" : sent === 0 ? "failed" : "partial";
  return { status, error: failures.length > 0 ? failures.join("; ").slice(0, 1000) : null, messageId, recipients };
}
