/** A tiny element builder: the dashboard's whole "framework". Text always goes in as text nodes. */
import { ApiError } from "./api";

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | undefined | null | EventListener;
export type Attrs = Record<string, AttrValue>;

function append(parent: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el: Element, attrs: Attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k === "className" ? "class" : k, v === true ? "" : String(v));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function replace(el: Element, ...children: Child[]) {
  el.replaceChildren();
  append(el, children);
}

/** Polite announcements for screen readers (results loaded, pin toggled, upload done). */
export function announce(message: string) {
  const live = document.getElementById("live");
  if (live) live.textContent = message;
}

/** A clear sentence for a refused or failed request; a 403 names what is missing instead of breaking the page. */
export function describeError(err: unknown, what: string): string {
  if (err instanceof ApiError) {
    if (err.conflict)
      return `Someone else changed this job after you opened it, so your change was not saved (nothing was overwritten). Reload the job to see their change, then make yours again.`;
    if (err.forbidden) return `You do not have permission to ${what}. ${err.message}.`;
    if (err.status === 404) return `Not found: ${err.message}.`;
    if (err.status === 0) return err.message;
    const fields = err.fieldErrors.map((f) => `${f.field} ${f.message}`).join("; ");
    return `Could not ${what}: ${err.message}${fields && !err.message.includes(fields) ? ` (${fields})` : ""}`;
  }
  return `Could not ${what}: ${err instanceof Error ? err.message : String(err)}`;
}

export function errorBox(err: unknown, what: string) {
  const forbidden = err instanceof ApiError && err.forbidden;
  return h("p", { class: forbidden ? "notice forbidden" : "notice error", role: "alert" }, describeError(err, what));
}

export const money = (n: number | null | undefined) => (n === null || n === undefined ? "—" : `£${n.toFixed(2)}`);

export function when(iso: string | null | undefined) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function bytes(n: number) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const ALLOWED_TAGS = new Set([
  "P",
  "BR",
  "B",
  "STRONG",
  "I",
  "EM",
  "U",
  "UL",
  "OL",
  "LI",
  "A",
  "BLOCKQUOTE",
  "CODE",
  "PRE",
  "H3",
  "H4",
  "SPAN",
  "DIV",
]);

/**
 * Rich note text. The API sanitises HTML notes already; the dashboard still rebuilds them from an
 * allow-list (tags, http(s)/mailto links, no attributes otherwise) so it never trusts stored markup.
 */
export function richText(html: string): DocumentFragment {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const out = document.createDocumentFragment();
  const copy = (from: Node, to: Node) => {
    for (const node of Array.from(from.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) to.appendChild(document.createTextNode(node.textContent ?? ""));
      else if (node instanceof Element) {
        if (!ALLOWED_TAGS.has(node.tagName)) {
          if (!["SCRIPT", "STYLE", "IFRAME", "OBJECT"].includes(node.tagName)) copy(node, to);
          continue;
        }
        const el = document.createElement(node.tagName.toLowerCase());
        const href = node.getAttribute("href");
        if (node.tagName === "A" && href && /^(https?:|mailto:)/i.test(href)) {
          el.setAttribute("href", href);
          el.setAttribute("rel", "noopener noreferrer");
          el.setAttribute("target", "_blank");
        }
        copy(node, el);
        to.appendChild(el);
      }
    }
  };
  copy(doc.body, out);
  return out;
}

/** A page's card: a section named by its heading (`id`-title), `wide` across the grid. */
export function card(id: string, heading: string, wide = false) {
  const box = h("section", { class: wide ? "card wide" : "card", "aria-labelledby": `${id}-title` });
  const title = h("h2", { id: `${id}-title` }, heading);
  return { box, title };
}

/**
 * A sign-in form's submit: "Checking the token…" while `signIn` tries the token; on failure the
 * reason in the status line and the token field focused again; on success the field emptied.
 */
export function onSignIn(form: HTMLFormElement, input: HTMLInputElement, status: HTMLElement, signIn: (token: string) => Promise<void>) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.className = "status";
    status.textContent = "Checking the token…";
    try {
      await signIn(input.value.trim());
      input.value = "";
    } catch (err) {
      status.className = "status error";
      status.textContent = describeError(err, "sign in");
      input.focus();
    }
  });
}

export function field(label: string, control: HTMLElement, hint?: string) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { id: hintId }, hint) : null);
}

export function button(label: string, onClick: (e: Event) => void, attrs: Attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick: onClick as EventListener }, label);
}

/** Runs an action with its button disabled, reporting the outcome in `status`. */
export async function busy(btn: HTMLButtonElement | null, status: HTMLElement, what: string, run: () => Promise<string | undefined>) {
  if (btn) btn.disabled = true;
  status.className = "status";
  status.textContent = "Working…";
  try {
    const done = await run();
    status.textContent = done ?? "";
    if (done) announce(done);
    return true;
  } catch (err) {
    status.className = `status ${err instanceof ApiError && err.forbidden ? "forbidden" : "error"}`;
    status.setAttribute("role", "alert");
    status.textContent = describeError(err, what);
    return false;
  } finally {
    if (btn) btn.disabled = false;
  }
}
