import { stripControlChars } from "../domain/values";

/**
 * HTML allow-list sanitiser for case notes, built on workerd's HTMLRewriter used as a tokenizer
 * only: the output is written afresh from the allowed tags, attributes and text (every value
 * re-escaped here), so nothing the parser did not recognise (an unterminated tag, a stray `<`)
 * can pass through. The same pass yields the plain-text form kept for email and search.
 */

/** Elements kept (their allowed attributes only). Anything else is unwrapped: its text stays. */
const ALLOWED: Record<string, readonly string[]> = {
  a: ["href", "title"],
  b: [],
  blockquote: [],
  br: [],
  code: [],
  del: [],
  div: [],
  em: [],
  h1: [],
  h2: [],
  h3: [],
  h4: [],
  h5: [],
  h6: [],
  hr: [],
  i: [],
  img: ["src", "alt", "width", "height"],
  li: [],
  ol: [],
  p: [],
  pre: [],
  s: [],
  span: [],
  strong: [],
  sub: [],
  sup: [],
  table: [],
  tbody: [],
  td: ["colspan", "rowspan"],
  th: ["colspan", "rowspan"],
  thead: [],
  tr: [],
  u: [],
  ul: [],
};

/** Elements removed together with everything inside them. */
const DROP_WITH_CONTENT = new Set([
  "script",
  "style",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "noscript",
  "noembed",
  "noframes",
  "template",
  "svg",
  "math",
  "head",
  "title",
  "textarea",
  "select",
  "xmp",
  "plaintext",
]);

/** Marks a paragraph boundary in the plain text while it is collected (U+2029 PARAGRAPH SEPARATOR). */
const PARAGRAPH = "\u2029";
/** Marks other block boundaries (U+2028 LINE SEPARATOR). */
const BLOCK_BREAK = "\u2028";
const VOID = new Set(["br", "hr", "img"]);
/** Elements that start a new line in the plain-text form. */
const BLOCK = new Set(["p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "ul", "ol", "hr"]);
const URL_ATTRS = new Set(["href", "src"]);
const NUMERIC_ATTRS = new Set(["width", "height", "colspan", "rowspan"]);

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "©",
  reg: "®",
  trade: "™",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  bull: "•",
  middot: "·",
  pound: "£",
  euro: "€",
  deg: "°",
};

/** Decodes numeric and common named character references; unknown names stay as written. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);?/gi, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      // Invalid code points and NUL become U+FFFD, as browsers do.
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
        ? String.fromCodePoint(code)
        : "\ufffd";
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/**
 * An absolute http(s) or mailto URL, or null. Browsers ignore tabs, newlines and leading control
 * characters in URLs (`java\tscript:`), so those are removed before the scheme is read.
 */
export function safeUrl(raw: string, attr: "href" | "src"): string | null {
  const isSpaceOrControl = (ch: string) => ch.charCodeAt(0) <= 0x20;
  const chars = [...decodeEntities(raw)].filter((ch) => ch !== "\t" && ch !== "\n" && ch !== "\r" && ch !== "\0");
  while (chars.length > 0 && isSpaceOrControl(chars[0] ?? "")) chars.shift();
  while (chars.length > 0 && isSpaceOrControl(chars[chars.length - 1] ?? "")) chars.pop();
  const cleaned = chars.join("");
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(cleaned)?.[1]?.toLowerCase();
  const allowed = attr === "href" ? ["http", "https", "mailto"] : ["http", "https"];
  if (!scheme || !allowed.includes(scheme)) return null;
  // No spaces, control characters or characters a URL only ever carries percent-encoded
  // (quotes, angle brackets, backtick, backslash): a URL with them is not one we emit.
  const invalid = (ch: string) => isSpaceOrControl(ch) || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f) || '"<>`\\'.includes(ch);
  if (chars.some(invalid)) return null;
  return cleaned;
}

/**
 * True when a browser's HTML tokenizer could start markup anywhere in the text: `<` followed by
 * a letter (a tag, even `<img/src=…` or one never closed), `/` (end tag), `!` (comment, doctype)
 * or `?` (bogus comment). Any other `<` is text to a browser. This is deliberately not "looks
 * like well-formed HTML": text that fails this test cannot render as markup wherever it lands.
 */
export function looksLikeHtml(s: string): boolean {
  return /<[a-z!/?]/i.test(s);
}

export interface Sanitized {
  /** Safe HTML: allowed elements and attributes only, every tag closed. */
  html: string;
  /** The plain-text form (entities decoded, block elements on their own lines). */
  text: string;
}

/**
 * Sanitises untrusted HTML to the allow-list and derives its plain text. `dropQuotes` also drops
 * blockquotes (the quoted history of an HTML email reply).
 */
export async function sanitizeHtml(input: string, opts: { dropQuotes?: boolean } = {}): Promise<Sanitized> {
  const dropped = opts.dropQuotes ? new Set([...DROP_WITH_CONTENT, "blockquote"]) : DROP_WITH_CONTENT;
  const out: string[] = [];
  const text: string[] = [];
  const open: { name: string; id: number }[] = [];
  let dropDepth = 0;
  let nextId = 0;

  const closeTo = (id: number) => {
    const at = open.findIndex((o) => o.id === id);
    if (at < 0) return;
    for (const o of open.splice(at).reverse()) out.push(`</${o.name}>`);
  };

  const rewriter = new HTMLRewriter()
    .on("*", {
      element(el) {
        const name = el.tagName.toLowerCase();
        if (dropDepth > 0) return;
        if (dropped.has(name)) {
          dropDepth = 1;
          onEnd(el, () => {
            dropDepth = 0;
          });
          return;
        }
        const lineBreak = name === "p" ? PARAGRAPH : name === "br" ? "\n" : BLOCK_BREAK;
        if (name === "br" || BLOCK.has(name)) text.push(lineBreak);
        if (name === "li") text.push("- ");
        const tag = allowedTag(name, el.attributes);
        let id: number | undefined;
        if (tag) {
          out.push(tag);
          if (!VOID.has(name)) {
            id = nextId++;
            open.push({ name, id });
          }
        }
        // One end-tag handler per element: a second registration would replace the first.
        if (id !== undefined || (BLOCK.has(name) && !VOID.has(name))) {
          const openId = id;
          onEnd(el, () => {
            if (openId !== undefined) closeTo(openId);
            if (BLOCK.has(name)) text.push(lineBreak);
          });
        }
      },
    })
    .onDocument({
      text(chunk) {
        if (dropDepth > 0 || chunk.text === "") return;
        const decoded = decodeEntities(chunk.text);
        out.push(escapeHtml(decoded));
        text.push(decoded);
      },
      comments(comment) {
        comment.remove();
      },
    });
  try {
    await rewriter.transform(new Response(input)).text();
  } catch {
    // The streaming parser gives up on some non-conforming nesting (`<select><style>`), where it
    // cannot tell raw text from markup. Then nothing of it is markup: the whole input is escaped.
    return { html: textToHtml(input), text: normalizeText(input) };
  }

  for (const o of open.reverse()) out.push(`</${o.name}>`);
  // Breaks from adjacent blocks merge into one newline (a blank line at a paragraph); <br>s count one each.
  const plain = text.join("").replace(/[\n\u2028\u2029]+/g, (run) => {
    if (run.includes(PARAGRAPH)) return "\n\n";
    return "\n".repeat(Math.max(1, run.split("\n").length - 1));
  });
  return { html: out.join("").trim(), text: normalizeText(plain) };
}

/** The element's start tag with its allowed attributes, or null when the element is unwrapped. */
function allowedTag(name: string, attributes: Iterable<string[]>): string | null {
  const allowedAttrs = ALLOWED[name];
  if (!allowedAttrs) return null;
  const attrs: string[] = [];
  for (const [rawName = "", rawValue = ""] of attributes) {
    const attr = rawName.toLowerCase();
    if (!allowedAttrs.includes(attr)) continue;
    let value: string | null = decodeEntities(rawValue);
    if (URL_ATTRS.has(attr)) value = safeUrl(rawValue, attr as "href" | "src");
    else if (NUMERIC_ATTRS.has(attr)) value = /^\d{1,4}$/.test(value.trim()) ? value.trim() : null;
    // Text attributes are inert, but a script URL has no business in any of them (defence in depth).
    else if (/script\s*:/i.test(value.replace(/[\s\0]/g, ""))) value = null;
    if (value !== null) attrs.push(` ${attr}="${escapeHtml(value)}"`);
  }
  if (name === "img" && !attrs.some((a) => a.startsWith(" src="))) return null;
  if (name === "a" && attrs.some((a) => a.startsWith(" href="))) attrs.push(' rel="noopener noreferrer nofollow"');
  return `<${name}${attrs.join("")}>`;
}

function onEnd(el: Element, fn: () => void) {
  // Void and self-closing elements have no end tag; onEndTag throws for them.
  try {
    el.onEndTag(fn);
  } catch {
    fn();
  }
}

/** Collapses runs of spaces, trims each line, keeps at most one blank line between paragraphs. */
export function normalizeText(s: string): string {
  return s
    .replace(/\r\n?/g, "\n")
    .replace(/\u00a0/g, " ")
    .split("\n")
    .map((line) => line.replace(/[ \t\f\v]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Plain text → safe HTML: escaped, blank lines as paragraphs, single newlines as <br>. */
export function textToHtml(s: string): string {
  return normalizeText(s)
    .split(/\n{2,}/)
    .filter((p) => p !== "")
    .map((p) => `<p>${escapeHtml(p).replaceAll("\n", "<br>")}</p>`)
    .join("\n");
}

export interface NoteBody {
  /** What is stored as the note's message: sanitised HTML, or the plain text as written. */
  message: string;
  /** The plain-text form. */
  text: string;
  /** Safe HTML for the email's HTML part. */
  html: string;
  isHtml: boolean;
}

/**
 * A note's message as given by a client or an inbound mail's text. `isHtml` (the API's `is_html`)
 * says how `message` is stored and returned: true, sanitised HTML (allow-list); false, plain text
 * in which no markup can start (see looksLikeHtml), so it is inert even if a client renders it as
 * HTML. Anything that could start markup goes through the sanitiser, whatever it looks like.
 */
export async function prepareNoteBody(input: string): Promise<NoteBody> {
  if (looksLikeHtml(input)) {
    // Character references decode too (`&#1;`): what is stored holds no control characters either way.
    const { html, text } = await sanitizeHtml(stripControlChars(input));
    return { message: stripControlChars(html), text: stripControlChars(text), html: stripControlChars(html), isHtml: true };
  }
  const text = normalizeText(stripControlChars(input));
  return { message: text, text, html: textToHtml(text), isHtml: false };
}

/**
 * A stored note's message as the API returns it. Rows written before every body went through the
 * sanitiser may hold markup flagged as plain text; those are sanitised on the way out.
 */
export async function noteForOutput(message: string, isHtml: boolean): Promise<{ message: string; isHtml: boolean }> {
  if (isHtml || !looksLikeHtml(message)) return { message, isHtml };
  return { message: (await sanitizeHtml(message)).html, isHtml: true };
}
