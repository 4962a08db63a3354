import { and, asc, eq, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { approvalDecisions, jobStatuses, jobs } from "../../db/schema";
import { ApiError, conflict, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable } from "../../domain/job-access";
import { assertTransition, TransitionError } from "../../domain/lifecycle";

export type GateDecision = "approve" | "reject";

type Status = typeof jobStatuses.$inferSelect;

/**
 * Where a decision moves a job: the status's `approve_to_status_id` / `reject_to_status_id`; when
 * unset, approve goes to the next status by sort order and reject to the previous one.
 */
export function gateTarget(statuses: Status[], from: Status, decision: GateDecision): Status | undefined {
  const configured = decision === "approve" ? from.approveToStatusId : from.rejectToStatusId;
  if (configured != null) return statuses.find((s) => s.id === configured);
  const ordered = [...statuses].sort((a, b) => a.sortOrder - b.sortOrder);
  const i = ordered.findIndex((s) => s.id === from.id);
  return decision === "approve" ? ordered[i + 1] : i > 0 ? ordered[i - 1] : undefined;
}

/**
 * Decides the approval gate of a job in a status that requires approval: moves it on (approve) or
 * back (reject), records the decision (`approval_decisions`) and the audit event, in one batch.
 */
export const decideApprovalGate = useCase(
  {
    permission: "api.jobs.manage.manage",
    policy: { rule: "approval.decide", message: "Only managers and admins can decide approval gates" },
  },
  async (s: Scope, { job_uuid: jobUuid, decision, notes = null }: { job_uuid: string; decision: GateDecision; notes?: string | null }) => {
    const db = s.db;
    const visible = await s.jobVisible();
    const [rows, statuses] = await s.read([
      db
        .select({ id: jobs.id, statusId: jobs.statusId, contractorId: jobs.contractorId, completedAt: jobs.completedAt })
        .from(jobs)
        .where(and(eq(jobs.uuid, jobUuid), visible)),
      db.select().from(jobStatuses).orderBy(asc(jobStatuses.sortOrder)),
    ]);
    const caller = s.caller;
    const job = rows[0];
    if (!job) throw notFound("Job");
    const from = statuses.find((s) => s.id === job.statusId);
    if (!from) throw new ApiError("INTERNAL", "Job has an unknown status");
    changeable(from);
    if (!from.requiresApproval) {
      throw new TransitionError(
        "TRANSITION_NOT_ALLOWED",
        `This job is not at an approval gate; its status (${from.name}) does not require approval`,
        job,
        caller,
      );
    }
    const to = gateTarget(statuses, from, decision);
    if (!to) throw new ApiError("INTERNAL", `The workflow defines no status to ${decision} ${from.name} to`);
    // The gate's move is a transition of the lifecycle like any other (src/domain/lifecycle.ts).
    assertTransition(job, to.id, caller, { via: "approval_gate" });

    const now = s.services.clock.iso();
    const completedAt = to.isCompleted ? now : null;
    const results = await db.batch([
      // Guarded on the status read: of two concurrent decisions, only the first moves the job.
      db
        .update(jobs)
        .set({ statusId: to.id, completedAt, updatedAt: now })
        .where(and(eq(jobs.id, job.id), eq(jobs.statusId, from.id))),
      recordEvent(
        db,
        {
          jobId: job.id,
          jobUuid,
          actor: caller,
          action: decision === "approve" ? "job.approval_approved" : "job.approval_rejected",
          changes: {
            status_id: { before: from.id, after: to.id },
            ...(job.completedAt !== completedAt ? { completed_at: { before: job.completedAt, after: completedAt } } : {}),
            ...(notes ? { approval_notes: { before: null, after: notes } } : {}),
          },
        },
        { ifChanged: true },
      ),
      // Only if the move (and so its audit insert) took effect. Columns in table order: id, job_id,
      // decision, notes, from_status_id, to_status_id, decided_by, created_at.
      db
        .insert(approvalDecisions)
        .select(sql`SELECT NULL, ${job.id}, ${decision}, ${notes}, ${from.id}, ${to.id}, ${caller.userId}, ${now} WHERE changes() > 0`),
    ]);
    if ((results[0] as D1Result).meta.changes === 0) {
      throw conflict("The job changed while the decision was being recorded; read it again and retry");
    }
    return { from, to };
  },
);
