/**
 * Home and the views a manager lives in: the Pinned Jobs and SLA widgets with the sortable,
 * filterable job list (#/), the board by status (#/board) and the breach list (#/breaches).
 * Every filter, sort and page is in the URL (view-state.ts).
 */
import { announce, busy, errorBox, field, h, replace, s, when } from "./dom";
import type { DirectoryKind, Session } from "./session";
import type { Answer, Job, JobList, JobOne, Read, Sla, SlaState } from "./types";
import { FILTER_KEYS, filtersOf, go, type ViewState } from "./view-state";

const PAGE = 50;
const SLA_LABEL: Record<SlaState, string> = { within: "Within SLA", overdue: "Overdue", breached: "Breached", not_applicable: "No SLA" };

export function slaBadge(state: SlaState) {
  return h("span", { class: `badge sla-${state}` }, SLA_LABEL[state]);
}

/** The pin toggle: one button, its pressed state the job's pin; calls toggle-pin and reports back. */
export function pinButton(session: Session, job: Pick<Job, "uuid" | "job_ref" | "is_pinned">, onChange: (pinned: boolean) => void) {
  // One name whatever the state ("Pin JOB-007"): the visible word is "Pin", the reference is for
  // screen readers, the star and aria-pressed carry the state. The visible text is part of the
  // name, as label-content-name-mismatch asks (a "Pinned" label with a "Pin …" name failed it).
  const btn = h(
    "button",
    { type: "button", class: "pin", "aria-pressed": String(job.is_pinned) },
    h("span", { "aria-hidden": "true" }, job.is_pinned ? "★ " : "☆ "),
    "Pin",
    h("span", { class: "sr-only" }, ` ${job.job_ref}`),
  );
  const status = h("span", { class: "status", role: "status" });
  btn.addEventListener("click", () =>
    busy(btn, status, "pin or unpin this job", async () => {
      try {
        const res = await session.api.write<Answer<"toggle-pin", "$post">>("POST", "/api/jobs/toggle-pin", {
          job_uuid: job.uuid,
        });
        onChange(res.is_pinned);
        return res.message;
      } catch (err) {
        session.noteRefusal("pin", err);
        throw err;
      }
    }),
  );
  return session.allowed("pin") ? h("span", { class: "pin-wrap" }, btn, status) : null;
}

/** Hooks the live client (live.ts) calls to redraw what an event may have changed. */
export interface ViewRefresh {
  jobs?: () => Promise<void>;
  pinned?: () => Promise<void>;
  sla?: () => Promise<void>;
}

function viewTabs(current: "/" | "/board" | "/breaches", state: ViewState) {
  const filters = filtersOf(state);
  const link = (path: "/" | "/board" | "/breaches", label: string) =>
    h(
      "a",
      {
        href: path === "/breaches" ? "#/breaches" : `#${path}${Object.keys(filters).length ? `?${new URLSearchParams(filters)}` : ""}`,
        "aria-current": current === path ? "page" : undefined,
      },
      label,
    );
  return h("nav", { class: "tabs", "aria-label": "Views" }, link("/", "List"), link("/board", "Board"), link("/breaches", "Breaches"));
}

export async function renderHome(session: Session, main: HTMLElement, state: ViewState = {}): Promise<ViewRefresh> {
  document.title = "Dashboard · PropOps";
  const pinned = h("section", { class: "card", "aria-labelledby": "pinned-title" });
  const sla = h("section", { class: "card", "aria-labelledby": "sla-title", "data-testid": "sla-widget" });
  const jobs = h("section", { class: "card wide", "aria-labelledby": "jobs-title" });
  replace(main, h("h1", {}, "Dashboard"), viewTabs("/", state), h("div", { class: "grid" }, pinned, sla, jobs));

  const refreshPinned = () => loadPinned(session, pinned, refreshAll);
  let refreshJobs: () => Promise<void> = async () => {};
  async function refreshAll() {
    await Promise.all([refreshPinned(), refreshJobs()]);
  }
  const refreshSla = () => loadSla(session, sla, 5);
  refreshJobs = await jobList(session, jobs, state, refreshAll);
  await Promise.all([refreshPinned(), refreshSla()]);
  return { jobs: refreshJobs, pinned: refreshPinned, sla: refreshSla };
}

async function loadPinned(session: Session, box: HTMLElement, changed: () => Promise<void>) {
  const title = h("h2", { id: "pinned-title" }, "Pinned Jobs");
  try {
    const res = await session.api.get<JobList>("/api/jobs/manage", { action: "list", pinned: true, limit: 50 });
    const items = res.data.map((job) =>
      h(
        "li",
        {},
        h("a", { href: `#/jobs/${job.uuid}` }, `${job.job_ref} · ${job.job_title}`),
        " ",
        slaBadge(job.sla_state),
        pinButton(session, job, () => void changed()),
      ),
    );
    replace(
      box,
      title,
      h("p", { class: "count" }, `${res.count} pinned`),
      items.length
        ? h("ul", { class: "plain", "data-testid": "pinned-list" }, items)
        : h("p", { class: "muted" }, "Nothing pinned yet. Pin a job from the list below."),
    );
  } catch (err) {
    replace(box, title, errorBox(err, "see your pinned jobs"));
  }
}

/** Within / overdue / breached as horizontal bars (inline SVG, labelled, numbers also in text). */
export function slaChart(data: Sla) {
  const rows: [string, number, string][] = [
    ["Within SLA", data.jobs_within_sla, "within"],
    ["Overdue", data.jobs_overdue, "overdue"],
    ["Breached", data.jobs_breached, "breached"],
  ];
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const summary = rows.map(([l, n]) => `${l}: ${n}`).join(", ");
  return s(
    "svg",
    { viewBox: "0 0 320 96", class: "chart", role: "img", "aria-label": `SLA status. ${summary}` },
    rows.map(([label, n, cls], i) =>
      s(
        "g",
        { transform: `translate(0 ${i * 32})`, "data-state": cls },
        s("text", { x: 0, y: 18, class: "chart-label" }, label),
        s("rect", { x: 92, y: 4, width: Math.max(2, (n / max) * 190), height: 20, rx: 3, class: `bar-${cls}` }),
        s("text", { x: 92 + Math.max(2, (n / max) * 190) + 6, y: 19, class: "chart-value" }, String(n)),
      ),
    ),
  );
}

/** "3 h 20 min", "2 days 4 h": how long ago a deadline passed. */
export function pastDeadline(deadline: string, nowMs = Date.now()) {
  const mins = Math.max(0, Math.floor((nowMs - Date.parse(deadline)) / 60_000));
  if (mins < 60) return `${mins} min`;
  const hours = Math.floor(mins / 60);
  if (hours < 48) return `${hours} h${mins % 60 ? ` ${mins % 60} min` : ""}`;
  return `${Math.floor(hours / 24)} days ${hours % 24} h`;
}

type Breach = Sla["breach_details"][number];
interface BreachRow extends Breach {
  title: string;
  property: string;
  contractor: string;
}

/**
 * The breaches, most urgent (longest past its deadline) first, each with its title, property and
 * contractor. sla-status names only the reference, so each listed job is read by its uuid
 * (`limit` of them, in parallel); a job the caller cannot read keeps its reference alone.
 */
async function breachRows(session: Session, breaches: Breach[], limit: number): Promise<BreachRow[]> {
  const urgent = [...breaches].sort((a, b) => Date.parse(a.sla_deadline) - Date.parse(b.sla_deadline)).slice(0, limit);
  return Promise.all(
    urgent.map(async (b) => {
      try {
        const j = (await session.api.get<JobOne>("/api/jobs/manage", { action: "get", uuid: b.job_uuid })).data;
        return { ...b, title: j.job_title, property: j.full_address, contractor: j.contractor_name ?? "Unassigned" };
      } catch {
        return { ...b, title: "", property: "", contractor: "" };
      }
    }),
  );
}

function breachList(rows: BreachRow[]) {
  return h(
    "ul",
    { class: "plain breaches", "data-testid": "breach-list" },
    rows.map((b) =>
      h(
        "li",
        { "data-job": b.job_uuid },
        h("a", { href: `#/jobs/${b.job_uuid}` }, h("strong", {}, b.job_ref), b.title ? ` ${b.title}` : ""),
        h(
          "div",
          { class: "small" },
          b.property ? `${b.property} · ` : "",
          b.contractor ? `${b.contractor} · ` : "",
          h("span", { class: "sla-breached" }, `${pastDeadline(b.sla_deadline)} past its deadline`),
        ),
      ),
    ),
  );
}

async function loadSla(session: Session, box: HTMLElement, shown: number) {
  const title = h("h2", { id: "sla-title" }, "SLA");
  try {
    const res = await session.api.get<Read<"sla-status">>("/api/jobs/sla-status", { limit: 200 });
    const d = res.data;
    const rows = await breachRows(session, d.breach_details, shown);
    replace(
      box,
      title,
      slaChart(d),
      h("h3", {}, `Breaches (${d.jobs_breached})`),
      rows.length ? breachList(rows) : h("p", { class: "muted" }, "No breaches."),
      d.jobs_breached > rows.length
        ? h("p", {}, h("a", { href: "#/breaches" }, `All ${d.jobs_breached} breaches, most urgent first`))
        : null,
    );
  } catch (err) {
    replace(box, title, errorBox(err, "see SLA status"));
  }
}

export async function renderBreaches(session: Session, main: HTMLElement): Promise<ViewRefresh> {
  document.title = "Breaches · PropOps";
  const box = h("section", { class: "card wide", "aria-labelledby": "breaches-title" });
  replace(main, h("h1", {}, "SLA breaches"), viewTabs("/breaches", {}), box);
  const load = async () => {
    const title = h("h2", { id: "breaches-title" }, "Most urgent first");
    try {
      const res = await session.api.get<Read<"sla-status">>("/api/jobs/sla-status", { limit: 200 });
      const rows = await breachRows(session, res.data.breach_details, 200);
      replace(
        box,
        title,
        h("p", { class: "count" }, `${res.data.jobs_breached} breached`),
        rows.length ? breachList(rows) : h("p", { class: "muted" }, "No breaches: every open job is within its deadline."),
        res.data.breach_details_truncated ? h("p", { class: "muted small" }, "Showing the first 200.") : null,
      );
    } catch (err) {
      replace(box, title, errorBox(err, "see SLA breaches"));
    }
  };
  await load();
  return { sla: load };
}

/** A name picker fed by a directory: never a raw id in front of a person. Null when the directory is not the caller's. */
async function namePicker(session: Session, kind: DirectoryKind, name: string, selected: string | undefined) {
  const items = await session.directory(kind, "", 200);
  if (items.length === 0) return null;
  const ids = new Set(items.map((i) => String(i.id)));
  const known = selected && !ids.has(selected) ? session.names.get(kind)?.get(Number(selected)) : undefined;
  return h(
    "select",
    { name },
    h("option", { value: "" }, "Anyone"),
    selected && !ids.has(selected) ? h("option", { value: selected }, known ?? "The selected person") : null,
    items.map((i) => h("option", { value: String(i.id) }, i.name)),
  );
}

/** The search and filter form of the list and the board; submitting puts its state in the URL. */
async function filterForm(session: Session, path: "/" | "/board", state: ViewState) {
  const [statuses, priorities, types, contractors, agents, creators] = await Promise.all([
    session.statuses().catch(() => []),
    session.priorities().catch(() => []),
    session.types().catch(() => []),
    namePicker(session, "contractors", "contractor_id", state.contractor_id),
    namePicker(session, "agents", "agent_id", state.agent_id),
    namePicker(session, "staff", "created_by", state.created_by),
  ]);
  const select = (name: string, items: { ID: number; name: string }[]) =>
    h(
      "select",
      { name },
      h("option", { value: "" }, "Any"),
      items.map((i) => h("option", { value: String(i.ID) }, i.name)),
    );
  // The API's full-text search needs a word of 3 or more characters.
  const search = h("input", {
    type: "search",
    name: "search",
    minlength: "3",
    placeholder: "Reference, title, street, postcode or name",
  });
  const checkbox = (name: string) => h("input", { type: "checkbox", name, value: "true" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search jobs" },
    field("Search", search),
    h(
      "details",
      // Open on wide screens, or when a filter is set; folded on a phone so the list is one scroll away.
      {
        class: "more-filters",
        open: window.matchMedia("(min-width: 721px)").matches || FILTER_KEYS.some((k) => k !== "search" && state[k]),
      },
      h("summary", {}, "Filters"),
      h(
        "div",
        { class: "filter-grid" },
        path === "/" ? field("Status", select("status_id", statuses)) : null,
        field("Priority", select("priority_id", priorities)),
        field("Type", select("job_type_id", types)),
        contractors ? field("Contractor", contractors) : null,
        agents ? field("Agent", agents) : null,
        creators ? field("Created by", creators) : null,
        h(
          "fieldset",
          { class: "checks" },
          h("legend", {}, "Only jobs with"),
          h("label", {}, checkbox("has_photos"), " photos"),
          h("label", {}, checkbox("has_documents"), " documents"),
        ),
      ),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Search"), h("button", { type: "reset" }, "Clear")),
  );
  // The form shows the URL's state.
  for (const k of FILTER_KEYS) {
    const el = form.elements.namedItem(k);
    if (el instanceof HTMLInputElement && el.type === "checkbox") el.checked = state[k] === "true";
    else if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.value = state[k] ?? "";
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next: ViewState = { sort: state.sort, dir: state.dir };
    for (const [k, v] of new FormData(form).entries())
      if (typeof v === "string" && v.trim() && (FILTER_KEYS as readonly string[]).includes(k)) next[k as keyof ViewState] = v.trim();
    go(path, next);
  });
  form.addEventListener("reset", (e) => {
    e.preventDefault();
    go(path, {});
  });
  return form;
}

type SortKey = "job" | "property" | "contractor" | "sla" | "status";
const COLUMNS: { key: SortKey; label: string; value: (j: Job) => string | number }[] = [
  { key: "job", label: "Job", value: (j) => j.job_ref },
  { key: "property", label: "Property", value: (j) => j.full_address.toLowerCase() },
  { key: "contractor", label: "Contractor", value: (j) => (j.contractor_name ?? "\uffff").toLowerCase() },
  // No deadline sorts last either way.
  { key: "sla", label: "SLA due", value: (j) => (j.sla_deadline ? Date.parse(j.sla_deadline) : Number.MAX_SAFE_INTEGER) },
  { key: "status", label: "Status", value: (j) => j.status_name },
];

function sortJobs(rows: Job[], key: string | undefined, dir: string | undefined) {
  const col = COLUMNS.find((c) => c.key === key);
  if (!col) return rows;
  const sign = dir === "desc" ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    return (x < y ? -1 : x > y ? 1 : 0) * sign;
  });
}

function slaDue(job: Job) {
  return h(
    "span",
    { class: "sla-due" },
    slaBadge(job.sla_state),
    job.sla_deadline && job.sla_state !== "not_applicable" ? h("span", { class: "small" }, ` ${when(job.sla_deadline)}`) : null,
  );
}

async function jobList(session: Session, box: HTMLElement, state: ViewState, changed: () => Promise<void>) {
  const form = await filterForm(session, "/", state);
  const results = h("div", { "aria-live": "polite" });
  replace(box, h("h2", { id: "jobs-title" }, "Jobs"), form, results);
  const offset = Math.max(0, Number.parseInt(state.offset ?? "0", 10) || 0);
  // Only the newest request draws: a slow answer to an older one never overwrites it.
  let seq = 0;

  async function load() {
    const mine = ++seq;
    const q: Record<string, string | number> = { action: "list", limit: PAGE, offset, ...filtersOf(state) };
    try {
      const res = await session.api.get<JobList>("/api/jobs/manage", q);
      if (mine !== seq) return;
      for (const j of res.data) {
        session.remember("contractors", j.contractor_id, j.contractor_name);
        session.remember("agents", j.agent_id, j.agent_name);
      }
      const from = res.count === 0 ? 0 : offset + 1;
      const to = offset + res.data.length;
      const page = (o: number) => () => go("/", { ...state, offset: o ? String(o) : undefined });
      const prev = h("button", { type: "button", disabled: offset === 0, onclick: page(Math.max(0, offset - PAGE)) }, "← Previous");
      const next = h("button", { type: "button", disabled: to >= res.count, onclick: page(offset + PAGE) }, "Next →");
      const sortHeader = (c: (typeof COLUMNS)[number]) => {
        const active = state.sort === c.key;
        const dir = active && state.dir === "desc" ? "desc" : "asc";
        return h(
          "th",
          { scope: "col", "aria-sort": active ? (dir === "asc" ? "ascending" : "descending") : undefined },
          h(
            "button",
            {
              type: "button",
              class: "sort",
              onclick: () => go("/", { ...state, sort: c.key, dir: active && dir === "asc" ? "desc" : "asc" }),
            },
            c.label,
            h("span", { "aria-hidden": "true" }, active ? (dir === "asc" ? " ▲" : " ▼") : " ↕"),
          ),
        );
      };
      const rows = sortJobs(res.data, state.sort, state.dir);
      replace(
        results,
        h(
          "p",
          { class: "count", "data-testid": "job-count" },
          res.count === 0 ? "No jobs match." : `Showing ${from}–${to} of ${res.count}${res.count_capped ? "+" : ""} jobs`,
        ),
        rows.length
          ? h(
              "table",
              { class: "jobs" },
              h("caption", { class: "sr-only" }, "Jobs (sortable: the column buttons sort this page)"),
              h("thead", {}, h("tr", {}, COLUMNS.map(sortHeader), h("th", { scope: "col" }, "Pin"))),
              h(
                "tbody",
                {},
                rows.map((job) =>
                  h(
                    "tr",
                    { "data-job": job.uuid },
                    h(
                      "td",
                      { "data-label": "Job" },
                      h("a", { href: `#/jobs/${job.uuid}` }, h("strong", {}, job.job_ref), ` ${job.job_title}`),
                      h("div", { class: "small muted" }, `${job.priority_name} · ${job.job_type_name}`),
                    ),
                    h("td", { "data-label": "Property" }, job.full_address),
                    h("td", { "data-label": "Contractor" }, job.contractor_name ?? h("span", { class: "muted" }, "Unassigned")),
                    h("td", { "data-label": "SLA due" }, slaDue(job)),
                    h(
                      "td",
                      { "data-label": "Status" },
                      job.status_name,
                      job.is_recall ? h("span", { class: "badge recall" }, "Recall") : null,
                    ),
                    h(
                      "td",
                      { "data-label": "Pin" },
                      pinButton(session, job, () => void changed()),
                    ),
                  ),
                ),
              ),
            )
          : null,
        h("div", { class: "pager" }, prev, next),
      );
      announce(res.count === 0 ? "No jobs match" : `${res.count} jobs found`);
    } catch (err) {
      if (mine === seq) replace(results, errorBox(err, "list jobs"));
    }
  }
  await load();
  return load;
}

/** The board: a column per open status, each job a card with its property, contractor and SLA. */
export async function renderBoard(session: Session, main: HTMLElement, state: ViewState): Promise<ViewRefresh> {
  document.title = "Board · PropOps";
  const form = await filterForm(session, "/board", state);
  const board = h("div", { class: "board", "data-testid": "board" });
  replace(
    main,
    h("h1", {}, "Board"),
    viewTabs("/board", state),
    h("section", { class: "card", "aria-label": "Search and filters" }, form),
    board,
  );
  const statuses = (await session.statuses().catch(() => [])).filter((st) => !st.is_archived && st.name !== "Cancelled");
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    const columns = await Promise.all(
      statuses.map(async (st) => {
        try {
          const res = await session.api.get<JobList>("/api/jobs/manage", {
            action: "list",
            limit: 50,
            ...filtersOf(state),
            status_id: st.ID,
          });
          return { st, res, err: undefined };
        } catch (err) {
          return { st, res: undefined, err };
        }
      }),
    );
    if (mine !== seq) return;
    replace(
      board,
      columns.map(({ st, res, err }) =>
        h(
          "section",
          { class: "column", "aria-labelledby": `col-${st.ID}`, "data-status": st.name },
          h("h2", { id: `col-${st.ID}` }, st.name, h("span", { class: "count-badge" }, String(res?.count ?? 0))),
          err
            ? errorBox(err, `list ${st.name} jobs`)
            : res?.data.length
              ? h(
                  "ul",
                  { class: "cards" },
                  res.data.map((j) =>
                    h(
                      "li",
                      { class: "job-card", "data-job": j.uuid },
                      h("a", { href: `#/jobs/${j.uuid}` }, h("strong", {}, j.job_ref), ` ${j.job_title}`),
                      h("div", { class: "small" }, j.full_address),
                      h("div", { class: "small" }, j.contractor_name ?? "Unassigned", " ", slaBadge(j.sla_state)),
                    ),
                  ),
                )
              : h("p", { class: "muted small" }, "Nothing here."),
        ),
      ),
    );
  };
  await load();
  return { jobs: load };
}
