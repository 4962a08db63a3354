/**
 * The phone's own store (IndexedDB through `idb`): the jobs this contractor has seen, the work
 * queued while offline (in order, each with its Idempotency-Key, photos as Blobs), and the API
 * token, so the installed app opens and sends its queue after a restart without signal. Only what
 * the field screens show is kept (the API never gives a contractor the private contact); sign-out
 * deletes the whole database.
 */
import { type DBSchema, deleteDB, type IDBPDatabase, openDB } from "idb";
import type { JobDetail, Note } from "../types";

const DB_NAME = "propops-field";

/** A job as the phone keeps it: the fields the field screens render, and when it was read. */
export interface SeenJob {
  uuid: string;
  job: FieldJob;
  /** Case notes as last read (text, author, time): shown offline under the queued ones. */
  notes: Pick<Note, "uuid" | "message" | "created_by_name" | "created_at">[];
  seen_at: string;
}

/** The subset of the API's job detail the field mode shows (no budgets, no private contact). */
export type FieldJob = Pick<
  JobDetail,
  | "ID"
  | "uuid"
  | "job_ref"
  | "job_title"
  | "job_description"
  | "status_id"
  | "status_name"
  | "priority_name"
  | "job_type_name"
  | "full_address"
  | "date_works_start_date"
  | "date_works_end_date"
  | "sla_deadline"
  | "sla_state"
  | "photos_count"
  | "access_details"
  | "private_contact_name"
  | "private_contact_email"
  | "accepted_at"
  | "completed_at"
  | "next_statuses"
  | "updated_at"
>;

export type WorkAction = "accept" | "start" | "complete";

interface Base {
  seq?: number;
  job_uuid: string;
  job_ref: string;
  /** Sent with the request: a resend after a lost answer is a replay, never a second note or photo. */
  key: string;
  queued_at: string;
  /** queued: waits its turn; conflict: the API refused it, the contractor decides (never dropped). */
  state: "queued" | "conflict";
  error?: string;
  /** What the refusal said about the job (a refused transition names its current status). */
  current_status?: string;
}
export interface NoteItem extends Base {
  kind: "note";
  message: string;
}
export interface PhotoItem extends Base {
  kind: "photo";
  job_id: number;
  photo_type: "before" | "during" | "after" | "other";
  file: Blob;
  name: string;
  /** The tus upload's URL once created: a resume continues there, at the server's offset. */
  upload_url?: string;
  sent_bytes?: number;
}
export interface WorkItem extends Base {
  kind: "work";
  action: WorkAction;
  completion_note?: string;
}
export type QueueItem = NoteItem | PhotoItem | WorkItem;
export type NewItem = Omit<NoteItem, "seq"> | Omit<PhotoItem, "seq"> | Omit<WorkItem, "seq">;

interface FieldDb extends DBSchema {
  meta: { key: string; value: string };
  jobs: { key: string; value: SeenJob };
  queue: { key: number; value: QueueItem; indexes: { job: string } };
}

let db: Promise<IDBPDatabase<FieldDb>> | undefined;

function open() {
  db ??= openDB<FieldDb>(DB_NAME, 1, {
    upgrade(d) {
      d.createObjectStore("meta");
      d.createObjectStore("jobs", { keyPath: "uuid" });
      d.createObjectStore("queue", { keyPath: "seq", autoIncrement: true }).createIndex("job", "job_uuid");
    },
  });
  return db;
}

export const store = {
  /** The kept token; asked before anything is stored, so a signed-out phone gets no empty database back. */
  async token() {
    if (!db && "databases" in indexedDB) {
      const all = await indexedDB.databases().catch(() => undefined);
      if (all && !all.some((d) => d.name === DB_NAME)) return undefined;
    }
    return (await open()).get("meta", "token");
  },
  async setToken(token: string) {
    await (await open()).put("meta", token, "token");
  },
  async forgetToken() {
    await (await open()).delete("meta", "token");
  },
  /** The status ids the API marks completed, closed, cancelled or archived (GET /api/jobs/statuses). */
  async finishedStatuses(): Promise<Set<number>> {
    const raw = await (await open()).get("meta", "finished_statuses");
    return new Set(raw ? (JSON.parse(raw) as number[]) : []);
  },
  async setFinishedStatuses(ids: number[]) {
    await (await open()).put("meta", JSON.stringify(ids), "finished_statuses");
  },
  async jobs(): Promise<SeenJob[]> {
    return (await open()).getAll("jobs");
  },
  async job(uuid: string) {
    return (await open()).get("jobs", uuid);
  },
  async putJob(seen: SeenJob) {
    await (await open()).put("jobs", seen);
  },
  /** Jobs no longer in this contractor's list (reassigned, deleted): not kept on the phone. */
  async keepOnly(uuids: Set<string>) {
    const tx = (await open()).transaction("jobs", "readwrite");
    for (const key of await tx.store.getAllKeys()) if (!uuids.has(key)) await tx.store.delete(key);
    await tx.done;
  },
  /** The queue, oldest first (the order the work was done in, and the order it is sent). */
  async queue(): Promise<QueueItem[]> {
    return (await open()).getAll("queue");
  },
  async enqueue(item: NewItem): Promise<number> {
    return (await open()).add("queue", item as QueueItem);
  },
  async update(item: QueueItem) {
    await (await open()).put("queue", item);
  },
  async remove(seq: number) {
    await (await open()).delete("queue", seq);
  },
  /** Sign-out: nothing of this contractor's stays on the phone. */
  async wipe() {
    const d = await db;
    d?.close();
    db = undefined;
    await deleteDB(DB_NAME);
  },
};

/** The job detail reduced to what the phone keeps. */
export function fieldJob(j: JobDetail): FieldJob {
  return {
    ID: j.ID,
    uuid: j.uuid,
    job_ref: j.job_ref,
    job_title: j.job_title,
    job_description: j.job_description,
    status_id: j.status_id,
    status_name: j.status_name,
    priority_name: j.priority_name,
    job_type_name: j.job_type_name,
    full_address: j.full_address,
    date_works_start_date: j.date_works_start_date,
    date_works_end_date: j.date_works_end_date,
    sla_deadline: j.sla_deadline,
    sla_state: j.sla_state,
    photos_count: j.photos_count,
    access_details: j.access_details,
    private_contact_name: j.private_contact_name,
    private_contact_email: j.private_contact_email,
    accepted_at: j.accepted_at,
    completed_at: j.completed_at,
    next_statuses: j.next_statuses,
    updated_at: j.updated_at,
  };
}
