/**
 * The one file intake: size, emptiness, content (the bytes decide the type: src/media/sniff.ts
 * with its structure, polyglot and active-content checks) and a safe display name, under a policy
 * per kind of file (`INTAKE_POLICIES`). Every channel hands it plain bytes (a multipart `File`,
 * an email attachment, a future resumable upload), so every channel refuses the same files with
 * the same answers.
 */
import { ApiError, badRequest, type ErrorCode } from "../domain/errors";
import { EXTENSIONS, hasActiveMarkup, SniffError, type SniffedType, sniffDeep } from "./sniff";

/** A file as any channel receives it: its bytes and what the sender claims about them. */
export interface UploadInput {
  bytes: Uint8Array;
  filename: string | null | undefined;
  /** The sender's declared type: never trusted, kept for the record. */
  declaredType?: string;
}

/** A file that passed intake. */
export interface TakenFile {
  bytes: Uint8Array;
  /** Safe for display and headers (`safeFilename`). */
  filename: string;
  size: number;
  /** What the bytes are ("text" for plain UTF-8 text). */
  type: SniffedType | "text";
  contentType: string;
  width?: number;
  height?: number;
}

/** The extension a stored copy of the file gets (keys are generated, never the sender's name). */
export const extensionOf = (file: Pick<TakenFile, "type">) => (file.type === "text" ? "txt" : EXTENSIONS[file.type]);

/** What a refusal says: `text` after the policy's prefix, `detail` (or `text`) on the field. */
interface Refusal {
  text: string;
  detail?: string;
}

export interface IntakePolicy {
  /** The input field a refusal names. */
  readonly field: string;
  /** What a refusal's message starts with. */
  readonly prefix: string;
  readonly types: readonly SniffedType[];
  /** Plain UTF-8 text (no control characters, no markup, no active content) is taken too. */
  readonly plainText: boolean;
  readonly maxBytes: number;
  /** Files per record (a note), counting those it already has. */
  readonly maxFiles?: number;
  readonly say: {
    tooLarge(name: string, limit: string): Refusal;
    /** Undefined: an empty file is judged by its (absent) content like any other. */
    empty?: Refusal;
    /** Not an accepted type; `why` is the sniffer's reason. */
    unsupported(name: string, why: string): Refusal;
    /** An accepted type refused for what it carries (truncated, polyglot, pixel bomb, scripts). */
    refused(name: string, why: string): Refusal;
    /** Required with `maxFiles`. */
    tooMany?(max: number): Refusal;
  };
}

/** Photos and documents: one file per request, refused in the sniffer's own words. */
const singleFile = {
  tooLarge: (_name: string, limit: string) => ({ text: `larger than ${limit}` }),
  empty: { text: "is empty" },
  unsupported: (_name: string, why: string) => ({ text: why }),
  refused: (_name: string, why: string) => ({ text: why }),
} as const;

/** Note files (API and mail alike): several per request, each refusal naming its file. */
const noteFile = {
  tooLarge: (name: string, limit: string) => ({ text: `${name} is larger than ${limit}`, detail: `${name} is too large` }),
  unsupported: (name: string) => ({
    text: `${name} is not a PDF, JPEG, PNG or plain-text file`,
    detail: `${name} has an unsupported type`,
  }),
  refused: (name: string, why: string) => ({ text: `${name}: ${why}` }),
  tooMany: (max: number) => ({ text: `at most ${max} files per note` }),
} as const;

const MB = 1024 * 1024;

/** Which files each channel takes, how large, and how it says no. */
export const INTAKE_POLICIES = {
  photo: { field: "file", prefix: "file", types: ["jpeg", "png", "mp4"], plainText: false, maxBytes: 20 * MB, say: singleFile },
  document: { field: "file", prefix: "file", types: ["pdf", "docx", "jpeg", "png"], plainText: false, maxBytes: 20 * MB, say: singleFile },
  noteFile: {
    field: "attachments",
    prefix: "attachments",
    types: ["pdf", "jpeg", "png"],
    plainText: true,
    maxBytes: 5 * MB,
    maxFiles: 5,
    say: noteFile,
  },
  /** An inbound reply's attachments: the note rules, refused in the words the bounce uses. */
  mailAttachment: {
    field: "attachments",
    prefix: "Attachment rejected",
    types: ["pdf", "jpeg", "png"],
    plainText: true,
    maxBytes: 5 * MB,
    maxFiles: 5,
    say: noteFile,
  },
} as const satisfies Record<string, IntakePolicy>;

function refuse(policy: IntakePolicy, code: ErrorCode, r: Refusal): ApiError {
  const errors = [{ field: policy.field, message: r.detail ?? r.text }];
  const message = `${policy.prefix}: ${r.text}`;
  return code === "BAD_REQUEST" ? badRequest(message, errors) : new ApiError(code, message, errors);
}

/** Refuses more files than the policy lets one record hold (400). */
export function checkCount(policy: IntakePolicy, count: number, existing = 0): void {
  const max = policy.maxFiles;
  if (max !== undefined && existing + count > max) {
    throw refuse(policy, "BAD_REQUEST", policy.say.tooMany?.(max) ?? { text: `at most ${max} files` });
  }
}

/** Refuses a file larger than the policy takes (413): also asked before the bytes arrive (a resumable upload's declared length). */
export function checkSize(policy: IntakePolicy, filename: string, size: number): void {
  if (size > policy.maxBytes) throw refuse(policy, "PAYLOAD_TOO_LARGE", policy.say.tooLarge(filename, `${policy.maxBytes / MB} MB`));
}

/** Size (413), emptiness (400), content (415): the file as the policy takes it, or the refusal. */
export async function intake(policy: IntakePolicy, input: UploadInput): Promise<TakenFile> {
  const filename = safeFilename(input.filename);
  const { bytes } = input;
  checkSize(policy, filename, bytes.byteLength);
  if (bytes.byteLength === 0 && policy.say.empty) throw refuse(policy, "BAD_REQUEST", policy.say.empty);
  const taken = { bytes, filename, size: bytes.byteLength };
  try {
    const sniffed = await sniffDeep(bytes, policy.types);
    return { ...taken, type: sniffed.type, contentType: sniffed.contentType, width: sniffed.width, height: sniffed.height };
  } catch (err) {
    if (!(err instanceof SniffError)) throw err;
    if (err.reason !== "unsupported") throw refuse(policy, "UNSUPPORTED_MEDIA_TYPE", policy.say.refused(filename, err.message));
    if (!policy.plainText || !isPlainText(bytes) || MARKUP_DOCUMENT.test(new TextDecoder().decode(bytes))) {
      throw refuse(policy, "UNSUPPORTED_MEDIA_TYPE", policy.say.unsupported(filename, err.message));
    }
  }
  if (hasActiveMarkup(bytes)) throw refuse(policy, "UNSUPPORTED_MEDIA_TYPE", policy.say.refused(filename, "carries HTML/script content"));
  return { ...taken, type: "text", contentType: "text/plain" };
}

/** A markup document (HTML, SVG, XML) is not plain text, whatever its bytes decode to. */
const MARKUP_DOCUMENT = /<(html|head|body|meta|style|link|base|form|svg|math|script|iframe|object|embed|\?xml|!doctype)[\s/>]/i;

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
