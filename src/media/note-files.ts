import { ApiError, badRequest } from "../domain/errors";
import type { Services } from "../platform/services";
import { removeStored } from "./cleanup";
import { objectKey } from "./keys";
import { hasActiveMarkup, SniffError, sniffDeep } from "./sniff";

/** Limits of case notes, for API requests and inbound email alike. */
export const NOTE_LIMITS = {
  maxMessageChars: 50_000,
  maxFiles: 5,
  maxFileBytes: 5 * 1024 * 1024,
  /** Inbound email: the whole raw message. */
  maxRawEmailBytes: 10 * 1024 * 1024,
} as const;

/** A markup document (HTML, SVG, XML) is not plain text, whatever its bytes decode to. */
const MARKUP_DOCUMENT = /<(html|head|body|meta|style|link|base|form|svg|math|script|iframe|object|embed|\?xml|!doctype)[\s/>]/i;

/** The binary types a note may carry, checked by the one upload sniffer (structure, polyglots, scripts). */
const NOTE_FILE_TYPES = ["pdf", "jpeg", "png"] as const;

/**
 * The type the bytes show (never the name or the declared type): PDF, JPEG or PNG as the upload
 * sniffer (src/media/sniff.ts) accepts them, or plain text (UTF-8 without control characters,
 * not markup, no active content). `refused` says why an accepted-looking file is not taken.
 */
export async function noteFileType(bytes: Uint8Array): Promise<{ contentType: string } | { refused: string } | null> {
  try {
    return { contentType: (await sniffDeep(bytes, NOTE_FILE_TYPES)).contentType };
  } catch (err) {
    if (!(err instanceof SniffError)) throw err;
    if (err.reason !== "unsupported") return { refused: err.message };
  }
  if (!isPlainText(bytes) || MARKUP_DOCUMENT.test(new TextDecoder().decode(bytes))) return null;
  return hasActiveMarkup(bytes) ? { refused: "carries HTML/script content" } : { contentType: "text/plain" };
}

function isPlainText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return false;
  }
  // Control characters other than tab, newline, form feed and carriage return mean binary.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) || c === 0x7f) return false;
  }
  return true;
}

/** Bidirectional controls (U+200E/F, U+202A–202E, U+2066–2069, U+061C): they make "gpj.exe" read as "exe.jpg". */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A display name for a file: no path, no control or bidirectional characters or quotes, bounded. */
export function safeFilename(name: string | null | undefined): string {
  const last = (name ?? "").replace(BIDI_CONTROLS, "").split(/[\\/]/).pop() ?? "";
  const base = [...last]
    .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f && ch !== '"')
    .join("")
    .trim();
  return (base || "attachment").slice(0, 200);
}

export interface AttachmentInput {
  filename: string | null | undefined;
  bytes: Uint8Array;
}

export interface PreparedAttachment {
  uuid: string;
  key: string;
  filename: string;
  contentType: string;
  size: number;
  bytes: Uint8Array;
}

/** Checks count, size and type (413 / 415 / 400 with the file named) and assigns each a generated R2 key. */
export async function prepareAttachments(
  jobUuid: string,
  noteUuid: string,
  inputs: AttachmentInput[],
  existing = 0,
): Promise<PreparedAttachment[]> {
  if (existing + inputs.length > NOTE_LIMITS.maxFiles) {
    throw badRequest(`attachments: at most ${NOTE_LIMITS.maxFiles} files per note`, [
      { field: "attachments", message: `at most ${NOTE_LIMITS.maxFiles} files per note` },
    ]);
  }
  const prepared: PreparedAttachment[] = [];
  for (const input of inputs) {
    const filename = safeFilename(input.filename);
    if (input.bytes.byteLength > NOTE_LIMITS.maxFileBytes) {
      throw new ApiError("PAYLOAD_TOO_LARGE", `attachments: ${filename} is larger than ${NOTE_LIMITS.maxFileBytes / 1024 / 1024} MB`, [
        { field: "attachments", message: `${filename} is too large` },
      ]);
    }
    const sniffed = await noteFileType(input.bytes);
    if (!sniffed) {
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `attachments: ${filename} is not a PDF, JPEG, PNG or plain-text file`, [
        { field: "attachments", message: `${filename} has an unsupported type` },
      ]);
    }
    if ("refused" in sniffed) {
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `attachments: ${filename}: ${sniffed.refused}`, [
        { field: "attachments", message: `${filename}: ${sniffed.refused}` },
      ]);
    }
    const contentType = sniffed.contentType;
    const uuid = crypto.randomUUID();
    prepared.push({
      uuid,
      key: objectKey(jobUuid, "notes", noteUuid, uuid),
      filename,
      contentType,
      size: input.bytes.byteLength,
      bytes: input.bytes,
    });
  }
  return prepared;
}

/** Stores the files; if one fails, removes those already stored (media/cleanup.ts) and throws. */
export async function putAttachments(services: Services, files: PreparedAttachment[]): Promise<void> {
  const results = await Promise.allSettled(
    files.map((f) => services.media.put(f.key, f.bytes, { httpMetadata: { contentType: f.contentType } })),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await removeStored(
      services,
      files.map((f) => f.key),
    );
    throw failed.reason;
  }
}

export async function fileInputs(files: File[]): Promise<AttachmentInput[]> {
  return Promise.all(files.map(async (f) => ({ filename: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
}

export const downloadUrl = (attachmentUuid: string) => `/api/jobs/case-notes?action=download&uuid=${attachmentUuid}`;
