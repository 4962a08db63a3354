/**
 * A view's state lives in the URL's hash (`#/board?status_id=4&contractor_id=7`): a view can be
 * shared and bookmarked, and the back button walks the filters a person tried. Only names the
 * views know are kept, so a pasted link cannot smuggle other query parameters to the API.
 */

export const FILTER_KEYS = [
  "search",
  "status_id",
  "priority_id",
  "job_type_id",
  "agent_id",
  "contractor_id",
  "created_by",
  "has_photos",
  "has_documents",
] as const;
export const VIEW_KEYS = [...FILTER_KEYS, "sort", "dir", "offset"] as const;
export type ViewKey = (typeof VIEW_KEYS)[number];
export type ViewState = Partial<Record<ViewKey, string>>;

/** The path and state of the current hash: `#/board?x=1` → ["/board", {x: "1"}]. */
export function readHash(hash = location.hash): [string, ViewState] {
  const raw = hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q === -1 ? "" : raw.slice(q + 1));
  const state: ViewState = {};
  for (const k of VIEW_KEYS) {
    const v = params.get(k)?.trim();
    if (v) state[k] = v.slice(0, 200);
  }
  return [path || "/", state];
}

export function hashFor(path: string, state: ViewState): string {
  const params = new URLSearchParams();
  for (const k of VIEW_KEYS) {
    const v = state[k];
    if (v !== undefined && v !== "") params.set(k, v);
  }
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

/** Moves to a state: a new history entry, so back returns to the previous one. */
export function go(path: string, state: ViewState) {
  const next = hashFor(path, state);
  if (location.hash !== next) location.hash = next;
}

/** The API filters of a state (what `GET /api/jobs/manage?action=list` takes). */
export function filtersOf(state: ViewState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = state[k];
    if (v) out[k] = v;
  }
  return out;
}
