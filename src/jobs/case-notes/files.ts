/** A case note's file download, as a use case (the notes' own writes are in service.ts). */
import { useCase } from "../../app/use-case";
import { noteAttachments } from "../../db/schema";
import type { RangeRequest } from "../../media/range";
import { visibleFile } from "../../media/serve";

/** A note attachment's bytes: always a download, stored files are never rendered in the API's origin. */
export const downloadNoteFile = useCase(
  { permission: "api.jobs.case_notes.manage" },
  async (scope, input: { uuid: string; range: RangeRequest }) =>
    visibleFile(scope, { table: noteAttachments, uuid: input.uuid, what: "Attachment", range: input.range }, (file) => ({
      key: file.r2Key,
      contentType: file.contentType,
      filename: file.filename,
      disposition: "attachment",
      missing: "Attachment file not found",
    })),
);
