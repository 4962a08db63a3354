import { eq, sql } from "drizzle-orm";
import type { FieldCipher } from "../crypto/fields";
import type { Db } from "../db/db";
import { agents, contractors, jobStatuses, jobs } from "../db/schema";
import { aliased } from "../db/select";
import { JOB_IDENTITY } from "./job-access";
import { jobFieldContext } from "./job-fields";

/** Who a note can be mailed to, and who may reply into it. */
export type PartyRole = "contractor" | "agent" | "private_contact";

type NoteColumn = "message" | "message_text" | "from_email";

/** Key context of a note's encrypted column: table, column and the note's own uuid. */
export const noteContext = (noteUuid: string, column: NoteColumn) => ({ table: "case_notes", column, rowUuid: noteUuid });

export async function encryptNote(cipher: FieldCipher, noteUuid: string, v: { message: string; text: string; fromEmail?: string | null }) {
  const [message, messageText, fromEmail] = await Promise.all([
    cipher.encrypt(noteContext(noteUuid, "message"), v.message),
    cipher.encrypt(noteContext(noteUuid, "message_text"), v.text),
    cipher.encryptOptional(noteContext(noteUuid, "from_email"), v.fromEmail),
  ]);
  return { message, messageText, fromEmail };
}

/** A job with what notes need: its parties' addresses and whether it is archived. */
export function selectJobForNotes(db: Db) {
  return db
    .select(
      aliased({
        ...JOB_IDENTITY,
        contractorId: jobs.contractorId,
        agentId: jobs.agentId,
        privateContactEmail: jobs.privateContactEmail,
        contractorEmail: sql<string | null>`${contractors.email}`,
        contractorName: sql<string | null>`${contractors.name}`,
        agentEmail: sql<string | null>`${agents.email}`,
        agentName: sql<string | null>`${agents.name}`,
        isArchived: jobStatuses.isArchived,
      }),
    )
    .from(jobs)
    .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
    .leftJoin(contractors, eq(contractors.id, jobs.contractorId))
    .leftJoin(agents, eq(agents.id, jobs.agentId));
}

export type JobForNotes = Awaited<ReturnType<ReturnType<typeof selectJobForNotes>["all"]>>[number];

/** The job's parties with an address: contractor, agent, private contact (decrypted). */
export async function jobParties(cipher: FieldCipher, job: JobForNotes) {
  const privateEmail = await cipher.decryptOptional(jobFieldContext(job.uuid, "private_contact_email"), job.privateContactEmail);
  return [
    { role: "contractor" as PartyRole, email: job.contractorEmail, name: job.contractorName },
    { role: "agent" as PartyRole, email: job.agentEmail, name: job.agentName },
    // The private contact's name is encrypted: notes name the party, not the person.
    { role: "private_contact" as PartyRole, email: privateEmail, name: "Private contact" },
  ];
}
