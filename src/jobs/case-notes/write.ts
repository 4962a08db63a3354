import { z } from "@hono/zod-openapi";
import { and, eq, inArray, or } from "drizzle-orm";
import { caseNotes, jobs, noteAttachments } from "../../db/schema";
import { ApiError, badRequest, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable } from "../../domain/job-access";
import { attachmentInserts, encryptNote, jobParties, noteContext, selectJobForNotes } from "../../domain/notes";
import { assertCan } from "../../domain/policy";
import { nowIso } from "../../domain/time";
import { type NoteMailOutcome, pickRecipients, sendNoteMail } from "../../email/note-mail";
import { prepareNoteBody } from "../../email/sanitize";
import type { RequestContext } from "../../http/context";
import { done } from "../../http/envelope";
import { MessageOnly } from "../../http/openapi-shapes";
import { type AppContext, jsonResponse, operation } from "../../http/operation";
import { removeStored } from "../../media/cleanup";
import { fileInputs, prepareAttachments, putAttachments } from "../../media/note-files";
import { type AttachNote, type CreateNote, caseNotesBody, type UpdateNote } from "./schemas";

export const postCaseNotes = operation({
  method: "post",
  path: "/api/jobs/case-notes",
  operationId: "createUpdateDeleteCaseNote",
  summary: "Create a case note (no action, or action=create), update (action=update), delete (action=delete) or add files (action=attach)",
  description:
    "create: `job_uuid`, `message` (plain text or HTML; HTML is sanitised), optional `send_email`, `is_pinned` and, in " +
    "multipart bodies, `attachments` (PDF, JPEG, PNG or plain text; at most 5 per note, 5 MB each). With `send_email=true` " +
    "the note is emailed to the job's contractor, agent and private contact after it is stored; replies are threaded back " +
    "as child notes. Answers 201 with `note_uuid`, `note_id` and `email_status` (sent, partial, failed; failures also " +
    "recorded on the note). update: `uuid` plus `message` and/or `is_pinned`. delete: `uuid` (removes its replies and " +
    "files too). attach: `uuid` plus `attachments`. Editing text, deleting and attaching are for the note's author or " +
    "staff, managers and admins; anyone who sees the job may pin. Archived jobs answer 403.",
  tag: "Case notes",
  permission: "api.jobs.case_notes.manage",
  body: caseNotesBody,
  actions: ["create", "update", "delete", "attach"],
  responses: {
    201: jsonResponse(
      "Case note created",
      z.object({
        success: z.literal(true),
        note_uuid: z.string(),
        note_id: z.number().int(),
        email_status: z.enum(["none", "sent", "failed", "partial"]),
        email_error: z.string().nullable(),
        attachments_count: z.number().int(),
        message: z.string(),
      }),
    ),
    200: jsonResponse(
      "Case note updated, deleted or given files",
      MessageOnly.extend({ note_uuid: z.string(), changed_fields: z.array(z.string()).optional() }),
    ),
  },
  handler: async (c, { body }) => {
    switch (body.action) {
      case "create":
        return createNote(c, body);
      case "update":
        return updateNote(c, body);
      case "delete":
        return deleteNote(c, body.uuid);
      case "attach":
        return attachFiles(c, body);
    }
  },
});

async function jobForNotes(ctx: RequestContext, jobUuid: string) {
  await ctx.principal();
  return changeable(
    await selectJobForNotes(ctx.db)
      .where(and(eq(jobs.uuid, jobUuid), await ctx.jobVisible()))
      .get(),
  );
}

/** A note on a job the caller sees (404 otherwise; 403 on archived jobs). */
async function noteForWrite(ctx: RequestContext, uuid: string) {
  await ctx.principal();
  const row = await ctx.db
    .select({ note: caseNotes, jobUuid: jobs.uuid })
    .from(caseNotes)
    .innerJoin(jobs, eq(jobs.id, caseNotes.jobId))
    .where(and(eq(caseNotes.uuid, uuid), await ctx.jobVisible()))
    .get();
  if (!row) throw notFound("Case note");
  const job = await jobForNotes(ctx, row.jobUuid);
  return { note: row.note, job };
}

/** Text edits, deletion and files: the author, or the managing side (staff, managers, admins). */
function assertMayChange(ctx: RequestContext, note: { createdBy: number | null }, what: string) {
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

async function createNote(c: AppContext, input: CreateNote) {
  const ctx = c.var.ctx;
  const caller = ctx.caller;
  const job = await jobForNotes(ctx, input.job_uuid);
  const body = await bodyOrReject(input.message);
  const uuid = crypto.randomUUID();
  const files = await prepareAttachments(job.uuid, uuid, await fileInputs(input.attachments ?? []));
  const cipher = await ctx.cipher();
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
    // Contractors cannot see the private contact, so their notes (links, remote images and all) are not mailed to them.
    const parties = (await jobParties(cipher, job)).filter((p) => caller.role !== "contractor" || p.role !== "private_contact");
    const recipients = pickRecipients(parties, caller.email);
    outcome = await sendNoteMail(c.env, {
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
  return done(
    c,
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

async function updateNote(c: AppContext, input: UpdateNote) {
  const ctx = c.var.ctx;
  const { note, job } = await noteForWrite(ctx, input.uuid);
  const cipher = await ctx.cipher();
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
    values.isPinned = input.is_pinned;
    changes.is_pinned = { before: note.isPinned, after: input.is_pinned };
  }
  const changed = Object.keys(changes);
  if (changed.length === 0) return done(c, "No changes: the note already has these values", { note_uuid: note.uuid, changed_fields: [] });

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
  return done(c, "Case note updated", { note_uuid: note.uuid, changed_fields: changed });
}

async function deleteNote(c: AppContext, uuid: string) {
  const ctx = c.var.ctx;
  const { note, job } = await noteForWrite(ctx, uuid);
  assertMayChange(ctx, note, "delete");
  const db = ctx.db;
  // The note's emailed replies go with it; attachment rows cascade from their notes.
  const doomed = or(eq(caseNotes.id, note.id), eq(caseNotes.parentId, note.id));
  const files = await db
    .select({ key: noteAttachments.r2Key })
    .from(noteAttachments)
    .where(inArray(noteAttachments.noteId, db.select({ id: caseNotes.id }).from(caseNotes).where(doomed)));
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
  await removeStored(
    ctx.services,
    files.map((f) => f.key),
  );
  return done(
    c,
    removed.length > 1 ? `Case note deleted with ${removed.length - 1} repl${removed.length === 2 ? "y" : "ies"}` : "Case note deleted",
    {
      note_uuid: note.uuid,
    },
  );
}

async function attachFiles(c: AppContext, input: AttachNote) {
  const ctx = c.var.ctx;
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
  return done(c, `${files.length} file(s) added to the case note`, { note_uuid: note.uuid });
}
