import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import PostalMime, { addressParser, type Email } from "postal-mime";
import { caseNotes, jobs, users } from "../db/schema";
import { ApiError } from "../domain/errors";
import { whyUnchangeable } from "../domain/job-access";
import { jobParties, selectJobForNotes } from "../domain/notes";
import { can } from "../domain/policy";
import { stripControlChars } from "../domain/values";
import { addEmailReply, replyStored } from "../jobs/case-notes/service";
import { readLimited } from "../lib/read-limited";
import { NOTE_LIMITS } from "../media/note-files";
import type { Db, Services } from "../platform/services";
import { parseReplyAddress, verifyReplyTag } from "./note-mail";
import { sanitizeHtml } from "./sanitize";

/**
 * The Worker's email() handler: threads replies to case-note emails back as child notes.
 * Only through the per-recipient reply address (notes+<uuid>.<tag>@EMAIL_DOMAIN, see
 * noteReplyAddress): its tag must be the one issued to the sender, and the envelope sender must
 * be the From: party. In-Reply-To / References never thread on their own (they are guessable).
 * Mail that fails a check or cannot be stored whole is rejected with a reason (the sender's
 * server bounces it) and logged; a second delivery of the same Message-ID is stored once.
 */
export async function handleInboundEmail(message: ForwardableEmailMessage, services: Services): Promise<void> {
  const outcome = await receiveReply(message, services);
  if (outcome.kind === "rejected") {
    // The reason names the failed check only: no addresses or message text in logs.
    console.warn(`inbound mail rejected: ${outcome.reason}`);
    message.setReject(outcome.reason);
  }
}

export type InboundOutcome = { kind: "stored"; noteUuid: string } | { kind: "duplicate" } | { kind: "rejected"; reason: string };

const reject = (reason: string): InboundOutcome => ({ kind: "rejected", reason });

export async function receiveReply(message: ForwardableEmailMessage, services: Services): Promise<InboundOutcome> {
  const { env, db } = services;
  const limitMb = NOTE_LIMITS.maxRawEmailBytes / 1024 / 1024;
  if (message.rawSize > NOTE_LIMITS.maxRawEmailBytes) return reject(`Message too large (limit ${limitMb} MB)`);
  const raw = await readLimited(message.raw, NOTE_LIMITS.maxRawEmailBytes);
  if (!raw) return reject(`Message too large (limit ${limitMb} MB)`);

  let email: Email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: "arraybuffer" });
  } catch {
    return reject("Malformed message: it could not be parsed");
  }
  const messageId = email.messageId?.trim();
  if (!messageId || messageId.length > 998) return reject("Malformed message: no Message-ID");
  const fromHeaders = email.headers.filter((h) => h.key === "from");
  if (fromHeaders.length !== 1) return reject("Malformed message: exactly one From header is required");
  // postal-mime takes the first entry of a mailbox list as `from`: "From: contractor, mallory" (or
  // a group) would pass as the contractor while a reader's client shows someone else too. The
  // reply's author must be one mailbox, that of the envelope sender; Sender: is never read (it
  // cannot stand in for the author), so it cannot vouch for a list either.
  const mailboxes = addressParser(fromHeaders[0]?.value ?? "");
  if (mailboxes.length !== 1 || mailboxes[0]?.group !== undefined) return reject("From must name exactly one mailbox");
  const sender = email.from?.address?.trim().toLowerCase();
  if (!sender || !/^[^\s@]+@[^\s@]+$/.test(sender)) return reject("Malformed message: no sender address in From");
  // The From: header is free text; the envelope sender is what the receiving server saw (and SPF checked).
  if ((message.from ?? "").trim().toLowerCase() !== sender) return reject("Envelope sender does not match the From address");

  const target = await findNote(db, env, message.to, sender);
  if (target.kind === "rejected") return target;
  const note = target.note;

  // A redelivery (same Message-ID) is acknowledged without storing it again.
  if (await replyStored(db, messageId)) return { kind: "duplicate" };

  const job = await selectJobForNotes(db).where(eq(jobs.id, note.jobId)).get();
  if (!job) return reject("Unknown case note");
  if (whyUnchangeable(job)) return reject("The job is archived and takes no more notes");

  const author = await identifySender(db, sender, job, await jobParties(await services.cipher(), job));
  if (!author) return reject("Sender is not a party to this job");

  const text = await replyText(email);
  if (text.length > NOTE_LIMITS.maxMessageChars) return reject(`Reply text too long (limit ${NOTE_LIMITS.maxMessageChars} characters)`);
  try {
    // The note rules (file intake, sanitising, encryption, one batch with its event) are the case notes' own.
    return await addEmailReply(services, {
      job,
      parent: note,
      author: { userId: author.userId, name: author.name },
      party: author.party,
      text,
      // Inline parts with a Content-ID are pictures inside the HTML (signature logos), not files.
      attachments: email.attachments
        .filter((a) => !(a.disposition === "inline" && a.contentId))
        .map((a) => ({ filename: a.filename, bytes: toBytes(a.content) })),
      messageId,
      sender,
    });
  } catch (err) {
    if (err instanceof ApiError) return reject(err.message);
    throw err;
  }
}

type NoteRow = typeof caseNotes.$inferSelect;

/** The emailed note a reply answers: from the reply address, whose tag must be the sender's. */
async function findNote(
  db: Db,
  env: Env,
  envelopeTo: string,
  sender: string,
): Promise<{ kind: "found"; note: NoteRow } | { kind: "rejected"; reason: string }> {
  const address = parseReplyAddress(envelopeTo, env.EMAIL_DOMAIN);
  if (!address) return { kind: "rejected", reason: "Not a reply to a case note: unknown reply address" };
  if (!(await verifyReplyTag(env.SIGNING_SECRET, address.noteUuid, sender, address.tag))) {
    return { kind: "rejected", reason: "Reply address was not issued to this sender" };
  }
  const note = await db
    .select()
    .from(caseNotes)
    .where(and(eq(caseNotes.uuid, address.noteUuid), isNotNull(caseNotes.emailMessageId), isNull(caseNotes.parentId)))
    .get();
  if (!note) return { kind: "rejected", reason: "Unknown case note" };
  return { kind: "found", note };
}

interface Author {
  userId: number | null;
  name: string;
  party: string;
}

/** The sender if they are a party: a user who may see the job, or its contractor, agent or private contact. */
async function identifySender(
  db: Db,
  sender: string,
  job: { contractorId: number | null },
  parties: { role: string; email: string | null; name: string | null }[],
): Promise<Author | undefined> {
  const user = await db
    .select({ id: users.id, name: users.name, role: users.role, contractorId: users.contractorId })
    .from(users)
    .where(and(sql`lower(${users.email}) = ${sender}`, isNull(users.disabledAt)))
    .get();
  // Contractor users see only their contractor's jobs, as in the API.
  if (user && can(user, "job.see", job)) {
    return { userId: user.id, name: user.name, party: `user:${user.role}` };
  }
  const party = parties.find((p) => p.email?.trim().toLowerCase() === sender);
  if (party) return { userId: null, name: party.name ?? party.role, party: party.role };
  return undefined;
}

/**
 * The new text of a reply: the text part (or the HTML's text), without quoted history or signature.
 * Control characters (NUL, ESC, …; tab and line breaks kept) are stripped rather than refused, as
 * the API refuses them in a note: a bounce would lose the reply over an invisible byte.
 */
async function replyText(email: Email): Promise<string> {
  const text = email.text ?? (email.html ? (await sanitizeHtml(email.html, { dropQuotes: true })).text : "");
  return stripQuoted(stripControlChars(text));
}

/** Cuts what mail clients add below a reply: "On … wrote:", quoted lines, forwarded headers, signatures. */
export function stripQuoted(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const t = line.trim();
    const next = (lines[i + 1] ?? "").trim();
    if (/^On\s.+wrote:$/i.test(t) || (/^On\s/i.test(t) && /wrote:$/i.test(next))) break;
    if (/^-{2,}\s*Original Message\s*-{2,}$/i.test(t) || /^_{10,}$/.test(t) || line === "-- ") break;
    if (/^From:\s/i.test(t) && lines.slice(i + 1, i + 5).some((l) => /^(Sent|Date|To|Subject):\s/i.test(l.trim()))) break;
    if (t.startsWith(">")) continue;
    out.push(line);
  }
  return out
    .join("\n")
    .replace(/[ \t]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function toBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === "string") return new TextEncoder().encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}
