import { and, eq, inArray, or, sql } from "drizzle-orm";
import { caseNotes, jobs, noteAttachments } from "../db/schema";
import { type NoteMailOutcome, pickRecipients, sendNoteMail } from "../email/note-mail";
import { prepareNoteBody } from "../email/sanitize";
import { removeStored } from "../media/cleanup";
import { fileInputs, prepareAttachments, putAttachments } from "../media/note-files";
import type { Services } from "../platform/services";
import type { Principal } from "./caller";
import { ApiError, badRequest, notFound } from "./errors";
import { recordEvent } from "./events";
import { changeable, type JobReader } from "./job-access";
import { attachmentInserts, encryptNote, jobParties, noteContext, selectJobForNotes } from "./notes";
import { assertCan, canSeePrivate } from "./policy";
import { nowIso } from "./time";

/**
 * Creating, editing, deleting a case note and adding its files: the rules (who may change a note,
 * sanitising, encryption, files through the media intake, mail to the parties) and one D1 batch
 * each with its event. The route (src/jobs/case-notes/write.ts) validates, calls one of these and
 * builds the envelope from the answer.
 */

/** Who is changing a note: the services and the resolved caller (a Scope, src/app/scope.ts, is one). */
export interface NoteWriter extends JobReader {
  readonly services: Services;
  /** Read only once resolved: after `principal()` or the first `read`. */
  readonly caller: Principal;
}

export interface NewNote {
  job_uuid: string;
  message: string;
  send_email: boolean;
  is_pinned: boolean;
  attachments?: File[];
}
export interface NoteEdit {
  uuid: string;
  message?: string;
  is_pinned?: boolean;
}
export interface NoteFiles {
  uuid: string;
  attachments: File[];
}

/** What the route answers: the reference's message and fields, and the status. */
export interface NoteAnswer {
  message: string;
  fields: Record<string, unknown>;
  status?: 200 | 201;
}
const answer = (message: string, fields: Record<string, unknown>, status?: 200 | 201): NoteAnswer => ({ message, fields, status });

async function jobForNotes(ctx: NoteWriter, jobUuid: string) {
  const visible = await ctx.jobVisible();
  const [rows] = await ctx.read([selectJobForNotes(ctx.db).where(and(eq(jobs.uuid, jobUuid), visible))]);
  return changeable(rows);
}

/**
 * A note on a job the caller sees (404 otherwise; 403 on archived jobs) in one read, with the
 * stored files of the note and its replies when `withFiles` (a deletion removes them).
 */
async function noteForWrite(ctx: NoteWriter, uuid: string, withFiles = false) {
  const visible = await ctx.jobVisible();
  const noteId = sql`(SELECT ${caseNotes.id} FROM ${caseNotes} WHERE ${caseNotes.uuid} = ${uuid})`;
  const [notes, jobRows, files] = await ctx.read([
    ctx.db.select().from(caseNotes).where(eq(caseNotes.uuid, uuid)),
    selectJobForNotes(ctx.db).where(
      and(sql`${jobs.id} = (SELECT ${caseNotes.jobId} FROM ${caseNotes} WHERE ${caseNotes.uuid} = ${uuid})`, visible),
    ),
    ctx.db
      .select({ key: noteAttachments.r2Key })
      .from(noteAttachments)
      .where(
        inArray(
          noteAttachments.noteId,
          ctx.db
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
function assertMayChange(ctx: NoteWriter, note: { createdBy: number | null }, what: string) {
  const caller = ctx.caller;
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

export async function createNote(ctx: NoteWriter, input: NewNote): Promise<NoteAnswer> {
  const job = await jobForNotes(ctx, input.job_uuid);
  const caller = ctx.caller;
  const body = await bodyOrReject(input.message);
  const uuid = crypto.randomUUID();
  const files = await prepareAttachments(job.uuid, uuid, await fileInputs(input.attachments ?? []));
  const cipher = await ctx.services.cipher();
  const sealed = await encryptNote(cipher, uuid, { message: body.message, text: body.text });
  const now = nowIso();
  const db = ctx.db;

  await putAttachments(ctx.services, files);
  let results: unknown[];
  try {
    results = await db.batch([
      db.insert(caseNotes).values({
        uuid,
        jobId: job.id,
        message: sealed.message,
        messageText: sealed.messageText,
        isHtml: body.isHtml,
        isPinned: input.is_pinned,
        sendEmail: input.send_email,
        source: "api",
        createdBy: caller.userId,
        createdByName: caller.name,
        createdAt: now,
        updatedAt: now,
      }),
      ...attachmentInserts(db, uuid, job.id, files),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: "case_note.created",
        changes: {
          note_uuid: uuid,
          message: { changed: true },
          send_email: input.send_email,
          is_pinned: input.is_pinned,
          attachments: files.map((f) => f.filename),
        },
      }),
      db.select({ id: caseNotes.id }).from(caseNotes).where(eq(caseNotes.uuid, uuid)),
    ]);
  } catch (err) {
    // Nothing half-stored: the files go if the rows did not make it.
    await removeStored(
      ctx.services,
      files.map((f) => f.key),
    );
    throw err;
  }
  const noteId = (results.at(-1) as { id: number }[])[0]?.id;
  if (noteId === undefined) throw new ApiError("INTERNAL", "Case note was not created");

  let outcome: NoteMailOutcome | undefined;
  if (input.send_email) {
    // Sent after the note is committed (it exists even if sending fails); the outcome is recorded on it.
    // Who may not see the private contact (contractors, tokens without the permission: policy.ts
    // canSeePrivate) cannot reach them either: their notes (links, remote images and all) are not mailed there.
    const parties = (await jobParties(cipher, job)).filter(
      (p) => p.role !== "private_contact" || canSeePrivate(caller, "private_contact_email"),
    );
    const recipients = pickRecipients(parties, caller.email);
    outcome = await sendNoteMail(ctx.services.env, {
      noteUuid: uuid,
      jobRef: job.jobRef,
      jobTitle: job.jobTitle,
      authorName: caller.name,
      text: body.text,
      html: body.html,
      recipients,
    });
    await db.batch([
      db
        .update(caseNotes)
        .set({
          emailStatus: outcome.status,
          emailError: outcome.error,
          emailMessageId: outcome.messageId,
          emailRecipients: JSON.stringify(outcome.recipients),
          updatedAt: nowIso(),
        })
        .where(eq(caseNotes.id, noteId)),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: outcome.status === "sent" ? "case_note.emailed" : "case_note.email_failed",
        changes: { note_uuid: uuid, email_status: outcome.status, recipients: outcome.recipients, email_error: outcome.error },
      }),
    ]);
  }
  return answer(
    "Case note created",
    {
      note_uuid: uuid,
      note_id: noteId,
      email_status: outcome?.status ?? "none",
      email_error: outcome?.error ?? null,
      attachments_count: files.length,
    },
    201,
  );
}

export async function updateNote(ctx: NoteWriter, input: NoteEdit): Promise<NoteAnswer> {
  const { note, job } = await noteForWrite(ctx, input.uuid);
  const cipher = await ctx.services.cipher();
  const changes: Record<string, unknown> = {};
  const values: Partial<typeof caseNotes.$inferInsert> = {};

  if (input.message !== undefined) {
    assertMayChange(ctx, note, "edit");
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
    assertMayChange(ctx, note, input.is_pinned ? "pin" : "unpin");
    values.isPinned = input.is_pinned;
    changes.is_pinned = { before: note.isPinned, after: input.is_pinned };
  }
  const changed = Object.keys(changes);
  if (changed.length === 0) return answer("No changes: the note already has these values", { note_uuid: note.uuid, changed_fields: [] });

  const db = ctx.db;
  await db.batch([
    db
      .update(caseNotes)
      .set({ ...values, updatedAt: nowIso() })
      .where(eq(caseNotes.id, note.id)),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: ctx.caller,
      action: "case_note.updated",
      changes: { note_uuid: note.uuid, ...changes },
    }),
  ]);
  return answer("Case note updated", { note_uuid: note.uuid, changed_fields: changed });
}

export async function deleteNote(ctx: NoteWriter, uuid: string): Promise<NoteAnswer> {
  const { note, job, files } = await noteForWrite(ctx, uuid, true);
  assertMayChange(ctx, note, "delete");
  const db = ctx.db;
  // The note's emailed replies go with it; attachment rows cascade from their notes.
  const doomed = or(eq(caseNotes.id, note.id), eq(caseNotes.parentId, note.id));
  const [, removed] = await db.batch([
    db.delete(noteAttachments).where(inArray(noteAttachments.noteId, db.select({ id: caseNotes.id }).from(caseNotes).where(doomed))),
    db.delete(caseNotes).where(doomed).returning({ uuid: caseNotes.uuid }),
    recordEvent(db, {
      jobId: job.id,
      jobUuid: job.uuid,
      actor: ctx.caller,
      action: "case_note.deleted",
      changes: { note_uuid: note.uuid, message: { changed: true }, attachments: files.length },
    }),
  ]);
  await removeStored(ctx.services, files);
  return answer(
    removed.length > 1 ? `Case note deleted with ${removed.length - 1} repl${removed.length === 2 ? "y" : "ies"}` : "Case note deleted",
    {
      note_uuid: note.uuid,
    },
  );
}

export async function attachFiles(ctx: NoteWriter, input: NoteFiles): Promise<NoteAnswer> {
  const { note, job } = await noteForWrite(ctx, input.uuid);
  assertMayChange(ctx, note, "add files to");
  if (input.attachments.length === 0) {
    throw badRequest("attachments: is required", [{ field: "attachments", message: "is required" }]);
  }
  const db = ctx.db;
  const existing = await db.$count(noteAttachments, eq(noteAttachments.noteId, note.id));
  const files = await prepareAttachments(job.uuid, note.uuid, await fileInputs(input.attachments), existing);
  await putAttachments(ctx.services, files);
  try {
    await db.batch([
      db.update(caseNotes).set({ updatedAt: nowIso() }).where(eq(caseNotes.id, note.id)),
      ...attachmentInserts(db, note.uuid, job.id, files),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: ctx.caller,
        action: "case_note.attachments_added",
        changes: { note_uuid: note.uuid, attachments: files.map((f) => f.filename) },
      }),
    ]);
  } catch (err) {
    await removeStored(
      ctx.services,
      files.map((f) => f.key),
    );
    throw err;
  }
  return answer(`${files.length} file(s) added to the case note`, { note_uuid: note.uuid });
}
