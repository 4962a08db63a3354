/**
 * Reading jobs into the phone's store and sending the queued work, in the order it was done.
 * Every queued write carries the Idempotency-Key it was given when queued, so a resend after a
 * lost answer replays the first answer; photos go up through tus (tus-js-client against
 * /api/uploads), resuming at the server's offset after a cut, and fall back to the plain
 * multipart upload (with its key) only where the server offers no tus endpoint. A refusal (409
 * refused transition, 412, 422, 403, 404…) is kept on the item as a conflict for the contractor
 * to resolve and holds back that job's later items; a lost connection stops the run until the
 * phone is online again. The rules themselves are the API's: nothing here decides a transition.
 */
import { DetailedError, Upload } from "tus-js-client";
import type { Answer, JobOne, Note, Read } from "../types";
import { FieldApi, FieldError, offlineError } from "./net";
import { fieldJob, type PhotoItem, type QueueItem, type SeenJob, store } from "./store";

/** 5 MiB, the server's R2 part size: a cut costs at most one chunk. */
const CHUNK = 5 * 1024 * 1024;
type JobList = { data: { uuid: string }[]; count: number };
type WorkAnswer = Answer<"work", "$post">;

export type SyncState = { phase: "idle" | "sending" | "waiting" | "offline"; message: string };

export class Sync {
  state: SyncState = { phase: "idle", message: "" };
  private run: Promise<void> | undefined;
  private again = false;
  private tus: Promise<boolean> | undefined;
  private listeners = new Set<() => void>();
  private retry: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;

  constructor(readonly api: FieldApi) {
    window.addEventListener("online", () => {
      this.failures = 0;
      void this.flush();
    });
    window.addEventListener("offline", () => this.set("offline", "Offline: work is kept on this phone and sent when the signal returns"));
  }

  onChange(fn: () => void) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(phase: SyncState["phase"], message: string) {
    this.state = { phase, message };
    for (const fn of this.listeners) fn();
  }

  /** Reads this contractor's jobs (each in full: the list leaves out access details and next steps) into the store. */
  async refreshJobs(): Promise<void> {
    try {
      await this.readJobs();
    } catch (err) {
      if (err instanceof FieldError && err.status === 0) this.set("offline", "Offline: showing the jobs as last read");
      throw err;
    }
  }

  private async readJobs() {
    const [list, statuses] = await Promise.all([
      this.api.get<JobList>("/api/jobs/manage", { action: "list", limit: 200 }),
      this.api.get<Read<"statuses">>("/api/jobs/statuses", { action: "list" }).catch(() => undefined),
    ]);
    if (statuses) {
      const done = statuses.data.filter((s) => s.is_completed || s.is_closed || s.is_cancelled || s.is_archived);
      await store.setFinishedStatuses(done.map((s) => s.ID));
    }
    await Promise.all(list.data.map((j) => this.refreshJob(j.uuid)));
    await store.keepOnly(new Set(list.data.map((j) => j.uuid)));
  }

  async refreshJob(uuid: string): Promise<SeenJob> {
    const [one, notes] = await Promise.all([
      this.api.get<JobOne>("/api/jobs/manage", { action: "get", uuid }),
      this.api.get<{ data: Note[] }>("/api/jobs/case-notes", { action: "list", job_uuid: uuid }),
    ]);
    const seen: SeenJob = {
      uuid,
      job: fieldJob(one.data),
      notes: notes.data.map((n) => ({ uuid: n.uuid, message: n.message, created_by_name: n.created_by_name, created_at: n.created_at })),
      seen_at: new Date().toISOString(),
    };
    await store.putJob(seen);
    return seen;
  }

  /** Sends what is queued; one run at a time (a call during a run asks for one more pass). */
  flush(): Promise<void> {
    if (this.run) {
      this.again = true;
      return this.run;
    }
    this.run = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again);
      } finally {
        this.run = undefined;
      }
    })();
    return this.run;
  }

  private async pass() {
    clearTimeout(this.retry);
    const items = await store.queue();
    if (items.length === 0) return this.set("idle", "");
    if (!navigator.onLine) return this.set("offline", "Offline: work is kept on this phone and sent when the signal returns");
    const held = new Set<string>();
    const sent = new Set<string>();
    for (const item of items) {
      if (held.has(item.job_uuid)) continue;
      if (item.state === "conflict") {
        held.add(item.job_uuid);
        continue;
      }
      this.set("sending", `Sending ${label(item)} for ${item.job_ref}…`);
      try {
        await this.send(item);
        await store.remove(item.seq as number);
        sent.add(item.job_uuid);
      } catch (err) {
        const e = err instanceof FieldError ? err : new FieldError(0, err instanceof Error ? err.message : String(err), "", []);
        if (e.appliedEarlier) {
          await store.remove(item.seq as number);
          sent.add(item.job_uuid);
          continue;
        }
        if (e.transient) {
          // Order matters (photos before the completion that needs them): stop here, try again
          // later, backing off to 30 s while there is no answer (and at once on the online event).
          this.failures++;
          this.retry = setTimeout(() => void this.flush(), Math.min(30_000, 2_500 * 2 ** this.failures));
          await this.refreshSent(sent);
          return this.set(e.status === 0 ? "offline" : "waiting", `Not sent yet: ${e.message}`);
        }
        const current = (e.body.current_status as { status_name?: string } | undefined)?.status_name;
        await store.update({ ...item, state: "conflict", error: e.message, current_status: current });
        held.add(item.job_uuid);
        // The job as the API has it now, so the contractor decides on what is true.
        sent.add(item.job_uuid);
      }
      this.failures = 0;
      this.set("sending", "");
    }
    await this.refreshSent(sent);
    const left = (await store.queue()).length;
    this.set("idle", left ? `${left} item${left === 1 ? "" : "s"} need${left === 1 ? "s" : ""} your decision` : "");
  }

  /** The jobs whose work went through or was refused, read again: their status and next steps are the API's. */
  private async refreshSent(sent: Set<string>) {
    await Promise.all([...sent].map((uuid) => this.refreshJob(uuid).catch(() => undefined)));
  }

  private async send(item: QueueItem) {
    switch (item.kind) {
      case "note":
        await this.api.post("/api/jobs/case-notes", { action: "create", job_uuid: item.job_uuid, message: item.message }, item.key);
        return;
      case "work": {
        const body: Record<string, string> = { action: item.action, job_uuid: item.job_uuid };
        if (item.completion_note) body.completion_note = item.completion_note;
        await this.api.post<WorkAnswer>("/api/jobs/work", body, item.key);
        return;
      }
      case "photo":
        if (await this.tusAvailable()) await this.tusUpload(item);
        else await this.multipart(item);
        return;
    }
  }

  /** tus discovery (OPTIONS /api/uploads), asked once per page. */
  private tusAvailable(): Promise<boolean> {
    this.tus ??= fetch("/api/uploads", { method: "OPTIONS", headers: { "Tus-Resumable": "1.0.0" }, cache: "no-store" })
      .then((r) => r.ok && r.headers.get("Tus-Version") !== null)
      .catch(() => {
        this.tus = undefined;
        throw offlineError();
      });
    return this.tus;
  }

  private async tusUpload(item: PhotoItem) {
    const csrf = await this.api.csrfToken();
    let saved = item;
    // The URL is on the phone before the upload can finish, so the item is never written back after its removal.
    let saving: Promise<void> = Promise.resolve();
    await new Promise<void>((resolve, reject) => {
      const upload: Upload = new Upload(item.file, {
        endpoint: "/api/uploads",
        uploadUrl: item.upload_url ?? null,
        chunkSize: CHUNK,
        // The queue is the retry loop (it keeps the order and survives a reload).
        retryDelays: [],
        storeFingerprintForResuming: false,
        metadata: {
          filename: item.name,
          filetype: item.file.type,
          job_id: String(item.job_id),
          target: "photo",
          photo_type: item.photo_type,
        },
        headers: { Authorization: `Bearer ${this.api.token}` },
        onBeforeRequest: (req) => {
          // Creation is a write like any other (CSRF); the chunks carry the bearer token alone.
          if (req.getMethod() === "POST") req.setHeader("X-CSRF-Token", csrf);
        },
        onUploadUrlAvailable: () => {
          saved = { ...saved, upload_url: upload.url ?? undefined };
          saving = store.update(saved);
        },
        onProgress: (sentBytes, total) => {
          this.set("sending", `Uploading ${item.name} for ${item.job_ref}: ${Math.round((sentBytes / total) * 100)}%`);
        },
        onSuccess: () => void saving.then(resolve, resolve),
        onError: (err) => void saving.finally(() => reject(tusError(err))),
      });
      upload.start();
    });
  }

  /** The plain upload, for a server without tus: the same Idempotency-Key makes a resend a replay. */
  private async multipart(item: PhotoItem) {
    const form = new FormData();
    form.set("action", "upload");
    form.set("job_id", String(item.job_id));
    form.set("photo_type", item.photo_type);
    form.set("file", new File([item.file], item.name, { type: item.file.type }));
    await this.api.post("/api/jobs/photos", form, item.key);
  }
}

/** tus-js-client's error → a FieldError (status 0 when no answer came back). */
function tusError(err: Error): FieldError {
  if (err instanceof DetailedError && err.originalResponse) {
    const res = err.originalResponse;
    try {
      new FieldApi("").parse(res.getStatus(), res.getBody() ?? "");
    } catch (e) {
      if (e instanceof FieldError) return e;
    }
  }
  return navigator.onLine
    ? new FieldError(0, `The upload was interrupted (${err.message}); it resumes where it stopped`, "", [])
    : offlineError();
}

export function label(item: QueueItem): string {
  switch (item.kind) {
    case "note":
      return "a note";
    case "photo":
      return item.file.type.startsWith("video/") ? "a video" : "a photo";
    case "work":
      return { accept: "the acceptance", start: "the start", complete: "the completion" }[item.action];
  }
}
