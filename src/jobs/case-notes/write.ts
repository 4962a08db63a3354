import { z } from "@hono/zod-openapi";
import { done } from "../../http/envelope";
import { ex, JOB_UUID, NOTE_UUID } from "../../http/openapi-samples";
import { MessageOnly } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { fileInputs } from "../../media/note-files";
import { caseNotesBody } from "./schemas";
import { addNoteFiles, createNote, deleteNote, editNote, type NoteAnswer } from "./service";

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
    "staff, managers and admins; so is pinning or unpinning (it reorders the notes for everyone). Archived jobs answer 403.",
  tag: "Case Notes",
  permission: createNote.admission.permission,
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
    const scope = c.var.ctx;
    // One use case per action; multipart files are handed over as bytes.
    const answer = (out: NoteAnswer, status?: 201) => done(c, out.message, out.fields, status);
    switch (body.action) {
      case "create":
        return answer(await createNote(scope, { ...body, attachments: await fileInputs(body.attachments ?? []) }), 201);
      case "update":
        return answer(await editNote(scope, body));
      case "delete":
        return answer(await deleteNote(scope, body));
      case "attach":
        return answer(await addNoteFiles(scope, { uuid: body.uuid, attachments: await fileInputs(body.attachments) }));
    }
  },
  docs: {
    body: {
      create: ex("Create a case note", {
        action: "create",
        job_uuid: JOB_UUID,
        message: "Contractor attended site and completed boiler service.",
        send_email: false,
      }),
      update: ex("Edit the note text or toggle the pinned state", { action: "update", uuid: NOTE_UUID, is_pinned: true }),
      delete: ex("Remove a case note", { action: "delete", uuid: NOTE_UUID }),
    },
    responses: {
      201: {
        created: ex("Case note created", {
          success: true,
          note_uuid: NOTE_UUID,
          note_id: 501,
          email_status: "none",
          email_error: null,
          attachments_count: 0,
          message: "Case note created successfully",
        }),
      },
      200: {
        updated: ex("Case note updated", {
          success: true,
          message: "Case note updated successfully",
          note_uuid: NOTE_UUID,
          changed_fields: ["is_pinned"],
        }),
      },
    },
  },
});
