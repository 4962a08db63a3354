import { z } from "@hono/zod-openapi";
import { CONTROL_CHARS_MESSAGE, noControlChars, zBool, zInt, zPagination, zUuid } from "../../domain/values";
import { NOTE_LIMITS } from "../../media/note-files";

/** The message as sent: plain text or rich-text HTML; checked again for text after sanitising. */
const zMessage = () =>
  z
    .string({ error: "must be text" })
    .trim()
    .min(1, "must not be empty")
    .max(NOTE_LIMITS.maxMessageChars, `must be at most ${NOTE_LIMITS.maxMessageChars} characters`)
    .refine(noControlChars, CONTROL_CHARS_MESSAGE)
    .openapi({ description: "Plain text, or HTML from a rich-text editor (sanitised to a safe allow-list before storage)" });

/** One or more files from a multipart body (`attachments`, repeated, or `attachments[]`). */
const zFiles = () =>
  z
    .preprocess(
      (v) => (v === undefined || Array.isArray(v) ? v : [v]),
      z
        .array(z.instanceof(File, { error: "must be a file (send multipart/form-data)" }))
        .max(NOTE_LIMITS.maxFiles, `at most ${NOTE_LIMITS.maxFiles} files per note`),
    )
    .openapi({
      type: "array",
      items: { type: "string", format: "binary" },
      description: `Files (multipart only): PDF, JPEG, PNG or plain text, each at most ${NOTE_LIMITS.maxFileBytes / 1024 / 1024} MB, at most ${NOTE_LIMITS.maxFiles} per note`,
    });

export const createNoteBody = z.strictObject({
  action: z.literal("create"),
  job_uuid: zUuid(),
  message: zMessage(),
  send_email: zBool().default(false),
  is_pinned: zBool().default(false),
  attachments: zFiles().optional(),
});

export const updateNoteBody = z
  .strictObject({
    action: z.literal("update"),
    uuid: zUuid(),
    message: zMessage().optional(),
    is_pinned: zBool().optional(),
  })
  .refine((v) => v.message !== undefined || v.is_pinned !== undefined, {
    message: "send message and/or is_pinned",
    path: ["message"],
  });

export const deleteNoteBody = z.strictObject({ action: z.literal("delete"), uuid: zUuid() });

export const attachNoteBody = z.strictObject({ action: z.literal("attach"), uuid: zUuid(), attachments: zFiles() });

/** create is the default: the reference's create call has no action field. */
export const caseNotesBody = z.preprocess(
  (v) => (v !== null && typeof v === "object" && !Array.isArray(v) && !("action" in v) ? { ...v, action: "create" } : v),
  z.discriminatedUnion("action", [createNoteBody, updateNoteBody, deleteNoteBody, attachNoteBody]),
);

export type CreateNote = z.infer<typeof createNoteBody>;
export type UpdateNote = z.infer<typeof updateNoteBody>;
export type AttachNote = z.infer<typeof attachNoteBody>;

/**
 * The most notes one list answer carries. The reference shows a job's notes unpaged, so a list
 * without `limit` answers every note up to this bound (far above a job's usual thread); `count` is
 * always the job's total, so a longer thread pages on with `offset`.
 */
export const MAX_NOTES_PER_PAGE = 500;

export const listNotesQuery = z.strictObject({
  action: z.literal("list"),
  job_uuid: zUuid(),
  limit: zInt()
    .pipe(z.number().min(1, "must be at least 1").max(MAX_NOTES_PER_PAGE, `must be at most ${MAX_NOTES_PER_PAGE}`))
    .optional()
    .openapi({
      type: "integer",
      description: `At most this many notes (1–${MAX_NOTES_PER_PAGE}). Absent: every note of the job, up to ${MAX_NOTES_PER_PAGE}`,
    }),
  offset: zPagination.offset,
});
export const downloadQuery = z.strictObject({ action: z.literal("download"), uuid: zUuid() });
export const caseNotesQuery = z.discriminatedUnion("action", [listNotesQuery, downloadQuery]);
export type ListNotesQuery = z.infer<typeof listNotesQuery>;

export const NoteAttachment = z.object({
  uuid: z.string(),
  filename: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  download_url: z.string().openapi({ example: "/api/jobs/case-notes?action=download&uuid=550e8400-e29b-41d4-a716-446655440060" }),
});

export const CaseNoteItem = z
  .object({
    ID: z.number().int(),
    uuid: z.string(),
    job_id: z.number().int(),
    message: z.string().openapi({
      description:
        "Sanitised HTML (allow-list) when is_html; else plain text in which no markup can start (no `<` before a letter, `/`, `!` or `?`)",
    }),
    created_by_name: z.string(),
    send_email: z.boolean(),
    attachments_count: z.number().int(),
    created_at: z.string(),
    parent_uuid: z.string().nullable().openapi({ description: "The note an emailed reply answers; null for top-level notes" }),
    is_html: z.boolean(),
    is_pinned: z.boolean(),
    source: z.enum(["api", "email"]),
    email_status: z.enum(["none", "sent", "failed", "partial"]),
    email_error: z.string().nullable(),
    updated_at: z.string(),
    attachments: z.array(NoteAttachment),
  })
  .openapi("CaseNote");
