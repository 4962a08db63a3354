/**
 * A small RFC 5322 / MIME message builder for the send_email binding: text and HTML
 * alternatives, optional attachments, threading headers. Header values are checked for CR/LF
 * (no header injection) and encoded (RFC 2047) when they are not plain ASCII.
 */

export interface MimeAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

export interface MimeMessage {
  from: string;
  fromName?: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  messageId: string; // "<id@domain>"
  replyTo?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
  attachments?: MimeAttachment[];
  /** The Date header: the sender's clock (services.clock), so a fixed clock gives a fixed message. */
  date: Date;
}

const ADDRESS_RE = /^[^\s@<>()",;:\\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;

export function isEmailAddress(s: string): boolean {
  return s.length <= 254 && ADDRESS_RE.test(s);
}

function assertHeaderSafe(name: string, value: string) {
  if (/[\r\n]/.test(value)) throw new Error(`header ${name} contains a line break`);
}

function encodeWord(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return `=?UTF-8?B?${base64(new TextEncoder().encode(value))}?=`;
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Base64 wrapped at 76 characters, as MIME bodies require. */
function base64Lines(bytes: Uint8Array): string {
  return (base64(bytes).match(/.{1,76}/g) ?? []).join("\r\n");
}

function boundary(): string {
  return `=_propops_${crypto.randomUUID().replaceAll("-", "")}`;
}

function part(contentType: string, body: Uint8Array, extra: string[] = []): string {
  return [`Content-Type: ${contentType}`, "Content-Transfer-Encoding: base64", ...extra, "", base64Lines(body)].join("\r\n");
}

function multipart(subtype: string, parts: string[]): { type: string; body: string } {
  const b = boundary();
  return {
    type: `multipart/${subtype}; boundary="${b}"`,
    body: `${parts.map((p) => `--${b}\r\n${p}`).join("\r\n")}\r\n--${b}--`,
  };
}

/** Builds the raw message (CRLF line endings). */
export function buildMime(m: MimeMessage): string {
  if (m.to.length === 0) throw new Error("no recipients");
  for (const a of [m.from, ...m.to, ...(m.replyTo ? [m.replyTo] : [])]) {
    if (!isEmailAddress(a)) throw new Error(`not an email address: ${a}`);
  }
  const enc = new TextEncoder();
  const textPart = part('text/plain; charset="utf-8"', enc.encode(m.text));
  let content = m.html
    ? (() => {
        const alt = multipart("alternative", [textPart, part('text/html; charset="utf-8"', enc.encode(m.html))]);
        return `Content-Type: ${alt.type}\r\n\r\n${alt.body}`;
      })()
    : textPart;
  if (m.attachments && m.attachments.length > 0) {
    const mixed = multipart("mixed", [
      content,
      ...m.attachments.map((a) => {
        const name = encodeWord(a.filename.replace(/["\r\n\\]/g, "_"));
        return part(a.contentType, a.content, [`Content-Disposition: attachment; filename="${name}"`]);
      }),
    ]);
    content = `Content-Type: ${mixed.type}\r\n\r\n${mixed.body}`;
  }

  const headers: [string, string][] = [
    ["From", m.fromName ? `"${encodeWord(m.fromName.replaceAll('"', "'"))}" <${m.from}>` : m.from],
    ["To", m.to.join(", ")],
    ["Subject", encodeWord(m.subject)],
    ["Date", m.date.toUTCString().replace("GMT", "+0000")],
    ["Message-ID", m.messageId],
    ["MIME-Version", "1.0"],
  ];
  if (m.replyTo) headers.push(["Reply-To", m.replyTo]);
  if (m.inReplyTo) headers.push(["In-Reply-To", m.inReplyTo]);
  if (m.references?.length) headers.push(["References", m.references.join(" ")]);
  for (const [k, v] of Object.entries(m.headers ?? {})) headers.push([k, v]);
  for (const [k, v] of headers) assertHeaderSafe(k, v);
  return `${headers.map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n${content}\r\n`;
}
