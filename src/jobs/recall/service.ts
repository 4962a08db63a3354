import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { auditEvents, jobStatuses, jobs, recalls } from "../../db/schema";
import { ApiError, conflict } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable, jobForChange, jobStateQuery } from "../../domain/job-access";
import { assertTransition, STATUS, TransitionError } from "../../domain/lifecycle";
import { slaDeadlineFrom } from "../../domain/sla";

/** Recalls and their closing: the recall route's permission (mark-recall-completed has its own). */
const RECALL: Admission = { permission: "api.jobs.recall.manage" };

export const NOT_A_RECALL = "This job is not marked as a recall";

const RACE = "The job changed while it was being updated; read it again and retry";

/**
 * Opens a recall cycle on a completed job: status → Recalled, `is_recall` = 1, the SLA clock
 * restarts (deadline = now + the priority's SLA hours), `completed_at` cleared, and a recall row
 * (reason, who, when, the status it left) written with the audit event, all in one batch.
 */
export const raiseRecall = useCase(RECALL, async (ctx: Scope, { job_uuid: jobUuid, reason }: { job_uuid: string; reason: string }) => {
  const { job, status, slaHours } = await jobForChange(ctx, { uuid: jobUuid });
  if (job.isRecall === 1) throw conflict("This job is already marked as a recall");
  const caller = ctx.caller;
  if (!status.isCompleted) {
    throw new TransitionError("TRANSITION_NOT_ALLOWED", `Only a completed job can be recalled; this job is ${status.name}`, job, caller);
  }
  assertTransition(job, STATUS.RECALLED, caller, { via: "recall", reason });
  const now = ctx.services.clock.iso();
  const slaDeadline = slaDeadlineFrom(now, slaHours);
  const db = ctx.db;
  const results = await db.batch([
    // Guarded on the state read above: a concurrent recall or status change makes this a no-op.
    db
      .update(jobs)
      .set({ isRecall: 1, statusId: STATUS.RECALLED, slaStartedAt: now, slaDeadline, completedAt: null, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId), eq(jobs.isRecall, 0))),
    // Only if the guarded update took effect. Columns in table order: id, uuid, job_id, reason,
    // previous_status_id, raised_by, created_at, outcome, closed_by, closed_at.
    db
      .insert(recalls)
      .select(
        sql`SELECT NULL, ${crypto.randomUUID()}, ${job.id}, ${reason}, ${job.statusId}, ${caller.userId}, ${now}, NULL, NULL, NULL WHERE changes() > 0`,
      ),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid,
        actor: caller,
        action: "job.recalled",
        changes: {
          status_id: { before: job.statusId, after: STATUS.RECALLED },
          is_recall: { before: 0, after: 1 },
          recall_reason: { before: null, after: reason },
          completed_at: { before: job.completedAt, after: null },
          sla_started_at: { before: job.slaStartedAt, after: now },
          sla_deadline: { before: job.slaDeadline, after: slaDeadline },
        },
      },
      { ifChanged: true },
    ),
  ]);
  if ((results[0] as D1Result).meta.changes === 0) throw conflict(RACE);
  return job;
});

export type RecallOutcome = "completed" | "cancelled";

/**
 * Closes the open recall cycle. `completed`: the job is completed again now (first completed
 * status, `completed_at` = now). `cancelled`: the recall was raised in error, so the job returns
 * to the status it had before the recall with its original completion time (read from the
 * recall's own audit event). Either way `is_recall` is cleared and the recall row gets its
 * outcome, in one batch with the audit event.
 */
export interface CloseRecallInput {
  job_uuid: string;
  outcome: RecallOutcome;
  /** Kept in the audit trail. */
  note?: string;
}

/** Closing a recall through POST /api/jobs/recall (is_recall=0); mark-recall-completed admits its own way. */
export const closeRecall = useCase(RECALL, (ctx: Scope, input: CloseRecallInput) => closeRecallCycle(ctx, input));

/** The work of closing a recall, for the use cases that admit it (closeRecall, completeRecall). */
export async function closeRecallCycle(ctx: Scope, { job_uuid: jobUuid, outcome, note }: CloseRecallInput) {
  const visible = await ctx.jobVisible();
  const db = ctx.db;
  const jobIdOf = sql`(SELECT ${jobs.id} FROM ${jobs} WHERE ${jobs.uuid} = ${jobUuid})`;
  // The job and what closing its recall needs, in one round trip (with the token check).
  const [jobRows, openRecalls, completedStatuses, raisedEvents] = await ctx.read([
    jobStateQuery(ctx.db, jobUuid, visible),
    db
      .select({ previousStatusId: recalls.previousStatusId })
      .from(recalls)
      .where(and(eq(recalls.jobId, jobIdOf), isNull(recalls.outcome)))
      .orderBy(desc(recalls.id))
      .limit(1),
    db
      .select({ id: jobStatuses.id })
      .from(jobStatuses)
      .where(and(eq(jobStatuses.isCompleted, true), eq(jobStatuses.isArchived, false)))
      .orderBy(asc(jobStatuses.sortOrder))
      .limit(1),
    db
      .select({ before: sql<string | null>`json_extract(${auditEvents.changes}, '$.completed_at.before')` })
      .from(auditEvents)
      .where(and(eq(auditEvents.jobUuid, jobUuid), eq(auditEvents.action, "job.recalled")))
      .orderBy(desc(auditEvents.id))
      .limit(1),
  ]);
  const job = changeable(jobRows);
  if (job.isRecall !== 1) throw conflict(NOT_A_RECALL);
  const recall = openRecalls[0];
  const completedStatusId = completedStatuses[0]?.id;
  if (completedStatusId === undefined) throw new ApiError("INTERNAL", "No completed status is configured");

  const now = ctx.services.clock.iso();
  const targetStatusId = outcome === "cancelled" ? (recall?.previousStatusId ?? completedStatusId) : completedStatusId;
  const completedAt = outcome === "cancelled" ? (raisedEvents[0]?.before ?? now) : now;
  const caller = ctx.caller;
  assertTransition(job, targetStatusId, caller, { via: outcome === "cancelled" ? "recall_cancel" : "recall_completion" });
  const results = await db.batch([
    db
      .update(jobs)
      .set({ isRecall: 0, statusId: targetStatusId, completedAt, updatedAt: now })
      .where(and(eq(jobs.id, job.id), eq(jobs.statusId, job.statusId), eq(jobs.isRecall, 1))),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid,
        actor: caller,
        action: outcome === "completed" ? "job.recall_completed" : "job.recall_cancelled",
        changes: {
          status_id: { before: job.statusId, after: targetStatusId },
          is_recall: { before: 1, after: 0 },
          completed_at: { before: job.completedAt, after: completedAt },
          ...(note ? { note: { before: null, after: note } } : {}),
        },
      },
      { ifChanged: true },
    ),
    // Runs only if the guarded update (and so its audit insert) took effect.
    db
      .update(recalls)
      .set({ outcome, closedBy: caller.userId, closedAt: now })
      .where(and(eq(recalls.jobId, job.id), isNull(recalls.outcome), sql`changes() > 0`)),
  ]);
  if ((results[0] as D1Result).meta.changes === 0) throw conflict(RACE);
  return job;
}
