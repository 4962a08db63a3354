/** The job page: fields, status and SLA, workflow controls, notes, media, documents, amendments, remedials, audit. */
import { ApiError } from "./api";
import { announce, busy, button, errorBox, field, h, money, replace, richText, when } from "./dom";
import { pinButton, slaBadge } from "./home";
import { actionsSection, editSection } from "./lifecycle";
import type { LiveEvent, Presence, Reset } from "./live";
import { documentsSection, photosSection } from "./media";
import type { JobPage } from "./page";
import type { Session } from "./session";
import type { Amendable, Answer, JobDetail, JobList, JobOne, Note, NoteCreated, Read, Status } from "./types";
import { describeChanges, eventSentence, fieldLabel, MONEY_FIELDS, type Names, pounds } from "./words";
export async function renderJob(session: Session, main: HTMLElement, uuid: string, flash?: string, quiet = false) {
  document.title = "Job · PropOps";
  // A live redraw keeps what is on screen until the new page is ready.
  if (!quiet) replace(main, h("p", { class: "muted" }, "Loading the job…"));
  let job: JobDetail;
  let etag: string | undefined;
  try {
    const read = await session.api.getWithEtag<JobOne>("/api/jobs/manage", { action: "get", uuid });
    job = read.body.data;
    etag = read.etag;
  } catch (err) {
    replace(main, h("h1", {}, "Job"), errorBox(err, "open this job"), h("p", {}, h("a", { href: "#/" }, "Back to the dashboard")));
    return;
  }
  let amendable: Amendable | undefined;
  try {
    amendable = (await session.api.get<Read<"amendable-fields">>("/api/jobs/amendable-fields", { job_uuid: uuid })).data;
  } catch {
    amendable = undefined; // no permission: the amendments section says so itself
  }
  const page: JobPage = {
    session,
    job,
    userType: amendable?.user_type ?? "unknown",
    amendable,
    etag,
    reload: async (message) => {
      await renderJob(session, main, uuid, message);
      // The redraw replaced the control that was used: keep keyboard focus on the outcome instead.
      main.querySelector<HTMLElement>(".flash")?.focus();
    },
  };
  document.title = `${job.job_ref} · PropOps`;
  // Nothing typed on this drawing yet: a live change may redraw it (see liveJobUpdate).
  main.dataset.dirty = "";
  const sections = [
    notesSection(page),
    photosSection(page),
    documentsSection(page),
    amendmentsSection(page),
    remedialsSection(page),
    auditSection(page),
  ];
  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Dashboard")),
    h(
      "div",
      { class: "job-head" },
      h("h1", {}, `${job.job_ref} · ${job.job_title}`),
      flash ? h("p", { class: "notice ok flash", role: "status", tabindex: "-1" }, flash) : null,
      h(
        "p",
        { class: "job-meta" },
        h("span", { class: "badge status", "data-testid": "job-status" }, job.status_name),
        " ",
        slaBadge(job.sla_state),
        " ",
        job.is_recall ? h("span", { class: "badge recall" }, "Recall") : null,
        pinButton(session, job, (pinned) => void page.reload(pinned ? "Job pinned to your dashboard" : "Job unpinned from your dashboard")),
      ),
      viewersLine(session, uuid),
      h("div", { "data-testid": "live-notice" }),
    ),
    h(
      "div",
      { class: "grid" },
      detailsSection(job),
      actionsSection(page),
      editSection(page),
      await workflowSection(page),
      ...(await Promise.all(sections)),
    ),
  );
}

function detailsSection(job: JobDetail) {
  const rows: [string, string][] = [
    ["Description", job.job_description],
    ["Address", job.full_address],
    ["Type", job.job_type_name],
    ["Priority", job.priority_name],
    ["SLA deadline", when(job.sla_deadline)],
    ["Agent", job.agent_name ?? "—"],
    ["Contractor", job.contractor_name ?? "—"],
    ["Works", `${job.date_works_start_date ?? "—"} to ${job.date_works_end_date ?? "—"}`],
    ["Total budget", money(job.job_total_budget)],
    ["Contractor budget", money(job.contractor_budget)],
    ["VAT", `${job.vat_percentage}%`],
    ["Total amount", money(job.total_amount)],
  ];
  if (job.works_order_ref) rows.push(["Works order", job.works_order_ref]);
  if (job.invoice_no) rows.push(["Invoice", job.invoice_no]);
  if (job.tenants?.length) rows.push(["Tenants", job.tenants.map((t) => t.name).join(", ")]);
  // Contractors attend the site, so the API gives them the access details but nulls the private
  // contact: the contact block appears only when the API returned one.
  if (job.access_details) rows.push(["Access details", job.access_details]);
  const privateRows: [string, string][] = [];
  if (job.private_contact_name || job.private_contact_email) {
    privateRows.push(["Name", job.private_contact_name ?? "—"], ["Email", job.private_contact_email ?? "—"]);
  }
  const dl = (list: [string, string][]) =>
    h(
      "dl",
      { class: "details" },
      list.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
  return h(
    "section",
    { class: "card", "aria-labelledby": "details-title" },
    h("h2", { id: "details-title" }, "Details"),
    dl(rows),
    privateRows.length ? [h("h3", {}, "Private contact"), h("div", { "data-testid": "private-contact" }, dl(privateRows))] : null,
    h(
      "p",
      { class: "muted small" },
      `Created ${when(job.created_at)}${job.created_by_name ? ` by ${job.created_by_name}` : ""}; updated ${when(job.updated_at)}`,
    ),
  );
}

/** Approval gate, recall and recall completion: the managing side's controls, offered when the job's state allows them. */
async function workflowSection(page: JobPage) {
  const { session, job } = page;
  const box = h("section", { class: "card", "aria-labelledby": "workflow-title" }, h("h2", { id: "workflow-title" }, "Workflow"));
  // A contractor's steps are under Next steps; budget or date changes go through Amendments.
  if (page.userType === "contractor") return null;
  const statuses: Status[] = await session.statuses().catch(() => []);
  const status = statuses.find((s) => s.ID === job.status_id);
  let offered = 0;

  if (status?.requires_approval && session.allowed("gate")) {
    offered++;
    const notes = h("textarea", { name: "notes", rows: "2" });
    const out = h("p", { class: "status", role: "status" });
    const gateActions = h("div", { class: "actions" });
    const decide = (decision: "approve" | "reject") => (e: Event) =>
      busy(e.currentTarget as HTMLButtonElement, out, `${decision} this job`, async () => {
        try {
          const res = await session.api.write<Answer<"approval-gate", "$post">>("POST", "/api/jobs/approval-gate", {
            job_uuid: job.uuid,
            decision,
            notes: notes.value || null,
          });
          await page.reload(res.message);
          return res.message;
        } catch (err) {
          session.noteRefusal("gate", err);
          if (!session.allowed("gate")) gateActions.remove();
          throw err;
        }
      });
    gateActions.append(button("Approve", decide("approve"), { class: "primary" }), button("Reject", decide("reject")));
    box.append(
      h("h3", {}, "Approval gate"),
      h("p", {}, `This job is ${status.name} and needs a manager's decision.`),
      field("Notes (optional)", notes),
      gateActions,
      out,
    );
  }
  if (status?.is_completed && !job.is_recall && session.allowed("recall")) {
    offered++;
    const reason = h("textarea", { name: "recall_reason", rows: "2", required: true });
    const out = h("p", { class: "status", role: "status" });
    const form = h(
      "form",
      {},
      h("h3", {}, "Recall"),
      field("Reason for the recall", reason),
      h("button", { type: "submit" }, "Recall this job"),
      out,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(form.querySelector("button"), out, "recall this job", async () => {
        try {
          const res = await session.api.write<Answer<"recall", "$post">>("POST", "/api/jobs/recall", {
            job_uuid: job.uuid,
            recall_reason: reason.value,
            is_recall: 1,
          });
          await page.reload(res.message);
          return res.message;
        } catch (err) {
          session.noteRefusal("recall", err);
          throw err;
        }
      });
    });
    box.append(form);
  }
  if (job.is_recall && session.allowed("recall-complete")) {
    offered++;
    const out = h("p", { class: "status", role: "status" });
    box.append(
      h("h3", {}, "Recall"),
      h("p", {}, "This job is recalled. Mark it completed when the follow-up work is done."),
      button("Mark recall completed", (e) =>
        busy(e.currentTarget as HTMLButtonElement, out, "complete the recall", async () => {
          try {
            const res = await session.api.write<Answer<"mark-recall-completed", "$post">>("POST", "/api/jobs/mark-recall-completed", {
              job_uuid: job.uuid,
            });
            await page.reload(res.message);
            return res.message;
          } catch (err) {
            session.noteRefusal("recall-complete", err);
            throw err;
          }
        }),
      ),
      out,
    );
  }
  // Nothing of the gate or recalls applies now: the section is left out (Next steps says what is open).
  if (offered === 0) return null;
  return box;
}

function noteItem(note: Note, replies: Map<string, Note[]>): HTMLElement {
  const body = h("div", { class: "note-body" });
  if (note.is_html) body.append(richText(note.message));
  else body.append(h("p", {}, note.message));
  const children = replies.get(note.uuid) ?? [];
  return h(
    "li",
    { class: "note", "data-note": note.uuid },
    h(
      "p",
      { class: "note-meta" },
      h("strong", {}, note.created_by_name),
      ` · ${when(note.created_at)}`,
      note.source === "email" ? h("span", { class: "badge" }, "Email reply") : null,
      note.send_email ? h("span", { class: "badge" }, `Emailed (${note.email_status})`) : null,
    ),
    body,
    note.attachments.length ? h("p", { class: "small" }, `Attachments: ${note.attachments.map((a) => a.filename).join(", ")}`) : null,
    children.length
      ? h(
          "ul",
          { class: "replies", "aria-label": "Replies" },
          children.map((c) => noteItem(c, replies)),
        )
      : null,
  );
}

async function notesSection(page: JobPage) {
  const { session, job } = page;
  const box = h("section", { class: "card wide", "aria-labelledby": "notes-title" });
  const title = h("h2", { id: "notes-title" }, "Case notes");
  const list = h("div", {});
  const load = async () => {
    try {
      const res = await session.api.get<Read<"case-notes">>("/api/jobs/case-notes", { action: "list", job_uuid: job.uuid, limit: 200 });
      const replies = new Map<string, Note[]>();
      const known = new Set(res.data.map((n) => n.uuid));
      const top: Note[] = [];
      for (const n of res.data) {
        if (n.parent_uuid && known.has(n.parent_uuid)) replies.set(n.parent_uuid, [...(replies.get(n.parent_uuid) ?? []), n]);
        else top.push(n);
      }
      replace(
        list,
        h("p", { class: "count", "data-testid": "note-count" }, `${res.count} note${res.count === 1 ? "" : "s"}`),
        top.length
          ? h(
              "ol",
              { class: "notes" },
              top.map((n) => noteItem(n, replies)),
            )
          : null,
      );
    } catch (err) {
      replace(list, errorBox(err, "read the case notes"));
    }
  };
  const message = h("textarea", { name: "message", rows: "4", required: true });
  const sendEmail = h("input", { type: "checkbox", name: "send_email" });
  const out = h("p", { class: "status", role: "status" });
  const form = h(
    "form",
    { class: "note-form" },
    field("New note", message, "Plain text, or HTML (bold, lists, links); the API keeps only safe markup."),
    h("label", { class: "check" }, sendEmail, " Also send by email to the job's parties (replies come back under the note)"),
    h("button", { type: "submit", class: "primary" }, "Add note"),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(form.querySelector("button"), out, "add the note", async () => {
      const res = await session.api.write<NoteCreated>("POST", "/api/jobs/case-notes", {
        action: "create",
        job_uuid: job.uuid,
        message: message.value,
        send_email: sendEmail.checked,
      });
      message.value = "";
      sendEmail.checked = false;
      await load();
      return res.email_status !== "none" ? `${res.message} (email: ${res.email_status})` : res.message;
    });
  });
  replace(box, title, list, form);
  await load();
  return box;
}

async function amendmentsSection(page: JobPage) {
  const { session, job, amendable } = page;
  const box = h("section", { class: "card", "aria-labelledby": "amend-title" });
  const title = h("h2", { id: "amend-title" }, "Amendments");
  const list = h("div", {});
  // The API's own label for a field where amendable-fields gave one, else the dashboard's.
  const amendLabel = (key: string) => amendable?.fields.find((f) => f.key === key)?.label ?? fieldLabel(key);
  const amendValue = (key: string, v: string | null) => {
    const f = amendable?.fields.find((x) => x.key === key);
    const option = f?.options?.find((o) => String(o.value) === v);
    if (option) return option.label;
    if (v === null || v === "") return "none";
    return MONEY_FIELDS.has(key) || f?.type === "money" ? pounds(v) : v;
  };
  const load = async () => {
    try {
      const res = await session.api.get<Read<"amend-request">>("/api/jobs/amend-request", { job_uuid: job.uuid, limit: 50 });
      const canDecide = page.userType === "staff" && session.allowed("amend-decide");
      replace(
        list,
        res.data.length
          ? h(
              "ul",
              { class: "plain amendments" },
              res.data.map((a) => {
                const out = h("p", { class: "status", role: "status" });
                const decide = (status: "approved" | "rejected") => (e: Event) =>
                  busy(
                    e.currentTarget as HTMLButtonElement,
                    out,
                    `${status === "approved" ? "approve" : "reject"} the amendment`,
                    async () => {
                      try {
                        const r = await session.api.write<Answer<"amend-request", "$patch">>("PATCH", "/api/jobs/amend-request", {
                          uuid: a.uuid,
                          status,
                        });
                        await page.reload(r.message);
                        return r.message;
                      } catch (err) {
                        session.noteRefusal("amend-decide", err);
                        // Refused for this caller: take the decision buttons away, keep the message.
                        if (!session.allowed("amend-decide")) for (const el of list.querySelectorAll(".decide")) el.remove();
                        throw err;
                      }
                    },
                  );
                const label = amendLabel(a.field_name);
                return h(
                  "li",
                  { "data-amendment": a.uuid },
                  h(
                    "p",
                    {},
                    h("strong", {}, label),
                    `: ${amendValue(a.field_name, a.current_value)} → ${amendValue(a.field_name, a.requested_value)} `,
                    h("span", { class: `badge amend-${a.status}` }, AMEND_STATUS[a.status] ?? a.status),
                  ),
                  h(
                    "p",
                    { class: "small" },
                    `“${a.reason}” — ${a.requested_by}, ${when(a.requested_at)}${a.decided_by ? `; decided by ${a.decided_by}` : ""}`,
                  ),
                  a.status === "pending" && canDecide
                    ? h(
                        "div",
                        { class: "actions decide" },
                        button(`Approve ${label.toLowerCase()} change`, decide("approved"), { class: "primary" }),
                        button(`Reject ${label.toLowerCase()} change`, decide("rejected")),
                      )
                    : null,
                  out,
                );
              }),
            )
          : h("p", { class: "muted" }, "No amendment requests."),
      );
    } catch (err) {
      replace(list, errorBox(err, "see amendment requests"));
    }
  };
  let form: HTMLElement | null = null;
  if (amendable?.fields.length) {
    const fieldSel = h(
      "select",
      { name: "field_name", required: true },
      amendable.fields.map((f) => h("option", { value: f.key }, f.label)),
    );
    const valueWrap = h("div", {});
    const current = h("p", { class: "small" });
    const reason = h("textarea", { name: "reason", rows: "2", required: true });
    const out = h("p", { class: "status", role: "status" });
    const valueInput = () => {
      const f = amendable.fields.find((x) => x.key === fieldSel.value);
      if (!f) return;
      current.textContent = `Current value: ${amendValue(f.key, f.current_value === null ? null : String(f.current_value))}. ${f.description}`;
      const control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement = f.options
        ? h(
            "select",
            { name: "requested_value" },
            f.options.map((o) => h("option", { value: String(o.value) }, o.label)),
          )
        : f.type === "textarea"
          ? h("textarea", { name: "requested_value", rows: "3" })
          : h("input", {
              name: "requested_value",
              type: f.type === "date" ? "date" : f.type === "money" || f.type === "number" ? "number" : "text",
              step: f.type === "money" ? "0.01" : undefined,
              inputmode: f.type === "money" || f.type === "number" ? "decimal" : undefined,
            });
      replace(valueWrap, field("Requested value", control));
    };
    fieldSel.addEventListener("change", valueInput);
    valueInput();
    const f = h(
      "form",
      {},
      h("h3", {}, "Propose a change"),
      field("Field", fieldSel),
      current,
      valueWrap,
      field("Reason", reason),
      h("button", { type: "submit" }, "Submit proposal"),
      out,
    );
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = (valueWrap.querySelector("[name=requested_value]") as HTMLInputElement | null)?.value ?? "";
      void busy(f.querySelector("button"), out, "submit the proposal", async () => {
        const r = await session.api.write<Answer<"amend-request", "$post">>("POST", "/api/jobs/amend-request", {
          job_uuid: job.uuid,
          field_name: fieldSel.value,
          requested_value: value,
          reason: reason.value,
        });
        reason.value = "";
        await load();
        return r.message;
      });
    });
    form = f;
  } else if (!amendable) {
    form = h("p", { class: "muted" }, "You cannot propose amendments on this job.");
  }
  replace(box, title, list, form);
  await load();
  return box;
}

async function remedialsSection(page: JobPage) {
  const { session, job } = page;
  if (!session.allowed("remedials")) return null;
  const box = h("section", { class: "card", "aria-labelledby": "rem-title" });
  const title = h("h2", { id: "rem-title" }, "Remedial jobs");
  try {
    const res = await session.api.get<Read<"remedials">>("/api/jobs/remedials", { action: "list", job_uuid: job.uuid });
    const out = h("p", { class: "status", role: "status" });
    const target = h("input", { name: "remedial", required: true, placeholder: "JOB-012" });
    const form = h("form", { class: "inline" }, field("Link a remedial job (reference)", target), h("button", { type: "submit" }, "Link"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(form.querySelector("button"), out, "link the remedial job", async () => {
        const ref = target.value.trim();
        const found = await session.api.get<JobList>("/api/jobs/manage", {
          action: "list",
          search: ref,
          limit: 20,
        });
        const match = found.data.find((j) => j.job_ref.toLowerCase() === ref.toLowerCase());
        if (!match) throw new ApiError(404, `no job with reference ${ref}`);
        const r = await session.api.write<Answer<"remedials", "$post">>("POST", "/api/jobs/remedials", {
          action: "link",
          job_uuid: job.uuid,
          remedials_job_uuid: match.uuid,
        });
        await page.reload(r.message);
        return r.message;
      });
    });
    replace(
      box,
      title,
      res.data.length
        ? h(
            "ul",
            { class: "plain" },
            res.data.map((r) =>
              h(
                "li",
                {},
                h("a", { href: `#/jobs/${r.uuid}` }, `${r.job_ref} · ${r.job_title}`),
                ` (${r.status_name}) `,
                button(`Unlink ${r.job_ref}`, (e) =>
                  busy(e.currentTarget as HTMLButtonElement, out, "unlink the remedial job", async () => {
                    const x = await session.api.write<Answer<"remedials", "$post">>("POST", "/api/jobs/remedials", {
                      action: "unlink",
                      job_uuid: r.uuid,
                    });
                    await page.reload(x.message);
                    return x.message;
                  }),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No remedial jobs linked."),
      form,
      out,
    );
  } catch (err) {
    // Not this caller's to use (a contractor): the section is left out, not shown as a refusal.
    if (err instanceof ApiError && err.forbidden) {
      session.noteRefusal("remedials", err);
      return null;
    }
    replace(box, title, errorBox(err, "see remedial jobs"));
  }
  return box;
}

async function auditSection(page: JobPage) {
  const { session, job } = page;
  const box = h("section", { class: "card wide", "aria-labelledby": "audit-title" });
  const title = h("h2", { id: "audit-title" }, "Audit trail");
  const list = h("ol", { class: "audit" });
  const more = h("button", { type: "button" }, "Show older events");
  let offset = 0;
  const names = await auditNames(page);
  const load = async () => {
    const res = await session.api.get<Read<"audit">>("/api/jobs/audit", { job_uuid: job.uuid, limit: 20, offset });
    for (const e of res.data) {
      list.append(
        h(
          "li",
          { "data-event": e.action },
          h("span", { class: "event" }, eventSentence(e.action, e.actor_name, e.changes, names)),
          " ",
          h("time", { datetime: e.created_at, class: "muted small" }, when(e.created_at)),
          e.action === "job.assigned" ? null : changeList(describeChanges(e.changes, names)),
        ),
      );
    }
    offset += res.data.length;
    more.hidden = offset >= res.count;
  };
  more.addEventListener("click", () => void load().catch((err) => list.after(errorBox(err, "load older events"))));
  try {
    await load();
    replace(box, title, list.childElementCount ? list : h("p", { class: "muted" }, "No events yet."), more);
  } catch (err) {
    replace(box, title, errorBox(err, "read the audit trail"));
  }
  return box;
}

function changeList(lines: string[]) {
  return lines.length
    ? h(
        "ul",
        { class: "changes small" },
        lines.map((l) => h("li", {}, l)),
      )
    : null;
}

const AMEND_STATUS: Record<string, string> = { pending: "pending", approved: "approved", rejected: "rejected" };

/** Names for the ids an audit trail shows: the reference lists and the directories seen so far. */
async function auditNames(page: JobPage): Promise<Names> {
  const { session, job } = page;
  session.remember("contractors", job.contractor_id, job.contractor_name);
  session.remember("agents", job.agent_id, job.agent_name);
  const [statuses, priorities, types] = await Promise.all([
    session.statuses().catch(() => []),
    session.priorities().catch(() => []),
    session.types().catch(() => []),
    // The first page of each directory: most names an estate's trail mentions.
    session.directory("contractors", "", 200),
    page.userType === "contractor" ? [] : session.directory("agents", "", 200),
  ]);
  const byId = (items: { ID: number; name: string }[]) => new Map(items.map((i) => [i.ID, i.name]));
  const tenants = new Map((job.tenants ?? []).map((t) => [t.id, t.name]));
  return {
    status_id: byId(statuses),
    priority_id: byId(priorities),
    job_type_id: byId(types),
    contractor_id: session.names.get("contractors") ?? new Map(),
    agent_id: session.names.get("agents") ?? new Map(),
    address_id: new Map([[job.address_id, job.full_address]]),
    tenants_ids: tenants,
  };
}

/** "Also viewing: Alice" from the live presence of this job (empty without live). */
function viewersLine(session: Session, uuid: string) {
  const el = h("p", { class: "viewers small", "data-testid": "viewers" });
  const p = session.live.lastPresence.get(uuid);
  if (p) showViewers(session, el, p);
  return el;
}

export function showViewers(session: Session, el: Element, p: Presence) {
  const { viewers, sure } = session.live.others(p);
  const names = viewers.map((v) => v.name).join(", ");
  el.textContent = viewers.length === 0 ? "" : sure ? `Also viewing: ${names}` : `Viewing now: ${names}`;
}

/**
 * A live event for the job on screen: the page is drawn again in place (scroll kept), unless the
 * person has typed something on it, which a redraw would lose: then a notice offers the redraw.
 */
export async function liveJobUpdate(session: Session, main: HTMLElement, uuid: string, e: LiveEvent | Reset) {
  const actor = e.kind === "event" ? (e.data.actor as { name?: string } | undefined)?.name : undefined;
  const what = `${actor ?? "Someone"} changed this job${e.kind === "event" ? ` (${e.type.replace(/[._]/g, " ")})` : ""}.`;
  if (main.dataset.dirty === "1") {
    const slot = main.querySelector('[data-testid="live-notice"]');
    if (slot)
      replace(
        slot,
        h(
          "p",
          { class: "notice live", role: "status" },
          `${what} `,
          button("Show the changes", () => void renderJob(session, main, uuid, undefined, true)),
        ),
      );
    return;
  }
  const y = window.scrollY;
  await renderJob(session, main, uuid, undefined, true);
  window.scrollTo(0, y);
  announce(what);
}
