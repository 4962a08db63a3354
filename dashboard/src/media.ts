/** Photos and videos (grouped, with upload progress, compression and transcoding states) and documents. */
import { ApiError } from "./api";
import { announce, busy, button, bytes, errorBox, field, h, replace, when } from "./dom";
import type { JobPage } from "./page";
import { type Answer, PHOTO_TYPES, type Photo, type PhotoType, type Read } from "./types";

const GROUP_LABEL: Record<PhotoType, string> = { before: "Before", during: "During", after: "After", other: "Other" };
const POLL_MS = 2000;
type Quality = "1080p" | "720p" | "original";

/** A file input, a progress bar and a status line: the shared upload form of photos and documents. */
function uploadForm(
  title: string,
  accept: string,
  extra: HTMLElement[],
  send: (file: File, progress: (f: number) => void) => Promise<string>,
) {
  const file = h("input", { type: "file", name: "file", accept, required: true });
  const progress = h("progress", { max: "100", value: "0", hidden: true, "aria-label": `${title} progress` });
  const out = h("p", { class: "status", role: "status" });
  const form = h(
    "form",
    { class: "upload" },
    h("h3", {}, title),
    ...extra,
    field("File", file),
    h("button", { type: "submit" }, "Upload"),
    progress,
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    progress.hidden = false;
    progress.value = 0;
    void busy(form.querySelector("button"), out, "upload the file", async () => {
      try {
        const msg = await send(chosen, (f) => {
          progress.value = Math.round(f * 100);
          out.textContent = `Uploading ${chosen.name}: ${Math.round(f * 100)}%`;
        });
        file.value = "";
        return msg;
      } finally {
        progress.hidden = true;
      }
    });
  });
  return form;
}

/** "Delete <file>": asks first, then runs the removal with the button disabled, reporting in `out`. */
function deleteButton(filename: string, out: HTMLElement, what: string, cls: string, remove: () => Promise<string>) {
  return button(
    `Delete ${filename}`,
    (e) => {
      if (!window.confirm(`Delete ${filename}?`)) return;
      void busy(e.currentTarget as HTMLButtonElement, out, what, remove);
    },
    { class: cls },
  );
}

function thumb(page: JobPage, p: Photo, reload: () => Promise<void>) {
  const { session } = page;
  const status = h("p", { class: "small media-status" });
  const out = h("p", { class: "status", role: "status" });
  const del = deleteButton(p.filename, out, "delete the file", "danger small-btn", async () => {
    const r = await session.api.write<Answer<"photos", "$delete">>("DELETE", "/api/jobs/photos", { id: p.ID });
    await reload();
    return r.message;
  });
  const fig = h("figure", { class: `media ${p.kind}`, "data-photo": p.uuid, "data-status": p.processing_status });
  const caption = h("figcaption", {}, p.filename, status, del, out);
  if (p.kind === "image") {
    if (p.processing_status === "completed" && p.compressed_url) {
      const img = h("img", { alt: `${GROUP_LABEL[p.photo_type]} photo ${p.filename}`, loading: "lazy", width: "160", height: "120" });
      session.api
        .blobUrl(p.compressed_url)
        .then((u) => {
          img.src = u;
        })
        .catch(() => img.replaceWith(h("p", { class: "notice error" }, "The image could not be loaded.")));
      status.textContent = `${bytes(p.compressed_size ?? p.size)} (from ${bytes(p.size)})`;
      fig.append(img);
    } else if (p.processing_status === "failed") {
      status.textContent = `Compression failed: ${p.processing_error ?? "unknown error"}`;
      fig.append(h("div", { class: "placeholder" }, "Failed"));
    } else {
      status.textContent = "Compressing…";
      fig.append(h("div", { class: "placeholder", "aria-hidden": "true" }, "…"));
    }
  } else {
    fig.append(videoPlayer(page, p, status));
  }
  fig.append(caption);
  return fig;
}

/** A <video> with a quality selector fed by video-variants; the thumbnail as poster; a processing state while pending. */
function videoPlayer(page: JobPage, p: Photo, status: HTMLElement) {
  const { session } = page;
  const wrap = h("div", { class: "player" });
  if (p.processing_status === "pending" || p.processing_status === "processing") {
    status.textContent = `Processing video (${p.processing_status})…`;
    wrap.append(h("div", { class: "placeholder" }, "Processing…"));
    return wrap;
  }
  if (p.processing_status === "failed") {
    status.textContent = `Processing failed: ${p.processing_error ?? "unknown error"}`;
  }
  session.api
    .get<Read<"video-variants">>("/api/jobs/video-variants", { uuid: p.uuid })
    .then((v) => {
      const sources: [Quality, string, string][] = [];
      const variants = Array.isArray(v.variants) ? {} : v.variants;
      for (const q of ["1080p", "720p"] as const) {
        const info = variants[q];
        if (info) sources.push([q, info.url, `${q} (${info.width}×${info.height}, ${bytes(info.size)})`]);
      }
      sources.push(["original", v.original.url, `Original (${bytes(v.original.size)})`]);
      const video = h("video", { controls: true, playsinline: true, preload: "auto", "aria-label": `Video ${p.filename}` });
      if (v.thumbnail)
        session.api
          .blobUrl(v.thumbnail)
          .then((u) => video.setAttribute("poster", u))
          .catch(() => {});
      // Phones on site: 720p by default when there is one.
      const initial = sources.find((x) => x[0] === "720p") ?? sources[0];
      const select = h(
        "select",
        { name: "quality" },
        sources.map(([q, , label]) => h("option", { value: q, selected: q === initial?.[0] }, label)),
      );
      const load = async (q: Quality) => {
        const src = sources.find((x) => x[0] === q);
        if (!src) return;
        const at = video.currentTime;
        const playing = !video.paused;
        video.dataset.quality = q;
        status.textContent = `Loading ${q}…`;
        video.src = await session.api.blobUrl(src[1]);
        video.currentTime = at;
        if (playing) void video.play().catch(() => {});
        status.textContent = `Playing ${q}`;
        announce(`Video quality ${q}`);
      };
      select.addEventListener(
        "change",
        () => void load(select.value as Quality).catch((err) => status.replaceWith(errorBox(err, "load the video"))),
      );
      replace(wrap, video, field("Quality", select));
      if (initial) void load(initial[0]).catch((err) => status.replaceWith(errorBox(err, "load the video")));
    })
    .catch((err) => replace(wrap, errorBox(err, "see this video's sources")));
  return wrap;
}

export async function photosSection(page: JobPage) {
  const { session, job } = page;
  const box = h("section", { class: "card wide", "aria-labelledby": "photos-title" });
  const title = h("h2", { id: "photos-title" }, "Photos and videos");
  const groups = h("div", {});
  let timer: number | undefined;
  const load = async (): Promise<void> => {
    window.clearTimeout(timer);
    try {
      const res = await session.api.get<Read<"photos">>("/api/jobs/photos", { job_id: job.ID });
      const all = PHOTO_TYPES.flatMap((t) => res.data[t] ?? []);
      replace(
        groups,
        h("p", { class: "count", "data-testid": "photo-count" }, `${res.count} file${res.count === 1 ? "" : "s"}`),
        PHOTO_TYPES.filter((t) => (res.data[t] ?? []).length > 0).map((t) => {
          const items = res.data[t] ?? [];
          return h(
            "div",
            { class: "group", "data-group": t },
            h("h3", {}, `${GROUP_LABEL[t]} (${items.length})`),
            h(
              "div",
              { class: "thumbs" },
              items.map((p) => thumb(page, p, load)),
            ),
          );
        }),
        // The stages with nothing in them, said once rather than "None." under each heading.
        emptyStages(PHOTO_TYPES.filter((t) => (res.data[t] ?? []).length === 0).map((t) => GROUP_LABEL[t])),
      );
      // Compression and transcoding finish in the background: look again while any is under way.
      if (all.some((p) => p.processing_status === "pending" || p.processing_status === "processing")) {
        timer = window.setTimeout(() => {
          if (box.isConnected) void load();
        }, POLL_MS);
      }
    } catch (err) {
      replace(groups, errorBox(err, "see the photos"));
    }
  };
  const type = h(
    "select",
    { name: "photo_type" },
    PHOTO_TYPES.map((t) => h("option", { value: t }, GROUP_LABEL[t])),
  );
  const form = uploadForm("Upload a photo or video", "image/jpeg,image/png,video/mp4", [field("Stage", type)], async (file, progress) => {
    const fd = new FormData();
    fd.append("action", "upload");
    fd.append("job_id", String(job.ID));
    fd.append("photo_type", type.value);
    fd.append("file", file, file.name);
    const r = await session.api.upload<Answer<"photos", "$post">>("/api/jobs/photos", fd, progress);
    await load();
    return r.message;
  });
  replace(box, title, groups, form);
  await load();
  return box;
}

export async function documentsSection(page: JobPage) {
  const { session, job } = page;
  const box = h("section", { class: "card", "aria-labelledby": "docs-title" });
  const title = h("h2", { id: "docs-title" }, "Documents");
  const list = h("div", {});
  const out = h("p", { class: "status", role: "status" });
  const load = async () => {
    try {
      const res = await session.api.get<Read<"documents">>("/api/jobs/documents", { action: "list", job_id: job.ID });
      replace(
        list,
        res.data.length
          ? h(
              "ul",
              { class: "plain docs" },
              res.data.map((d) =>
                h(
                  "li",
                  {},
                  h("strong", {}, d.filename),
                  ` · ${d.file_type_name} · ${bytes(d.size)} · ${when(d.created_at)} `,
                  button(`Download ${d.filename}`, (e) =>
                    busy(e.currentTarget as HTMLButtonElement, out, "download the document", async () => {
                      const blob = await session.api.fetchBlob(d.download_url);
                      const a = h("a", { href: URL.createObjectURL(blob), download: d.filename });
                      document.body.append(a);
                      a.click();
                      a.remove();
                      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
                      return `Downloaded ${d.filename}`;
                    }),
                  ),
                  " ",
                  deleteButton(d.filename, out, "delete the document", "danger", async () => {
                    const r = await session.api.write<Answer<"documents", "$delete">>("DELETE", "/api/jobs/documents", {
                      document_id: d.ID,
                    });
                    await load();
                    return r.message;
                  }),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No documents."),
      );
    } catch (err) {
      replace(list, errorBox(err, "see the documents"));
    }
  };
  const fileTypes = await session.fileTypes().catch(() => []);
  const typeSel = h(
    "select",
    { name: "file_type_id", required: true },
    fileTypes.map((t) => h("option", { value: String(t.ID) }, t.name)),
  );
  const form = uploadForm(
    "Upload a document",
    "application/pdf,.docx,image/jpeg,image/png",
    [field("Document type", typeSel)],
    async (file, progress) => {
      if (!typeSel.value) throw new ApiError(400, "choose a document type");
      const fd = new FormData();
      fd.append("action", "upload");
      fd.append("job_id", String(job.ID));
      fd.append("file_type_id", typeSel.value);
      fd.append("file", file, file.name);
      const r = await session.api.upload<Answer<"documents", "$post">>("/api/jobs/documents", fd, progress);
      await load();
      return r.message;
    },
  );
  replace(box, title, list, out, form);
  await load();
  return box;
}

function emptyStages(labels: string[]) {
  if (labels.length === 0) return null;
  if (labels.length === PHOTO_TYPES.length)
    return h("p", { class: "muted small", "data-testid": "photos-empty" }, "No photos or videos yet.");
  const list = labels.length === 1 ? labels[0] : `${labels.slice(0, -1).join(", ")} or ${labels.at(-1)}`;
  return h("p", { class: "muted small", "data-testid": "photos-empty" }, `Nothing under ${list} yet.`);
}
