/** Home: the Pinned Jobs widget, the SLA widget and the searchable, filterable, paged job list. */
import { announce, busy, errorBox, field, h, replace, s } from "./dom";
import type { Session } from "./session";
import type { Answer, Job, JobList, Read, Sla, SlaState } from "./types";

const PAGE = 20;
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

export async function renderHome(session: Session, main: HTMLElement) {
  document.title = "Dashboard · PropOps";
  const pinned = h("section", { class: "card", "aria-labelledby": "pinned-title" });
  const sla = h("section", { class: "card", "aria-labelledby": "sla-title" });
  const jobs = h("section", { class: "card wide", "aria-labelledby": "jobs-title" });
  replace(main, h("h1", {}, "Dashboard"), h("div", { class: "grid" }, pinned, sla, jobs));

  const refreshPinned = () => loadPinned(session, pinned, refreshAll);
  let refreshJobs: () => Promise<void> = async () => {};
  async function refreshAll() {
    await Promise.all([refreshPinned(), refreshJobs()]);
  }
  refreshJobs = await jobList(session, jobs, refreshAll);
  await Promise.all([refreshPinned(), loadSla(session, sla)]);
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

async function loadSla(session: Session, box: HTMLElement) {
  const title = h("h2", { id: "sla-title" }, "SLA");
  try {
    const res = await session.api.get<Read<"sla-status">>("/api/jobs/sla-status");
    const d = res.data;
    replace(
      box,
      title,
      slaChart(d),
      h("h3", {}, `Breaches (${d.breach_details.length})`),
      d.breach_details.length
        ? h(
            "ul",
            { class: "plain", "data-testid": "breach-list" },
            d.breach_details.map((b) =>
              h("li", {}, h("a", { href: `#/jobs/${b.job_uuid}` }, b.job_ref), ` — ${b.hours_overdue} h past its deadline`),
            ),
          )
        : h("p", { class: "muted" }, "No breaches."),
    );
  } catch (err) {
    replace(box, title, errorBox(err, "see SLA status"));
  }
}

async function jobList(session: Session, box: HTMLElement, changed: () => Promise<void>) {
  const [statuses, priorities, types] = await Promise.all([
    session.statuses().catch(() => []),
    session.priorities().catch(() => []),
    session.types().catch(() => []),
  ]);
  const select = (name: string, items: { ID: number; name: string }[]) =>
    h(
      "select",
      { name },
      h("option", { value: "" }, "Any"),
      items.map((i) => h("option", { value: String(i.ID) }, i.name)),
    );
  // The API's full-text search needs a word of 3 or more characters.
  const search = h("input", { type: "search", name: "search", minlength: "3", placeholder: "Title, reference or description" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search jobs" },
    field("Search", search),
    h(
      "details",
      // Open on wide screens; folded on a phone so the list is one scroll away.
      { class: "more-filters", open: window.matchMedia("(min-width: 721px)").matches },
      h("summary", {}, "Filters"),
      h(
        "div",
        { class: "filter-grid" },
        field("Status", select("status_id", statuses)),
        field("Priority", select("priority_id", priorities)),
        field("Type", select("job_type_id", types)),
        field("Agent ID", h("input", { type: "number", name: "agent_id", min: "1", inputmode: "numeric" })),
        field("Contractor ID", h("input", { type: "number", name: "contractor_id", min: "1", inputmode: "numeric" })),
        field("Created by (user ID)", h("input", { type: "number", name: "created_by", min: "1", inputmode: "numeric" })),
        h(
          "fieldset",
          { class: "checks" },
          h("legend", {}, "Only jobs with"),
          h("label", {}, h("input", { type: "checkbox", name: "has_photos", value: "true" }), " photos"),
          h("label", {}, h("input", { type: "checkbox", name: "has_documents", value: "true" }), " documents"),
        ),
      ),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Search"), h("button", { type: "reset" }, "Clear")),
  );
  const results = h("div", { "aria-live": "polite" });
  replace(box, h("h2", { id: "jobs-title" }, "Jobs"), form, results);
  let offset = 0;

  async function load() {
    const q: Record<string, string | number> = { action: "list", limit: PAGE, offset };
    for (const [k, v] of new FormData(form).entries()) if (typeof v === "string" && v.trim()) q[k] = v.trim();
    try {
      const res = await session.api.get<JobList>("/api/jobs/manage", q);
      const from = res.count === 0 ? 0 : offset + 1;
      const to = offset + res.data.length;
      const prev = h("button", { type: "button", disabled: offset === 0 }, "← Previous");
      const next = h("button", { type: "button", disabled: to >= res.count }, "Next →");
      prev.addEventListener("click", () => {
        offset = Math.max(0, offset - PAGE);
        void load();
      });
      next.addEventListener("click", () => {
        offset += PAGE;
        void load();
      });
      replace(
        results,
        h(
          "p",
          { class: "count", "data-testid": "job-count" },
          res.count === 0 ? "No jobs match." : `Showing ${from}–${to} of ${res.count} jobs`,
        ),
        res.data.length
          ? h(
              "table",
              { class: "jobs" },
              h("caption", { class: "sr-only" }, "Jobs"),
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Job", "Status", "Priority", "SLA", "Address", "Pin"].map((c) => h("th", { scope: "col" }, c)),
                ),
              ),
              h(
                "tbody",
                {},
                res.data.map((job) =>
                  h(
                    "tr",
                    {},
                    h(
                      "td",
                      { "data-label": "Job" },
                      h("a", { href: `#/jobs/${job.uuid}` }, h("strong", {}, job.job_ref), ` ${job.job_title}`),
                    ),
                    h(
                      "td",
                      { "data-label": "Status" },
                      job.status_name,
                      job.is_recall ? h("span", { class: "badge recall" }, "Recall") : null,
                    ),
                    h("td", { "data-label": "Priority" }, job.priority_name),
                    h("td", { "data-label": "SLA" }, slaBadge(job.sla_state)),
                    h("td", { "data-label": "Address" }, job.full_address),
                    h(
                      "td",
                      {},
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
      replace(results, errorBox(err, "list jobs"));
    }
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    offset = 0;
    void load();
  });
  form.addEventListener("reset", () => {
    offset = 0;
    setTimeout(() => void load());
  });
  await load();
  return load;
}
