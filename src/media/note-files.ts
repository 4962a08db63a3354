import type { Services } from "../platform/services";
import { checkCount, INTAKE_POLICIES, type IntakePolicy, intake, type UploadInput } from "./intake";
import { objectKey } from "./keys";
import { storeObjects } from "./store";

export { fileInputs } from "./upload";

/** Limits of case notes, for API requests and inbound email alike (the files' own: INTAKE_POLICIES.noteFile). */
export const NOTE_LIMITS = {
  maxMessageChars: 50_000,
  maxFiles: INTAKE_POLICIES.noteFile.maxFiles,
  maxFileBytes: INTAKE_POLICIES.noteFile.maxBytes,
  /** Inbound email: the whole raw message. */
  maxRawEmailBytes: 10 * 1024 * 1024,
} as const;

export type AttachmentInput = UploadInput;

export interface PreparedAttachment {
  uuid: string;
  key: string;
  filename: string;
  contentType: string;
  size: number;
  bytes: Uint8Array;
}

/**
 * A note's files through the one intake (count, size, type: 400 / 413 / 415 naming the file),
 * each given a generated R2 key. Inbound mail passes `INTAKE_POLICIES.mailAttachment`.
 */
export async function prepareAttachments(
  jobUuid: string,
  noteUuid: string,
  inputs: AttachmentInput[],
  existing = 0,
  policy: IntakePolicy = INTAKE_POLICIES.noteFile,
): Promise<PreparedAttachment[]> {
  checkCount(policy, inputs.length, existing);
  const prepared: PreparedAttachment[] = [];
  for (const input of inputs) {
    const file = await intake(policy, input);
    const uuid = crypto.randomUUID();
    const { filename, contentType, size, bytes } = file;
    prepared.push({ uuid, key: objectKey(jobUuid, "notes", noteUuid, uuid), filename, contentType, size, bytes });
  }
  return prepared;
}

/**
 * Stores the files; if one fails, removes those already stored and throws. The store step of
 * `storeCommitEnqueue` (src/media/store.ts), which also undoes the files when the rows fail.
 */
export const putAttachments = (services: Services, files: PreparedAttachment[]) => storeObjects(services, files);

export const downloadUrl = (attachmentUuid: string) => `/api/jobs/case-notes?action=download&uuid=${attachmentUuid}`;
