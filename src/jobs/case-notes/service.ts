import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import type { Db } from "../../db/db";
import { caseNotes, jobs, noteAttachments } from "../../db/schema";
import type { Actor } from "../../domain/caller";
import { ApiError, badRequest, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable } from "../../domain/job-access";
import { encryptNote, type JobForNotes, jobParties, noteContext, selectJobForNotes } from "../../domain/notes";
import { assertCan, canSeePrivate } from "../../domain/policy";
import { type NoteMailOutcome, pickRecipients, sendNoteMail } from "../../email/note-mail";
import { type NoteBody, prepareNoteBody } from "../../email/sanitize";
import { removeStored } from "../../media/cleanup";
import { checkCount, INTAKE_POLICIES } from "../../media/intake";
import { type AttachmentInput, type PreparedAttachment, prepareAttachments } from "../../media/note-files";
import { storeCommitEnqueue } from "../../media/store";
import type { Services } from "../../platform/services";

/**
 * Case notes, the one home of their rules for every channel: who may change a note, sanitising,
 * encryption, files through the media intake, mail to the parties, one D1 batch each with its
 * event. The HTTP route (write.ts) and inbound mail (src/email/inbound.ts, `addEmailReply`) call
 * these; files come in as bytes (the route reads its multipart `File`s first).
 */

/** One permission for every note change; who may change whose note is checked per note below. */
const NOTE_ADMISSION: Admission = { permission: "api.jobs.case_notes.manage" };

export interface NewNote {
  job_uuid: string;
  message: string;
  send_email: boolean;
  is_pinned: boolean;
  attachments?: AttachmentInput[];
}
export interface NoteEdit {
  uuid: string;
  message?: string;
  is_pinned?: boolean;
}
export interface NoteFiles {
  uuid: string;
  attachments: AttachmentInput[];
}

/** What a change answers on every channel: the reference's message and fields. */
export interface NoteAnswer {
  message: string;
  fields: Record<string, unknown>;
  /** The files stored by this change (a resumable upload's answer names its file). */
  files?: { uuid: string; filename: string; size: number }[];
}

async function jobForNotes(scope: Scope, jobUuid: string) {
  const visible = await scope.jobVisible();
  const [rows] = await scope.read([selectJobForNotes(scope.db).where(and(eq(jobs.uuid, jobUuid), visible))]);
  return changeable(rows);
}

/**
 * A note on a job the caller sees (404 otherwise; 403 on archived jobs) in one read, with the
 * stored files of the note and its replies when `withFiles` (a deletion removes them).
 */
async function noteForWrite(scope: Scope, uuid: string, withFiles = false) {
  const { db } = scope;
  const visible = await scope.jobVisible();
  const noteId = sql`(SELECT ${caseNotes.id} FROM ${caseNotes} WHERE ${caseNotes.uuid} = ${uuid})`;
  const [notes, jobRows, files] = await scope.read([
    db.select().from(caseNotes).where(eq(caseNotes.uuid, uuid)),
    selectJobForNotes(db).where(
      and(sql`${jobs.id} = (SELECT ${caseNotes.jobId} FROM ${caseNotes} WHERE ${caseNotes.uuid} = ${uuid})`, visible),
    ),
    db
      .select({ key: noteAttachments.r2Key })
      .from(noteAttachments)
      .where(
        inArray(
          noteAttachments.noteId,
          db
            .select({ id: caseNotes.id })
            .from(caseNotes)
            .where(or(eq(caseNotes.id, noteId), eq(caseNotes.parentId, noteId))),
        ),
      )
      // LIMIT 0 reads nothing; -1 is SQLite's "no limit".
      .limit(withFiles ? -1 : 0),
  ]);
  const note = notes[0];
  if (!note || jobRows.length === 0) throw notFound("Case note");
  return { note, job: changeable(jobRows), files: files.map((f) => f.key) };
}

/** Text edits, deletion and files: the author, or the managing side (staff, managers, admins). */
function assertMayChange(scope: Scope, note: { createdBy: number | null }, what: string) {
  const caller = scope.caller;
  if (note.createdBy === caller.userId) return;
  assertCan(caller, "note.moderate", `Only the note's author or staff may ${what} this note`);
}

async function bodyOrReject(message: string) {
  const body = await prepareNoteBody(message);
  if (body.text === "") {
    throw badRequest("message: has no text left once unsafe HTML is removed", [{ field: "message", message: "has no text" }]);
  }
  return body;
}

/**
 * Inserts for a note's attachment rows, finding the note by uuid so they can share its batch.
 * (Raw `db.run` statements with parameters cannot ride in a drizzle D1 batch, hence builders.)
 */
function attachmentInserts(db: Db, noteUuid: string, jobId: number, files: PreparedAttachment[]) {
  return files.map((f) =>
    db.insert(noteAttachments).values({
      uuid: f.uuid,
      noteId: sql`(SELECT ${caseNotes.id} FROM ${caseNotes} WHERE ${caseNotes.uuid} = ${noteUuid})`,
      jobId,
      r2Key: f.key,
      filename: f.filename,
      contentType: f.contentType,
      size: f.size,
    }),
  );
}

type Statements = Parameters<Db["batch"]>[0];

/** Stores the files, then runs the batch; nothing half-stored: the files go if the rows did not make it. */
async function commitWithFiles(services: Services, db: Db, files: PreparedAttachment[], statements: Statements) {
  // The one store → commit path (src/media/store.ts): files first, removed again if the rows fail.
  return storeCommitEnqueue(services, { objects: files, commit: () => db.batch(statements) });
}

/** A new note (API or emailed reply) as one batch: its row, its files' rows, its event, and `tail`. */
interface NoteDraft {
  uuid: string;
  job: Pick<JobForNotes, "id" | "uuid">;
  body: NoteBody;
  files: PreparedAttachment[];
  author: Actor;
  row: Pick<typeof caseNotes.$inferInsert, "parentId" | "isPinned" | "sendEmail" | "source" | "inboundMessageId">;
  fromEmail?: string;
  event: { action: string; changes: Record<string, unknown> };
  tail?: Statements[number][];
}

async function storeNote(services: Services, db: Db, d: NoteDraft) {
  const cipher = await services.cipher();
  const sealed = await encryptNote(cipher, d.uuid, { message: d.body.message, text: d.body.text, fromEmail: d.fromEmail });
  const now = services.clock.iso();
  return commitWithFiles(services, db, d.files, [
    db.insert(caseNotes).values({
      ...d.row,
      uuid: d.uuid,
      jobId: d.job.id,
      message: sealed.message,
      messageText: sealed.messageText,
      isHtml: d.body.isHtml,
      fromEmail: sealed.fromEmail,
      createdBy: d.author.userId,
      createdByName: d.author.name,
      createdAt: now,
      updatedAt: now,
    }),
    ...attachmentInserts(db, d.uuid, d.job.id, d.files),
    recordEvent(db, { jobId: d.job.id, jobUuid: d.job.uuid, actor: d.author, action: d.event.action, changes: d.event.changes }),
    ...(d.tail ?? []),
  ]);
}

export const createNote = useCase(NOTE_ADMISSION, async (scope, input: NewNote): Promise<NoteAnswer> => {
  const job = await jobForNotes(scope, input.job_uuid);
  const { caller, db, services } = scope;
  const body = await bodyOrReject(input.message);
  const uuid = crypto.randomUUID();
  const files = await prepareAttachments(job.uuid, uuid, input.attachments ?? []);
  const results = await storeNote(services, db, {
    uuid,
    job,
    body,
    files,
    author: caller,
    row: { isPinned: input.is_pinned, sendEmail: input.send_email, source: "api" },
    event: {
      action: "case_note.created",
      changes: {
        note_uuid: uuid,
        message: { changed: true },
        send_email: input.send_email,
        is_pinned: input.is_pinned,
        attachments: files.map((f) => f.filename),
      },
    },
    tail: [db.select({ id: caseNotes.id }).from(caseNotes).where(eq(caseNotes.uuid, uuid))],
  });
  const noteId = (results.at(-1) as { id: number }[])[0]?.id;
  if (noteId === undefined) throw new ApiError("INTERNAL", "Case note was not created");

  const outcome = input.send_email ? await mailNote(scope, job, { id: noteId, uuid }, body) : undefined;
  return {
    message: "Case note created",
    fields: {
      note_uuid: uuid,
      note_id: noteId,
      email_status: outcome?.status ?? "none",
      email_error: outcome?.error ?? null,
      attachments_count: files.length,
    },
  };
});

/** Sent after the note is committed (it exists even if sending fails); the outcome is recorded on it. */
async function mailNote(scope: Scope, job: JobForNotes, note: { id: number; uuid: string }, body: NoteBody): Promise<NoteMailOutcome> {
  const { caller, db, services } = scope;
  // Who may not see the private contact (contractors, tokens without the permission: policy.ts
  // canSeePrivate) cannot reach them either: their notes (links, remote images and all) are not mailed there.
  const parties = (await jobParties(await services.cipher(), job)).filter(
    (p) => p.role !== "private_contact" || canSeePrivate(caller, "private_contact_email"),
  );
  const outcome = await sendNoteMail(services, {
    noteUuid: note.uuid,
    jobRef: job.jobRef,
    jobTitle: job.jobTitle,
    authorName: caller.name,
    text: body.text,
    html: body.html,
    recipients: pickRecipients(parties, caller.email),
  });
  await db.batch([
    db
      .update(caseNotes)
      .set({
        emailStatus: outcome.status,
        emailError: outcome.error,
        emailMessageId: outcome.messageId,
        emailRecipients: JSON.stringify(outcome.recipients),
        updatedAt: services.clock.iso(),
      })
      .where(eq(caseNotes.id, note.id)),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: caller,
      action: outcome.status === "sent" ? "case_note.emailed" : "case_note.email_failed",
      changes: { note_uuid: note.uuid, email_status: outcome.status, recipients: outcome.recipients, email_error: outcome.error },
    }),
  ]);
  return outcome;
}

export const editNote = useCase(NOTE_ADMISSION, async (scope, input: NoteEdit): Promise<NoteAnswer> => {
  const { note, job } = await noteForWrite(scope, input.uuid);
  const cipher = await scope.services.cipher();
  const changes: Record<string, unknown> = {};
  const values: Partial<typeof caseNotes.$inferInsert> = {};

  if (input.message !== undefined) {
    assertMayChange(scope, note, "edit");
    const body = await bodyOrReject(input.message);
    const current = await cipher.decrypt(noteContext(note.uuid, "message"), note.message);
    if (current !== body.message || note.isHtml !== body.isHtml) {
      const sealed = await encryptNote(cipher, note.uuid, { message: body.message, text: body.text });
      values.message = sealed.message;
      values.messageText = sealed.messageText;
      values.isHtml = body.isHtml;
      changes.message = { changed: true };
    }
  }
  if (input.is_pinned !== undefined && input.is_pinned !== note.isPinned) {
    // Pinning reorders the job's notes for every party: moderation, as for editing another's note.
    assertMayChange(scope, note, input.is_pinned ? "pin" : "unpin");
    values.isPinned = input.is_pinned;
    changes.is_pinned = { before: note.isPinned, after: input.is_pinned };
  }
  const changed = Object.keys(changes);
  if (changed.length === 0) {
    return { message: "No changes: the note already has these values", fields: { note_uuid: note.uuid, changed_fields: [] } };
  }

  const db = scope.db;
  await db.batch([
    db
      .update(caseNotes)
      .set({ ...values, updatedAt: scope.services.clock.iso() })
      .where(eq(caseNotes.id, note.id)),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: scope.caller,
      action: "case_note.updated",
      changes: { note_uuid: note.uuid, ...changes },
    }),
  ]);
  return { message: "Case note updated", fields: { note_uuid: note.uuid, changed_fields: changed } };
});

export const deleteNote = useCase(NOTE_ADMISSION, async (scope, input: { uuid: string }): Promise<NoteAnswer> => {
  const { note, job, files } = await noteForWrite(scope, input.uuid, true);
  assertMayChange(scope, note, "delete");
  const db = scope.db;
  // The note's emailed replies go with it; attachment rows cascade from their notes.
  const doomed = or(eq(caseNotes.id, note.id), eq(caseNotes.parentId, note.id));
  const [, removed] = await db.batch([
    db.delete(noteAttachments).where(inArray(noteAttachments.noteId, db.select({ id: caseNotes.id }).from(caseNotes).where(doomed))),
    db.delete(caseNotes).where(doomed).returning({ uuid: caseNotes.uuid }),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: scope.caller,
      action: "case_note.deleted",
      changes: { note_uuid: note.uuid, message: { changed: true }, attachments: files.length },
    }),
  ]);
  await removeStored(scope.services, files);
  const replies = removed.length - 1;
  return {
    message: replies > 0 ? `Case note deleted with ${replies} repl${replies === 1 ? "y" : "ies"}` : "Case note deleted",
    fields: { note_uuid: note.uuid },
  };
});

/**
 * Whether the caller may add `count` files to the note now (404 / 403 / 400 as `addNoteFiles` would
 * answer): asked by a resumable upload before its bytes arrive, and by `addNoteFiles` itself.
 */
export async function noteForFiles(scope: Scope, input: { uuid: string; count: number }) {
  const { note, job } = await noteForWrite(scope, input.uuid);
  assertMayChange(scope, note, "add files to");
  if (input.count === 0) {
    throw badRequest("attachments: is required", [{ field: "attachments", message: "is required" }]);
  }
  const existing = await scope.db.$count(noteAttachments, eq(noteAttachments.noteId, note.id));
  checkCount(INTAKE_POLICIES.noteFile, input.count, existing);
  return { note, job, existing };
}

export const addNoteFiles = useCase(NOTE_ADMISSION, async (scope, input: NoteFiles): Promise<NoteAnswer> => {
  const { note, job, existing } = await noteForFiles(scope, { uuid: input.uuid, count: input.attachments.length });
  const db = scope.db;
  const files = await prepareAttachments(job.uuid, note.uuid, input.attachments, existing);
  await commitWithFiles(scope.services, db, files, [
    db.update(caseNotes).set({ updatedAt: scope.services.clock.iso() }).where(eq(caseNotes.id, note.id)),
    ...attachmentInserts(db, note.uuid, job.id, files),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: scope.caller,
      action: "case_note.attachments_added",
      changes: { note_uuid: note.uuid, attachments: files.map((f) => f.filename) },
    }),
  ]);
  return {
    message: `${files.length} file(s) added to the case note`,
    fields: { note_uuid: note.uuid },
    files: files.map((f) => ({ uuid: f.uuid, filename: f.filename, size: f.size })),
  };
});

/** An emailed reply whose sender, note and job the mail channel has checked (src/email/inbound.ts). */
export interface EmailReply {
  job: JobForNotes;
  parent: { id: number; uuid: string };
  /** A user who sees the job, or a party named by its role (no user account). */
  author: Actor;
  /** Who the sender is to the job (`user:<role>`, `contractor`, `agent`, `private_contact`), for the event. */
  party: string;
  /** The reply's own text (quoted history removed); may be empty when files came. */
  text: string;
  attachments: AttachmentInput[];
  messageId: string;
  sender: string;
}

/**
 * Stores an emailed reply as a child note, with the same intake, sanitising, encryption and batch
 * as `createNote`. The mail channel's admission is the signed reply address, checked before; its
 * refusals (files, an empty reply) come back as ApiErrors for the channel to bounce.
 */
export async function addEmailReply(
  services: Services,
  reply: EmailReply,
): Promise<{ kind: "stored"; noteUuid: string } | { kind: "duplicate" }> {
  const { job } = reply;
  const db = services.db;
  const uuid = crypto.randomUUID();
  const files = await prepareAttachments(job.uuid, uuid, reply.attachments, 0, INTAKE_POLICIES.mailAttachment);
  if (reply.text === "" && files.length === 0) {
    throw badRequest("Empty reply: no text once quoted history is removed, and no attachments");
  }
  // The text part is as untrusted as HTML: it goes through the same sanitising step as API notes.
  const body = await prepareNoteBody(reply.text === "" ? "(attachments only)" : reply.text);
  try {
    await storeNote(services, db, {
      uuid,
      job,
      body,
      files,
      author: reply.author,
      row: { parentId: reply.parent.id, source: "email", inboundMessageId: reply.messageId },
      fromEmail: reply.sender,
      event: {
        action: "case_note.reply_received",
        changes: {
          note_uuid: uuid,
          parent_uuid: reply.parent.uuid,
          sender: reply.party,
          message: { changed: true },
          attachments: files.map((f) => f.filename),
        },
      },
    });
  } catch (err) {
    // Two deliveries racing: the unique inbound index kept the other one.
    if (await replyStored(db, reply.messageId)) return { kind: "duplicate" };
    throw err;
  }
  return { kind: "stored", noteUuid: uuid };
}

/** True when a reply with this Message-ID is stored already (a redelivery). */
export async function replyStored(db: Db, messageId: string): Promise<boolean> {
  return (await db.select({ id: caseNotes.id }).from(caseNotes).where(eq(caseNotes.inboundMessageId, messageId)).get()) !== undefined;
}
