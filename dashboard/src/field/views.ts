/**
 * The field screens, phone first: the contractor's jobs (today, upcoming, finished; one compact
 * row each) and one job (address as a map link, tap-to-call where the API gives this caller a
 * number, access details, the lifecycle steps the API offers, note and camera capture, and the
 * work waiting on this phone with its conflicts). Everything is drawn from the phone's store, so it
 * reads the same offline; a step or capture is queued first and sent by the sync engine.
 */
import { announce, button, field, h, replace, richText, when } from "../dom";
import type { PhotoType } from "../types";
import { type FieldJob, type NewItem, type QueueItem, type SeenJob, store, type WorkAction } from "./store";
import { label, type Sync } from "./sync";

export interface Ctx {
  sync: Sync;
  /** Redraws the current screen from the store. */
  redraw: () => void;
}

const today = () => new Date().toLocaleDateString("en-CA");

/** Which list a job sits in, by its works dates and whether the work is done (the API's fields). */
function section(j: FieldJob, finished: Set<number>): "today" | "upcoming" | "finished" {
  if (j.completed_at || finished.has(j.status_id)) return "finished";
  if (j.date_works_start_date && j.date_works_start_date > today()) return "upcoming";
  return "today";
}

const byDate = (a: SeenJob, b: SeenJob) =>
  (a.job.date_works_start_date ?? "").localeCompare(b.job.date_works_start_date ?? "") || a.job.job_ref.localeCompare(b.job.job_ref);

export async function renderList(_ctx: Ctx, main: HTMLElement) {
  const [seen, queue, finished] = await Promise.all([store.jobs(), store.queue(), store.finishedStatuses()]);
  const pending = countBy(queue);
  const groups = { today: [] as SeenJob[], upcoming: [] as SeenJob[], finished: [] as SeenJob[] };
  for (const s of seen.sort(byDate)) groups[section(s.job, finished)].push(s);
  const conflicts = queue.filter((q) => q.state === "conflict");
  const list = (title: string, id: string, rows: SeenJob[], empty: string) =>
    h(
      "section",
      { "aria-labelledby": id },
      h("h2", { id }, `${title} (${rows.length})`),
      rows.length
        ? h("ul", { class: "f-jobs", "data-testid": `jobs-${id}` }, ...rows.map((s) => jobRow(s, pending.get(s.uuid) ?? 0)))
        : h("p", { class: "muted" }, empty),
    );
  document.title = "Your jobs · PropOps field";
  replace(
    main,
    h("h1", {}, "Your jobs"),
    conflicts.length
      ? h(
          "div",
          { class: "f-notice bad", role: "alert" },
          `${conflicts.length} queued item${conflicts.length === 1 ? " was" : "s were"} refused: open the job to decide. `,
          ...[...new Set(conflicts.map((c) => c.job_uuid))].map((uuid) =>
            h("a", { href: `#/jobs/${uuid}` }, conflicts.find((c) => c.job_uuid === uuid)?.job_ref ?? uuid),
          ),
        )
      : null,
    seen.length === 0 ? h("p", { class: "muted" }, "No jobs on this phone yet: they load when the phone is online.") : null,
    list("Today", "today", groups.today, "Nothing for today."),
    list("Upcoming", "upcoming", groups.upcoming, "Nothing booked ahead."),
    groups.finished.length ? list("Finished", "finished", groups.finished, "") : null,
  );
}

function jobRow(s: SeenJob, queued: number) {
  const j = s.job;
  const dates = j.date_works_start_date ? j.date_works_start_date.slice(5).split("-").reverse().join("/") : "";
  return h(
    "li",
    {},
    h(
      "a",
      { href: `#/jobs/${j.uuid}`, class: "f-row" },
      h(
        "span",
        { class: "f-row-top" },
        h("strong", {}, j.job_ref),
        h("span", { class: `f-badge st-${j.status_id}` }, j.status_name),
        dates ? h("span", { class: "muted" }, dates) : null,
      ),
      h("span", { class: "f-row-title" }, j.job_title),
      h("span", { class: "f-row-sub muted" }, j.full_address),
      queued ? h("span", { class: "f-queued" }, `${queued} waiting to send`) : null,
    ),
  );
}

function countBy(queue: QueueItem[]) {
  const m = new Map<string, number>();
  for (const q of queue) m.set(q.job_uuid, (m.get(q.job_uuid) ?? 0) + 1);
  return m;
}

/** Phone numbers in a text the API let this caller read (access details): tap-to-call links. */
function phoneNumbers(text: string | null): string[] {
  if (!text) return [];
  return [...text.matchAll(/(?:\+|\b0)\d[\d ()-]{7,}\d/g)].map((m) => m[0].trim());
}

/** Object URLs of the queued photos' thumbnails, released at each redraw. */
let thumbs: string[] = [];
const thumbUrl = (blob: Blob) => {
  const url = URL.createObjectURL(blob);
  thumbs.push(url);
  return url;
};

export async function renderJob(ctx: Ctx, main: HTMLElement, uuid: string) {
  for (const url of thumbs) URL.revokeObjectURL(url);
  thumbs = [];
  const seen = await store.job(uuid);
  if (!seen) {
    replace(
      main,
      h("p", {}, h("a", { href: "#/" }, "← Your jobs")),
      h("h1", {}, "Job not on this phone"),
      h("p", {}, "This job has not been opened while online, or it is no longer yours."),
    );
    return;
  }
  const j = seen.job;
  document.title = `${j.job_ref} · PropOps field`;
  const queue = (await store.queue()).filter((q) => q.job_uuid === uuid);
  const status = h("p", { class: "status", role: "status" });
  const enqueue = async (item: NewItem, done: string) => {
    await store.enqueue(item);
    announce(done);
    status.textContent = done;
    ctx.redraw();
    void ctx.sync.flush();
  };
  const base = (): Pick<QueueItem, "job_uuid" | "job_ref" | "key" | "queued_at" | "state"> => ({
    job_uuid: j.uuid,
    job_ref: j.job_ref,
    key: crypto.randomUUID(),
    queued_at: new Date().toISOString(),
    state: "queued",
  });
  const maps = `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent(j.full_address)}`;
  const phones = phoneNumbers(j.access_details);
  replace(
    main,
    h("p", { class: "f-crumbs" }, h("a", { href: "#/" }, "← Your jobs")),
    h("h1", {}, `${j.job_ref} · ${j.job_title}`),
    h(
      "p",
      { class: "f-meta" },
      h("span", { class: `f-badge st-${j.status_id}`, "data-testid": "job-status" }, j.status_name),
      ` ${j.priority_name} · ${j.job_type_name}`,
      j.date_works_start_date ? ` · ${j.date_works_start_date}${j.date_works_end_date ? ` to ${j.date_works_end_date}` : ""}` : "",
      ` · ${j.photos_count} photo${j.photos_count === 1 ? "" : "s"} on the job`,
    ),
    h(
      "section",
      { class: "f-card", "aria-labelledby": "site" },
      h("h2", { id: "site" }, "Site"),
      h("p", {}, j.full_address),
      h(
        "p",
        { class: "f-links" },
        h("a", { href: maps, class: "f-btn", rel: "noopener noreferrer", target: "_blank" }, "Open in maps"),
        h("a", { href: `geo:0,0?q=${encodeURIComponent(j.full_address)}`, class: "f-btn" }, "Map app"),
        ...phones.map((p) => h("a", { href: `tel:${p.replace(/[^\d+]/g, "")}`, class: "f-btn" }, `Call ${p}`)),
      ),
      j.private_contact_name || j.private_contact_email
        ? h(
            "p",
            {},
            "Site contact: ",
            j.private_contact_name ?? "",
            j.private_contact_email ? [" ", h("a", { href: `mailto:${j.private_contact_email}` }, j.private_contact_email)] : null,
          )
        : null,
      h("h3", {}, "Access"),
      h("p", { "data-testid": "access" }, j.access_details ?? "No access details for you on this job."),
      h("h3", {}, "Work"),
      h("p", {}, j.job_description),
    ),
    actions(j, queue, enqueue, base),
    capture(j, enqueue, base),
    await pendingList(ctx, queue),
    notes(seen),
    status,
  );
}

type Enqueue = (item: NewItem, done: string) => Promise<void>;
type Base = () => Pick<QueueItem, "job_uuid" | "job_ref" | "key" | "queued_at" | "state">;

const STEP_LABEL: Record<WorkAction, string> = { accept: "Accept job", start: "Start work", complete: "Complete job" };

/** The lifecycle steps the API lists for this caller (next_statuses), as buttons; accept where a step requires it. */
function actions(j: FieldJob, queue: QueueItem[], enqueue: Enqueue, base: Base) {
  const queuedWork = queue.filter((q) => q.kind === "work");
  const box = h("section", { class: "f-card", "aria-labelledby": "steps" }, h("h2", { id: "steps" }, "Next step"));
  if (queuedWork.length) {
    box.append(h("p", {}, `Queued: ${queuedWork.map((q) => label(q)).join(", ")}. The next steps show once the API has answered.`));
    return box;
  }
  const steps: { action: WorkAction; requires: string[] }[] = [];
  if (!j.accepted_at && j.next_statuses.some((n) => n.requires.includes("acceptance"))) steps.push({ action: "accept", requires: [] });
  for (const n of j.next_statuses)
    if ((n.via === "start" || n.via === "complete") && !steps.some((s) => s.action === n.via))
      steps.push({ action: n.via, requires: n.requires });
  if (steps.length === 0) {
    box.append(h("p", { class: "muted" }, "Nothing for you to do on this job's status now."));
    return box;
  }
  for (const step of steps) {
    if (step.action === "complete") {
      const note = h("textarea", {
        name: "completion_note",
        rows: 3,
        maxlength: 5000,
        required: step.requires.includes("completion_note"),
      });
      const form = h(
        "form",
        { class: "f-form" },
        field(
          "Completion note",
          note,
          step.requires.includes("after_photos") ? "What was done. An after photo is needed first." : "What was done.",
        ),
        h("button", { type: "submit", class: "primary" }, STEP_LABEL.complete),
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        void enqueue(
          { ...base(), kind: "work", action: "complete", completion_note: note.value.trim() || undefined },
          `${j.job_ref}: completion queued`,
        );
      });
      box.append(form);
    } else {
      box.append(
        button(
          STEP_LABEL[step.action],
          () =>
            void enqueue(
              { ...base(), kind: "work", action: step.action },
              `${j.job_ref}: ${label({ ...base(), kind: "work", action: step.action })} queued`,
            ),
          {
            class: "primary f-wide",
          },
        ),
      );
    }
  }
  return box;
}

/** Notes and the phone camera (photos and short videos through <input capture>). */
function capture(j: FieldJob, enqueue: Enqueue, base: Base) {
  const message = h("textarea", { name: "message", rows: 3, maxlength: 20000, required: true });
  const noteForm = h("form", { class: "f-form" }, field("Note", message), h("button", { type: "submit" }, "Add note"));
  noteForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = message.value.trim();
    if (!text) return message.focus();
    message.value = "";
    void enqueue({ ...base(), kind: "note", message: text }, `${j.job_ref}: note queued`);
  });
  const stage = h(
    "select",
    { name: "photo_type" },
    ...(["before", "during", "after", "other"] as PhotoType[]).map((t) =>
      h("option", { value: t, selected: t === (j.status_id === 4 ? "after" : "before") }, t[0]?.toUpperCase() + t.slice(1)),
    ),
  );
  const camera = h("input", {
    type: "file",
    name: "media",
    accept: "image/jpeg,image/png,video/mp4",
    capture: "environment",
    multiple: true,
  });
  camera.addEventListener("change", async () => {
    const files = [...(camera.files ?? [])];
    camera.value = "";
    for (const file of files) {
      await enqueue(
        {
          ...base(),
          kind: "photo",
          job_id: j.ID,
          photo_type: stage.value as PhotoType,
          file,
          name: file.name || `capture-${Date.now()}.jpg`,
        },
        `${j.job_ref}: ${file.type.startsWith("video/") ? "video" : "photo"} queued`,
      );
    }
  });
  return h(
    "section",
    { class: "f-card", "aria-labelledby": "capture" },
    h("h2", { id: "capture" }, "Record"),
    noteForm,
    h("div", { class: "f-form" }, field("Photo stage", stage), field("Take photo or video", camera, "JPEG, PNG or MP4, up to 20 MB each.")),
  );
}

/** What waits on this phone for this job, oldest first; a refused item offers its resolution. */
async function pendingList(ctx: Ctx, queue: QueueItem[]) {
  const box = h(
    "section",
    { class: "f-card", "aria-labelledby": "pending" },
    h("h2", { id: "pending" }, `Waiting to send (${queue.length})`),
  );
  if (queue.length === 0) {
    box.append(h("p", { class: "muted" }, "Nothing waiting: everything recorded here has reached the office."));
    return box;
  }
  const ul = h("ul", { class: "f-pending", "data-testid": "pending" });
  for (const item of queue) {
    const thumb =
      item.kind === "photo" && item.file.type.startsWith("image/")
        ? h("img", { src: thumbUrl(item.file), alt: `Queued photo ${item.name}`, width: 48, height: 48 })
        : null;
    const what =
      item.kind === "note"
        ? `Note: ${item.message.length > 80 ? `${item.message.slice(0, 80)}…` : item.message}`
        : item.kind === "photo"
          ? `${item.file.type.startsWith("video/") ? "Video" : "Photo"} (${item.photo_type}): ${item.name}`
          : `Step: ${STEP_LABEL[item.action]}`;
    const li = h(
      "li",
      { class: item.state === "conflict" ? "conflict" : "" },
      thumb,
      h("span", {}, what, h("small", { class: "muted" }, ` · queued ${when(item.queued_at)}`)),
    );
    if (item.state === "conflict") {
      li.append(
        h(
          "div",
          { class: "f-conflict", role: "alert" },
          h("strong", {}, "Refused by the office system: "),
          item.error ?? "",
          item.current_status ? ` (the job is now ${item.current_status})` : "",
          h(
            "div",
            { class: "f-links" },
            button("Try again", async () => {
              await store.update({ ...item, state: "queued", error: undefined, current_status: undefined });
              ctx.redraw();
              await ctx.sync.flush();
              ctx.redraw();
            }),
            button("Discard", async () => {
              if (!confirm(`Discard ${label(item)} for ${item.job_ref}? It was not recorded by the office.`)) return;
              await store.remove(item.seq as number);
              announce(`Discarded ${label(item)}`);
              ctx.redraw();
              void ctx.sync.flush();
            }),
          ),
        ),
      );
    }
    ul.append(li);
  }
  box.append(ul);
  return box;
}

function notes(seen: SeenJob) {
  return h(
    "section",
    { class: "f-card", "aria-labelledby": "notes" },
    h("h2", { id: "notes" }, `Notes (${seen.notes.length})`),
    seen.notes.length
      ? h(
          "ul",
          { class: "f-notes", "data-testid": "notes" },
          ...seen.notes.map((n) =>
            h(
              "li",
              {},
              h("div", { class: "muted small" }, `${n.created_by_name ?? "Someone"} · ${when(n.created_at)}`),
              h("div", {}, richText(n.message)),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No notes yet."),
    h("p", { class: "muted small" }, `Read from the office ${when(seen.seen_at)}.`),
  );
}
