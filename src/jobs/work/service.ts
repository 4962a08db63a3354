import { and, count, eq, isNull, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { caseNotes, jobs, photos } from "../../db/schema";
import type { Principal } from "../../domain/caller";
import { conflict, forbidden } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable, jobForChangeQuery, jobForChangeRow } from "../../domain/job-access";
import {
  assertTransition,
  type Channel,
  nextStatuses,
  STATUS,
  STATUS_NAMES,
  statusRef,
  TransitionError,
  transitionColumns,
} from "../../domain/lifecycle";
import { encryptNote } from "../../domain/notes";
import { slaDeadlineFrom } from "../../domain/sla";

/**
 * The work on a job, as its assigned contractor and the office report it (POST /api/jobs/work):
 * accept or decline the assignment, start, complete with evidence, and the office's sign-off or
 * send-back. Status moves are transitions of the lifecycle (src/domain/lifecycle.ts), which says
 * who may take each and what it requires; accept and decline change the assignment, not the status.
 */

const ADMISSION = { permission: "api.jobs.work.manage" } as const;

/** Statuses in which the assigned contractor may still accept or decline: the work has not started. */
const BEFORE_WORK: ReadonlySet<number> = new Set([STATUS.OPEN, STATUS.AWAITING_APPROVAL, STATUS.APPROVED]);

const RACE = "The job changed while it was being updated; read it again and retry";

export interface WorkAnswer {
  job_uuid: string;
  job_ref: string;
  status_id: number;
  status_name: string;
  /** Where this caller may take the job next (empty for a contractor who declined it). */
  next_statuses: ReturnType<typeof nextStatuses>;
}

/** The job with what the work operations look at, and its "after" photos, in one read. */
async function loadJob(scope: Scope, jobUuid: string) {
  const db = scope.db;
  const visible = await scope.jobVisible();
  const jobId = sql`(SELECT ${jobs.id} FROM ${jobs} WHERE ${jobs.uuid} = ${jobUuid})`;
  const [rows, after] = await scope.read([
    jobForChangeQuery(db, { uuid: jobUuid }, visible),
    db
      .select({ n: count() })
      .from(photos)
      .where(and(eq(photos.jobId, jobId), eq(photos.photoType, "after"))),
  ]);
  const found = changeable(jobForChangeRow(rows));
  return { ...found, afterPhotos: after[0]?.n ?? 0 };
}

type Loaded = Awaited<ReturnType<typeof loadJob>>;

const answer = (job: Loaded["job"], statusId: number, contractorId: number | null, caller: Principal): WorkAnswer => ({
  job_uuid: job.uuid,
  job_ref: job.jobRef,
  status_id: statusId,
  status_name: STATUS_NAMES[statusId] ?? `#${statusId}`,
  next_statuses: nextStatuses({ ...job, statusId, contractorId }, caller),
});

/** Only the contractor the job is assigned to answers for the assignment (others: 403). */
function assertAssignedContractor(caller: Principal, job: Loaded["job"], what: string) {
  if (caller.role !== "contractor" || caller.contractorId === null || caller.contractorId !== job.contractorId) {
    throw forbidden(`Only the contractor assigned to this job can ${what} it`);
  }
}

function assertBeforeWork(loaded: Loaded, caller: Principal, what: string) {
  if (!BEFORE_WORK.has(loaded.job.statusId)) {
    throw new TransitionError(
      "TRANSITION_NOT_ALLOWED",
      `A job that is ${loaded.status.name} can no longer be ${what}: the work has started`,
      loaded.job,
      caller,
    );
  }
}

/** The assigned contractor takes the job on: `accepted_at` is set (starting the work requires it). */
export const acceptJob = useCase(ADMISSION, async (scope, input: { job_uuid: string }): Promise<WorkAnswer> => {
  const loaded = await loadJob(scope, input.job_uuid);
  const caller = scope.caller;
  const { job } = loaded;
  assertAssignedContractor(caller, job, "accept");
  assertBeforeWork(loaded, caller, "accepted");
  if (job.acceptedAt) throw conflict(`You accepted this job at ${job.acceptedAt}`);
  const now = scope.services.clock.iso();
  const db = scope.db;
  const [update] = await db.batch([
    db
      .update(jobs)
      .set({ acceptedAt: now, updatedAt: now })
      .where(
        and(eq(jobs.id, job.id), eq(jobs.contractorId, job.contractorId ?? -1), isNull(jobs.acceptedAt), eq(jobs.statusId, job.statusId)),
      ),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: "job.accepted",
        changes: { accepted_at: { before: null, after: now }, contractor_id: job.contractorId },
      },
      { ifChanged: true },
    ),
  ]);
  if (update.meta.changes === 0) throw conflict(RACE);
  return answer({ ...job, acceptedAt: now }, job.statusId, job.contractorId, caller);
});

/**
 * The assigned contractor turns the job down, with a reason: the job is unassigned (the office
 * assigns another contractor) and the event tells the office why.
 */
export const declineJob = useCase(ADMISSION, async (scope, input: { job_uuid: string; reason: string }): Promise<WorkAnswer> => {
  const loaded = await loadJob(scope, input.job_uuid);
  const caller = scope.caller;
  const { job } = loaded;
  assertAssignedContractor(caller, job, "decline");
  assertBeforeWork(loaded, caller, "declined");
  const now = scope.services.clock.iso();
  const db = scope.db;
  const [update] = await db.batch([
    db
      .update(jobs)
      .set({ contractorId: null, acceptedAt: null, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.contractorId, job.contractorId ?? -1), eq(jobs.statusId, job.statusId))),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: "job.declined",
        changes: {
          contractor_id: { before: job.contractorId, after: null },
          ...(job.acceptedAt ? { accepted_at: { before: job.acceptedAt, after: null } } : {}),
          decline_reason: { before: null, after: input.reason },
        },
      },
      { ifChanged: true },
    ),
  ]);
  if (update.meta.changes === 0) throw conflict(RACE);
  return answer(job, job.statusId, null, caller);
});

interface MoveInput {
  via: Extract<Channel, "start" | "complete" | "sign_off" | "send_back">;
  to: number;
  action: string;
  reason?: string | null;
  completionNote?: string | null;
}

/** A status move of the work: the lifecycle decides, the move and its event share one batch. */
async function move(scope: Scope, jobUuid: string, m: MoveInput): Promise<WorkAnswer> {
  const loaded = await loadJob(scope, jobUuid);
  const caller = scope.caller;
  const { job, slaHours } = loaded;
  const tr = assertTransition(job, m.to, caller, {
    via: m.via,
    reason: m.reason,
    completionNote: m.completionNote,
    afterPhotos: loaded.afterPhotos,
  });
  const now = scope.services.clock.iso();
  const columns = transitionColumns(tr, caller, now, (start) => slaDeadlineFrom(start, slaHours));
  const db = scope.db;
  const before = job as unknown as Record<string, unknown>;
  const changes: Record<string, unknown> = {
    status_id: { before: job.statusId, after: m.to },
    status: { before: statusRef(job.statusId).status_name, after: STATUS_NAMES[m.to] },
  };
  const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  for (const [key, value] of Object.entries(columns)) {
    if (key !== "statusId" && (before[key] ?? null) !== value) changes[snake(key)] = { before: before[key] ?? null, after: value };
  }
  if (m.reason) changes.reason = { before: null, after: m.reason };
  const noteUuid = m.completionNote ? crypto.randomUUID() : null;
  if (noteUuid) changes.completion_note_uuid = noteUuid;

  const note = m.completionNote && noteUuid ? await completionNote(scope, job, noteUuid, m.completionNote, now) : [];
  const [update] = await db.batch([
    // Guarded on the status read: of two concurrent moves only the first takes effect.
    db
      .update(jobs)
      .set({ ...columns, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId))),
    recordEvent(db, { jobId: job.id, jobUuid: job.uuid, actor: caller, action: m.action, changes }, { ifChanged: true }),
    ...note,
  ]);
  if (update.meta.changes === 0) throw conflict(RACE);
  return answer(job, m.to, job.contractorId, caller);
}

/**
 * The completion note, as a case note of the job (encrypted like every note, visible in the
 * job's notes), written only if the completion took effect (the statement before it changed a row).
 */
async function completionNote(scope: Scope, job: { id: number; uuid: string }, uuid: string, text: string, now: string) {
  const jobId = job.id;
  const sealed = await encryptNote(await scope.services.cipher(), uuid, { message: text, text });
  const caller = scope.caller;
  const db = scope.db;
  // Columns as named: inserted through SELECT … WHERE changes() > 0 (the event's insert changed one row).
  return [
    db
      .insert(caseNotes)
      .select(
        sql`SELECT NULL, ${uuid}, ${jobId}, NULL, ${sealed.message}, ${sealed.messageText}, 0, 0, 0, 'api', 'none', NULL, NULL, NULL, NULL, NULL, ${caller.userId}, ${caller.name}, ${now}, ${now} WHERE changes() > 0`,
      ),
    recordEvent(
      db,
      {
        jobId,
        jobUuid: job.uuid,
        actor: caller,
        action: "case_note.created",
        changes: { note_uuid: uuid, message: { changed: true }, send_email: false, is_pinned: false, attachments: [], completion: true },
      },
      { ifChanged: true },
    ),
  ];
}

/** Approved → In Progress: the contractor (once accepted) or the office says the work has begun. */
export const startJob = useCase(ADMISSION, (scope, input: { job_uuid: string }) =>
  move(scope, input.job_uuid, { via: "start", to: STATUS.IN_PROGRESS, action: "job.started" }),
);

/** In Progress → Completed, with the evidence the job type requires ("after" photos, a note). */
export const completeJob = useCase(ADMISSION, (scope, input: { job_uuid: string; completion_note: string | null }) =>
  move(scope, input.job_uuid, { via: "complete", to: STATUS.COMPLETED, action: "job.completed", completionNote: input.completion_note }),
);

/** Completed → Closed: the office signs the work off. */
export const signOffJob = useCase(ADMISSION, (scope, input: { job_uuid: string }) =>
  move(scope, input.job_uuid, { via: "sign_off", to: STATUS.CLOSED, action: "job.signed_off" }),
);

/** Completed → In Progress: the office sends the work back, with a reason (the SLA clock restarts). */
export const sendBackJob = useCase(ADMISSION, (scope, input: { job_uuid: string; reason: string }) =>
  move(scope, input.job_uuid, { via: "send_back", to: STATUS.IN_PROGRESS, action: "job.sent_back", reason: input.reason }),
);
