import type { z } from "@hono/zod-openapi";
import { and, asc, count, desc, eq, sql } from "drizzle-orm";
import { caseNotes, jobs, noteAttachments } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { noteContext } from "../../domain/notes";
import { noteForOutput } from "../../email/sanitize";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, NOTE_UUID, OK } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { type AppContext, operation } from "../../http/operation";
import { downloadUrl } from "../../media/note-files";
import { rangeOf } from "../../media/range";
import { fileResponse } from "../../media/serve";
import { listOrFileResponses } from "../../media/upload";
import { downloadNoteFile } from "./files";
import { CaseNoteItem, caseNotesQuery, type ListNotesQuery, MAX_NOTES_PER_PAGE } from "./schemas";

export const getCaseNotes = operation({
  method: "get",
  path: "/api/jobs/case-notes",
  operationId: "listCaseNotesOrDownloadAttachment",
  summary: "List a job's case notes (action=list&job_uuid=…) or download a note attachment (action=download&uuid=<attachment uuid>)",
  description:
    "`action=list`: the job's notes, decrypted, pinned notes first and then oldest to newest; emailed replies carry " +
    "`parent_uuid` (the note they answer). Every note of the job unless `limit` is given (at most " +
    `${MAX_NOTES_PER_PAGE} per answer, with or without \`limit\`); \`count\` is always the job's total, so a thread longer ` +
    "than the answer pages on with `offset`. " +
    "`action=download` answers the attachment's bytes with its sniffed content type. Contractors see only their jobs' notes.",
  tag: "Case Notes",
  permission: "api.jobs.case_notes.manage",
  query: caseNotesQuery,
  actions: ["list", "download"],
  responses: listOrFileResponses("The notes, or the attachment's bytes", listEnvelope(CaseNoteItem)),
  handler: async (c, { query }) =>
    query.action === "list"
      ? listNotes(c, query)
      : fileResponse(await downloadNoteFile(c.var.ctx, { uuid: query.uuid, range: rangeOf(c.req.raw) })),
  docs: {
    query: { action: "list", job_uuid: JOB_UUID },
    responses: {
      200: {
        list: ex("A job's case notes", {
          success: true,
          data: [
            {
              ID: 501,
              uuid: NOTE_UUID,
              job_id: 1001,
              message: "Contractor attended site and completed boiler service.",
              created_by_name: "Staff_001",
              send_email: false,
              attachments_count: 0,
              created_at: "2024-06-01T14:00:00Z",
              parent_uuid: null,
              is_html: false,
              is_pinned: false,
              source: "api",
              email_status: "none",
              email_error: null,
              updated_at: "2024-06-01T14:00:00Z",
              attachments: [],
            },
          ],
          count: 5,
          message: OK,
        }),
      },
    },
  },
});

const parentUuid = sql<string | null>`(SELECT p.uuid FROM case_notes p WHERE p.id = ${caseNotes.parentId})`;

async function listNotes(c: AppContext, q: ListNotesQuery) {
  const ctx = c.var.ctx;
  const visible = await ctx.jobVisible();
  const ofJob = and(eq(jobs.uuid, q.job_uuid), visible);
  const [jobRows, rows, [total], files] = await ctx.read([
    ctx.db.select({ id: jobs.id }).from(jobs).where(ofJob),
    ctx.db
      .select({ note: caseNotes, parentUuid })
      .from(caseNotes)
      .innerJoin(jobs, eq(jobs.id, caseNotes.jobId))
      .where(ofJob)
      .orderBy(desc(caseNotes.isPinned), asc(caseNotes.id))
      .limit(q.limit ?? MAX_NOTES_PER_PAGE)
      .offset(q.offset),
    ctx.db.select({ n: count() }).from(caseNotes).innerJoin(jobs, eq(jobs.id, caseNotes.jobId)).where(ofJob),
    ctx.db
      .select({
        noteId: noteAttachments.noteId,
        uuid: noteAttachments.uuid,
        filename: noteAttachments.filename,
        contentType: noteAttachments.contentType,
        size: noteAttachments.size,
      })
      .from(noteAttachments)
      .innerJoin(jobs, eq(jobs.id, noteAttachments.jobId))
      .where(ofJob)
      .orderBy(asc(noteAttachments.id)),
  ]);
  if (jobRows.length === 0) throw notFound("Job");

  const byNote = new Map<number, z.infer<typeof CaseNoteItem>["attachments"]>();
  for (const f of files) {
    const list = byNote.get(f.noteId) ?? [];
    list.push({ uuid: f.uuid, filename: f.filename, content_type: f.contentType, size: f.size, download_url: downloadUrl(f.uuid) });
    byNote.set(f.noteId, list);
  }
  const cipher = await ctx.cipher();
  const data = await Promise.all(
    rows.map(async ({ note, parentUuid }) => {
      const attachments = byNote.get(note.id) ?? [];
      const body = await noteForOutput(await cipher.decrypt(noteContext(note.uuid, "message"), note.message), note.isHtml);
      return {
        ID: note.id,
        uuid: note.uuid,
        job_id: note.jobId,
        message: body.message,
        created_by_name: note.createdByName,
        send_email: note.sendEmail,
        attachments_count: attachments.length,
        created_at: note.createdAt,
        parent_uuid: parentUuid,
        is_html: body.isHtml,
        is_pinned: note.isPinned,
        source: note.source,
        email_status: note.emailStatus as z.infer<typeof CaseNoteItem>["email_status"],
        email_error: note.emailError,
        updated_at: note.updatedAt,
        attachments,
      } satisfies z.infer<typeof CaseNoteItem>;
    }),
  );
  return ok(c, data, { count: total?.n ?? 0 });
}
