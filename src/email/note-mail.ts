import type { MimeMessage } from "./mime";
import { escapeHtml } from "./sanitize";
import { sendMail } from "./send";

/** A party of the job a case note is emailed to. */
export type PartyRole = "contractor" | "agent" | "private_contact";

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
export const noteReplyAddress = (noteUuid: string, domain: string) => `notes+${noteUuid}@${domain}`;

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

/** The MIME message for a case note: text and HTML parts, a Reply-To that names the note. */
export function composeNoteMail(env: Pick<Env, "EMAIL_FROM" | "EMAIL_DOMAIN">, m: NoteMail, date = new Date()): MimeMessage {
  const subject = `[${m.jobRef}] ${m.jobTitle}`.replace(/[\r\n]+/g, " ").slice(0, 200);
  const footer = `Reply to this email to add your answer to the case notes of job ${m.jobRef}.`;
  return {
    from: env.EMAIL_FROM,
    fromName: `${m.authorName} via PropOps`,
    to: m.recipients.map((r) => r.email),
    subject,
    text: `${m.text}\n\n--\n${footer}\n`,
    html:
      `<!doctype html><html><body><div>${m.html}</div>` +
      `<hr><p style="color:#666;font-size:12px">${escapeHtml(footer)}</p></body></html>`,
    messageId: noteMessageId(m.noteUuid, env.EMAIL_DOMAIN),
    replyTo: noteReplyAddress(m.noteUuid, env.EMAIL_DOMAIN),
    headers: { "X-PropOps-Note": m.noteUuid },
    date,
  };
}

/** Sends a note's email to each recipient separately and sums up the outcome for the note's row. */
export async function sendNoteMail(env: Pick<Env, "EMAIL" | "EMAIL_FROM" | "EMAIL_DOMAIN">, m: NoteMail): Promise<NoteMailOutcome> {
  const messageId = noteMessageId(m.noteUuid, env.EMAIL_DOMAIN);
  if (m.recipients.length === 0) {
    return {
      status: "failed",
      error: "No recipients: the job has no contractor, agent or private contact email address",
      messageId,
      recipients: [],
    };
  }
  const results = await sendMail(env.EMAIL, composeNoteMail(env, m), { separately: true });
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
