/**
 * The job lifecycle in the browser: create a job from pickers, edit it with If-Match (a conflicting
 * edit is told so, never silently overwritten), assign or reassign its contractor, the next-status
 * actions the API lists for this caller (`next_statuses`, with the evidence each needs), and the
 * contractor's accept / decline. Every control is the public API; the lifecycle's rules stay in the
 * API: the page offers what `next_statuses` says and shows the API's answer when it refuses.
 */
import { ApiError } from "./api";
import { busy, button, field, h, replace } from "./dom";
import type { JobPage } from "./page";
import type { DirectoryKind, Named, Session } from "./session";
import type { Answer, JobDetail } from "./types";
import { go } from "./view-state";
import { fieldLabel } from "./words";

type NextStatus = JobDetail["next_statuses"][number];

/**
 * A directory picker: a search box that narrows a select of names (contractors and agents by the
 * start of the name, properties by any word of the address). The select is the form's value.
 */
export function searchPicker(
  session: Session,
  kind: DirectoryKind,
  name: string,
  label: string,
  opts: { required?: boolean; initial?: Named | null; none?: string } = {},
) {
  const select = h("select", { name, required: opts.required });
  const find = h("input", { type: "search", autocomplete: "off", placeholder: "Type to narrow the list" });
  let seq = 0;
  const fill = async (search: string) => {
    const mine = ++seq;
    const items = await session.directory(kind, search, 50);
    if (mine !== seq) return;
    const keep = select.value || (opts.initial ? String(opts.initial.id) : "");
    const options: Named[] = [...items];
    if (opts.initial && !items.some((i) => i.id === opts.initial?.id) && !search) options.unshift(opts.initial);
    replace(
      select,
      opts.none !== undefined ? h("option", { value: "" }, opts.none) : opts.required ? h("option", { value: "" }, `Choose…`) : null,
      options.map((i) => h("option", { value: String(i.id) }, i.name)),
    );
    if (options.some((i) => String(i.id) === keep)) select.value = keep;
    else if (search && options.length === 1 && options[0]) select.value = String(options[0].id);
  };
  let timer = 0;
  find.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void fill(find.value.trim()), 200);
  });
  const el = h("div", { class: "picker", "data-picker": name }, field(`Find ${label.toLowerCase()}`, find), field(label, select));
  return { el, select, ready: fill("") };
}

const REQUIREMENT: Record<string, string> = {
  reason: "a reason",
  acceptance: "the contractor's acceptance",
  after_photos: "“after” photos",
  completion_note: "a completion note",
};
export const requirementText = (r: string) => REQUIREMENT[r] ?? r.replace(/_/g, " ");

/** The button's words for a transition, by the operation that takes it. */
function actionLabel(n: NextStatus): string {
  switch (n.via) {
    case "start":
      return "Start work";
    case "complete":
      return "Complete the job";
    case "sign_off":
      return "Sign off";
    case "send_back":
      return "Send back to the contractor";
    case "recall":
      return "Recall this job";
    case "recall_completion":
      return "Mark recall completed";
    case "recall_cancel":
      return "Cancel the recall";
    case "approval_gate":
      return n.status_name === "Approved" ? "Approve" : "Reject";
    default:
      return `Move to ${n.status_name}`;
  }
}

/** The next-status actions, the contractor's accept/decline, each with the evidence it needs. */
export function actionsSection(page: JobPage): HTMLElement {
  const { session, job } = page;
  const box = h(
    "section",
    { class: "card", "aria-labelledby": "actions-title", "data-testid": "actions" },
    h("h2", { id: "actions-title" }, "Next steps"),
  );
  const out = h("p", { class: "status", role: "status" });
  const run = (what: string, send: () => Promise<{ message: string }>) => (e: Event) =>
    busy(e.currentTarget as HTMLButtonElement, out, what, async () => {
      const res = await send();
      await page.reload(res.message);
      return res.message;
    });
  const work =
    (action: string, extra: Record<string, unknown> = {}) =>
    () =>
      session.api.write<Answer<"work", "$post">>("POST", "/api/jobs/work", { action, job_uuid: job.uuid, ...extra });

  // Accept / decline: the assigned contractor, while the work has not started (the API decides).
  const notStarted = job.status_name === "Open" || job.status_name === "Approved" || job.status_name === "Awaiting Approval";
  if (page.userType === "contractor" && job.contractor_id !== null && notStarted) {
    if (!job.accepted_at) {
      const reason = h("textarea", { name: "decline_reason", rows: "2" });
      box.append(
        h("h3", {}, "Your answer"),
        h("p", {}, "Accept the job to start it when it is approved, or decline it with a reason (it goes back to the office)."),
        h("div", { class: "actions" }, button("Accept the job", run("accept the job", work("accept")), { class: "primary" })),
        field("Reason for declining", reason),
        h(
          "div",
          { class: "actions" },
          button("Decline the job", (e) => {
            if (!reason.value.trim()) {
              out.className = "status error";
              out.textContent = "Say why you decline: the office reads it.";
              reason.focus();
              return;
            }
            return run("decline the job", work("decline", { reason: reason.value.trim() }))(e);
          }),
        ),
      );
    } else box.append(h("p", { class: "muted" }, "You accepted this job."));
  }

  // One button per destination: where an operation of its own (start) and a plain update reach the
  // same status, the operation's is offered (it records what happened, not just the new status).
  const next = job.next_statuses.filter(
    (n, i, all) => n.via !== "update" || !all.some((m, j) => j !== i && m.status_id === n.status_id && m.via !== "update"),
  );
  for (const n of next) {
    // The approval gate and recalls keep their own controls (the Workflow section).
    if (n.via === "approval_gate" || n.via === "recall" || n.via === "recall_completion") continue;
    const needs = n.requires.filter((r) => !(r === "acceptance" && job.accepted_at));
    const item = h("div", { class: "next", "data-next": n.via });
    const needLine: Node = needs.length
      ? h("p", { class: "small muted" }, `Needs ${needs.map(requirementText).join(" and ")}.`)
      : document.createTextNode("");
    if (n.via === "complete") {
      const note = h("textarea", { name: "completion_note", rows: "3" });
      const photo = h("input", { type: "file", name: "after_photo", accept: "image/jpeg,image/png" });
      item.append(
        h("h3", {}, "Complete the job"),
        needLine,
        field("Completion note", note, "What was done; stored as a case note."),
        field("“After” photo", photo, "Optional here if the After photos are already uploaded."),
        button(
          actionLabel(n),
          run("complete the job", async () => {
            const file = photo.files?.[0];
            if (file) {
              const fd = new FormData();
              fd.append("action", "upload");
              fd.append("job_id", String(job.ID));
              fd.append("photo_type", "after");
              fd.append("file", file, file.name);
              await session.api.upload("/api/jobs/photos", fd, (f) => {
                out.textContent = `Uploading the photo… ${Math.round(f * 100)}%`;
              });
            }
            return work("complete", note.value.trim() ? { completion_note: note.value.trim() } : {})();
          }),
          { class: "primary" },
        ),
      );
    } else if (n.via === "send_back") {
      const reason = h("textarea", { name: "send_back_reason", rows: "2" });
      item.append(
        h("h3", {}, "Send back"),
        needLine,
        field("What still needs doing", reason),
        // The reason is read when the button is pressed, not when it is drawn.
        button(actionLabel(n), (e) => run("send the job back", work("send_back", { reason: reason.value.trim() }))(e)),
      );
    } else if (n.via === "update") {
      item.append(
        button(
          actionLabel(n),
          run(`move the job to ${n.status_name}`, () => updateJob(page, { status_id: n.status_id })),
          n.status_name === "Cancelled" ? { class: "danger" } : {},
        ),
        needLine,
      );
    } else {
      item.append(button(actionLabel(n), run(actionLabel(n).toLowerCase(), work(n.via)), { class: "primary" }), needLine);
    }
    box.append(item);
  }
  if (box.childElementCount === 1) {
    box.append(
      h(
        "p",
        { class: "muted" },
        page.userType === "contractor"
          ? `Nothing for you to do now: the job is ${job.status_name}.`
          : `No status change is open to you: the job is ${job.status_name}.`,
      ),
    );
  }
  box.append(out);
  return box;
}

/** An edit through the public API with the ETag the page was drawn from: 412 if someone changed the job since. */
export function updateJob(page: JobPage, fields: Record<string, unknown>) {
  return page.session.api.write<Answer<"manage", "$post">>(
    "POST",
    "/api/jobs/manage",
    { action: "update", uuid: page.job.uuid, ...fields },
    page.etag ? { "If-Match": page.etag } : {},
  );
}

/** What a conflict says, with the way out: the job read again. */
function conflictBox(page: JobPage, err: ApiError) {
  return h(
    "div",
    { class: "notice error conflict", role: "alert", "data-testid": "conflict" },
    h("p", {}, "Someone else changed this job after you opened it, so your change was not saved (nothing was overwritten)."),
    h("p", { class: "small" }, err.message),
    button("Reload the job", () => void page.reload("Reloaded: the job as it is now. Make your change again if it is still needed.")),
  );
}

/** Edit the job's fields and (re)assign its contractor: the managing side's form, sent with If-Match. */
export function editSection(page: JobPage): HTMLElement | null {
  const { session, job } = page;
  if (page.userType === "contractor" || !session.allowed("edit")) return null;
  const box = h("section", { class: "card", "aria-labelledby": "edit-title", "data-testid": "edit" });
  const out = h("div", { role: "status", class: "status" });

  // Assign / reassign: its own small form, the commonest edit.
  const assign = searchPicker(session, "contractors", "contractor_id", "Contractor", {
    none: "Nobody (unassigned)",
    initial: job.contractor_id !== null && job.contractor_name ? { id: job.contractor_id, name: job.contractor_name } : null,
  });
  const assignOut = h("div", { role: "status", class: "status" });
  const assignForm = h(
    "form",
    { class: "assign" },
    h("h3", {}, job.contractor_id ? "Reassign the contractor" : "Assign a contractor"),
    assign.el,
    h("button", { type: "submit", class: "primary" }, job.contractor_id ? "Reassign" : "Assign"),
    assignOut,
  );
  assignForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = assign.select.value ? Number(assign.select.value) : null;
    void send(assignForm.querySelector("button"), assignOut, "assign the contractor", { contractor_id: id });
  });

  const title = h("input", { name: "job_title", value: job.job_title, required: true, maxlength: "255" });
  const description = h("textarea", { name: "job_description", rows: "3", required: true });
  description.value = job.job_description;
  const budget = h("input", { name: "contractor_budget", type: "number", step: "0.01", min: "0", inputmode: "decimal" });
  budget.value = job.contractor_budget === null ? "" : String(job.contractor_budget);
  const total = h("input", { name: "job_total_budget", type: "number", step: "0.01", min: "0", inputmode: "decimal" });
  total.value = job.job_total_budget === null ? "" : String(job.job_total_budget);
  const start = h("input", { name: "date_works_start_date", type: "date", value: job.date_works_start_date ?? "" });
  const end = h("input", { name: "date_works_end_date", type: "date", value: job.date_works_end_date ?? "" });
  const form = h(
    "form",
    { class: "edit" },
    h("h3", {}, "Edit the job"),
    field("Title", title),
    field("Description", description),
    h("div", { class: "two" }, field("Contractor budget (£)", budget), field("Total budget (£)", total)),
    h("div", { class: "two" }, field("Works start", start), field("Works end", end)),
    h("button", { type: "submit" }, "Save changes"),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    // Only what changed is sent, so an edit never rewrites a field it did not touch.
    const changed: Record<string, unknown> = {};
    const num = (v: string) => (v.trim() === "" ? null : Number(v));
    if (title.value.trim() !== job.job_title) changed.job_title = title.value.trim();
    if (description.value.trim() !== job.job_description) changed.job_description = description.value.trim();
    if (num(budget.value) !== job.contractor_budget) changed.contractor_budget = num(budget.value);
    if (num(total.value) !== job.job_total_budget) changed.job_total_budget = num(total.value);
    if ((start.value || null) !== job.date_works_start_date) changed.date_works_start_date = start.value || null;
    if ((end.value || null) !== job.date_works_end_date) changed.date_works_end_date = end.value || null;
    if (Object.keys(changed).length === 0) {
      out.className = "status";
      out.textContent = "Nothing changed.";
      return;
    }
    void send(
      form.querySelector("button[type=submit]"),
      out,
      `save ${Object.keys(changed).map(fieldLabel).join(", ").toLowerCase()}`,
      changed,
    );
  });

  async function send(btn: HTMLButtonElement | null, status: HTMLElement, what: string, fields: Record<string, unknown>) {
    if (btn) btn.disabled = true;
    status.className = "status";
    status.textContent = "Saving…";
    try {
      const res = await updateJob(page, fields);
      await page.reload(res.message);
    } catch (err) {
      if (err instanceof ApiError && err.conflict) replace(status, conflictBox(page, err));
      else {
        session.noteRefusal("edit", err);
        await busy(null, status, what, async () => {
          throw err;
        });
      }
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  replace(box, h("h2", { id: "edit-title" }, "Assign and edit"), assignForm, form);
  return box;
}

/** #/new: a job from pickers (directories and reference lookups), never raw ids. */
export async function renderNewJob(session: Session, main: HTMLElement) {
  document.title = "New job · PropOps";
  const [statuses, priorities, types] = await Promise.all([
    session.statuses().catch(() => []),
    session.priorities().catch(() => []),
    session.types().catch(() => []),
  ]);
  const options = (items: { ID: number; name: string }[], placeholder: string) => [
    h("option", { value: "" }, placeholder),
    ...items.map((i) => h("option", { value: String(i.ID) }, i.name)),
  ];
  const title = h("input", { name: "job_title", required: true, maxlength: "255" });
  const description = h("textarea", { name: "job_description", rows: "4", required: true });
  const property = searchPicker(session, "addresses", "address_id", "Property", { required: true });
  const type = h("select", { name: "job_type_id", required: true }, options(types, "Choose…"));
  const priority = h("select", { name: "priority_id", required: true }, options(priorities, "Choose…"));
  // A job starts Open unless the creator says otherwise; the API refuses a start this caller may not make.
  const status = h(
    "select",
    { name: "status_id", required: true },
    statuses.filter((st) => !st.is_archived).map((st) => h("option", { value: String(st.ID) }, st.name)),
  );
  const open = statuses.find((st) => st.name === "Open");
  if (open) status.value = String(open.ID);
  const contractor = searchPicker(session, "contractors", "contractor_id", "Contractor", { none: "Assign later" });
  const agent = searchPicker(session, "agents", "agent_id", "Agent", { none: "None" });
  const budget = h("input", { name: "contractor_budget", type: "number", step: "0.01", min: "0", inputmode: "decimal" });
  const out = h("div", { class: "status", role: "status" });
  const form = h(
    "form",
    { class: "card new-job", "aria-labelledby": "new-title" },
    h("h2", { id: "new-title" }, "The job"),
    field("Title", title),
    field("Description", description),
    property.el,
    h("div", { class: "two" }, field("Type", type), field("Priority", priority)),
    field("Starts as", status),
    contractor.el,
    agent.el,
    field("Contractor budget (£)", budget, "Optional"),
    h("button", { type: "submit", class: "primary" }, "Create the job"),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(form.querySelector("button[type=submit]"), out, "create the job", async () => {
      const body: Record<string, unknown> = {
        action: "create",
        job_title: title.value.trim(),
        job_description: description.value.trim(),
        address_id: Number(property.select.value),
        job_type_id: Number(type.value),
        priority_id: Number(priority.value),
        status_id: Number(status.value),
      };
      if (contractor.select.value) body.contractor_id = Number(contractor.select.value);
      if (agent.select.value) body.agent_id = Number(agent.select.value);
      if (budget.value.trim()) body.contractor_budget = Number(budget.value);
      const res = await session.api.write<{ job_uuid: string; job_ref: string; message: string }>("POST", "/api/jobs/manage", body);
      go(`/jobs/${res.job_uuid}`, {});
      return `${res.job_ref} created`;
    });
  });
  replace(main, h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Dashboard")), h("h1", {}, "New job"), form);
  await Promise.all([property.ready, contractor.ready, agent.ready]);
}
