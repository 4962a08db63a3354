import type { Role } from "../auth/permissions";
import { ApiError, type ErrorCode } from "./errors";

/**
 * The job lifecycle as data: which status may follow which, through which channel (operation),
 * taken by whom, requiring what, doing what. Every channel that changes a job's status asks
 * `assertTransition` first (create, update, the approval gate, recalls, the contractor's work
 * operations); nothing else decides it. The README's "Job lifecycle" table is this table.
 *
 * Status ids are fixed by migrations/0002_reference_data.sql (the reference's examples rely on
 * them), so the table names them directly. A status that requires approval (Awaiting Approval) is
 * left only through the approval gate, whatever the caller's role.
 */

export const STATUS = {
  OPEN: 1,
  AWAITING_APPROVAL: 2,
  APPROVED: 3,
  IN_PROGRESS: 4,
  RECALLED: 5,
  COMPLETED: 6,
  CLOSED: 7,
  CANCELLED: 8,
  ARCHIVED: 9,
} as const;
export type StatusId = (typeof STATUS)[keyof typeof STATUS];

export const STATUS_NAMES: Readonly<Record<number, string>> = {
  1: "Open",
  2: "Awaiting Approval",
  3: "Approved",
  4: "In Progress",
  5: "Recalled",
  6: "Completed",
  7: "Closed",
  8: "Cancelled",
  9: "Archived",
};

export const ARCHIVED_STATUS = STATUS.ARCHIVED;
/** A status the lifecycle knows (an unknown id is the references check's to refuse). */
export const isLifecycleStatus = (id: number) => id in STATUS_NAMES;

/** Statuses that require approval (`job_statuses.requires_approval`): only the gate leaves them. */
export const REQUIRES_APPROVAL: ReadonlySet<number> = new Set([STATUS.AWAITING_APPROVAL]);

/** The operations that can change a status. */
export const CHANNELS = {
  create: "POST /api/jobs/manage action=create",
  update: "POST /api/jobs/manage action=update",
  approval_gate: "POST /api/jobs/approval-gate",
  recall: "POST /api/jobs/recall is_recall=1",
  recall_completion: "POST /api/jobs/mark-recall-completed (or /api/jobs/recall is_recall=0)",
  recall_cancel: "POST /api/jobs/recall is_recall=0&action_type=cancel",
  start: "POST /api/jobs/work action=start",
  complete: "POST /api/jobs/work action=complete",
  sign_off: "POST /api/jobs/work action=sign_off",
  send_back: "POST /api/jobs/work action=send_back",
} as const;
export type Channel = keyof typeof CHANNELS;

/**
 * What must hold first: `reason` (sent with the request), `acceptance` (the assigned contractor
 * accepted the job), `after_photos` and `completion_note` (the completion evidence, per job type:
 * `COMPLETION_EVIDENCE`).
 */
export type Requirement = "reason" | "acceptance" | "after_photos" | "completion_note";

/** What the transition does besides moving the status (applied by `transitionColumns`). */
export type Effect =
  /** `completed_at` = now; a move back to open work clears it, closing or archiving keeps it. */
  | "completed_at"
  /** The SLA clock restarts: `sla_started_at` = now, deadline = now + the priority's hours. */
  | "sla_restart"
  /** `started_at` = now. */
  | "started_at"
  /** `signed_off_at` = now, `signed_off_by` = the caller. */
  | "signed_off"
  /** The assigned contractor is told (webhook event naming the contractor). */
  | "notify_contractor";

export interface Transition {
  /** null: the status a job is created in. */
  from: StatusId | null;
  to: StatusId;
  via: Channel;
  /** Who may take it; `contractor` means the contractor assigned to this job, never another. */
  roles: readonly Role[];
  requires: readonly Requirement[];
  effects: readonly Effect[];
}

const MANAGEMENT = ["admin", "manager"] as const satisfies readonly Role[];
const OFFICE = ["admin", "manager", "staff"] as const satisfies readonly Role[];
const MANAGING_SIDE = ["admin", "manager", "staff", "agent"] as const satisfies readonly Role[];

const t = (
  from: StatusId | null,
  to: StatusId,
  via: Channel,
  roles: readonly Role[],
  requires: Requirement[] = [],
  effects: Effect[] = [],
) => ({ from, to, via, roles, requires, effects }) satisfies Transition;

const { OPEN, AWAITING_APPROVAL, APPROVED, IN_PROGRESS, RECALLED, COMPLETED, CLOSED, CANCELLED, ARCHIVED } = STATUS;

/** The lifecycle. Order matters only for how `next_statuses` lists them. */
export const TRANSITIONS: readonly Transition[] = [
  // Created Open or Awaiting Approval by the managing side; created already Approved only by management.
  t(null, OPEN, "create", MANAGING_SIDE),
  t(null, AWAITING_APPROVAL, "create", MANAGING_SIDE),
  t(null, APPROVED, "create", MANAGEMENT),
  t(OPEN, AWAITING_APPROVAL, "update", MANAGING_SIDE),
  t(OPEN, APPROVED, "update", MANAGEMENT),
  t(OPEN, CANCELLED, "update", MANAGING_SIDE),
  // The gate, and only the gate, leaves a status that requires approval (management only).
  t(AWAITING_APPROVAL, APPROVED, "approval_gate", MANAGEMENT),
  t(AWAITING_APPROVAL, OPEN, "approval_gate", MANAGEMENT),
  t(APPROVED, IN_PROGRESS, "start", ["contractor"], ["acceptance"], ["started_at"]),
  t(APPROVED, IN_PROGRESS, "start", OFFICE, [], ["started_at"]),
  t(APPROVED, IN_PROGRESS, "update", OFFICE, [], ["started_at"]),
  t(APPROVED, CANCELLED, "update", MANAGING_SIDE),
  // Completion needs its evidence and sign-off its own operation: an update cannot reach either.
  t(IN_PROGRESS, COMPLETED, "complete", ["contractor", ...OFFICE], ["after_photos", "completion_note"], ["completed_at"]),
  t(IN_PROGRESS, CANCELLED, "update", MANAGEMENT),
  t(COMPLETED, CLOSED, "sign_off", OFFICE, [], ["signed_off"]),
  t(COMPLETED, IN_PROGRESS, "send_back", OFFICE, ["reason"], ["sla_restart", "notify_contractor"]),
  t(COMPLETED, RECALLED, "recall", MANAGING_SIDE, ["reason"], ["sla_restart", "notify_contractor"]),
  t(RECALLED, COMPLETED, "recall_completion", MANAGING_SIDE, [], ["completed_at"]),
  t(RECALLED, COMPLETED, "recall_cancel", MANAGING_SIDE, [], ["completed_at"]),
  t(CLOSED, ARCHIVED, "update", MANAGEMENT),
  t(CANCELLED, ARCHIVED, "update", MANAGEMENT),
  t(CANCELLED, OPEN, "update", MANAGEMENT, [], ["sla_restart"]),
];

/**
 * The evidence a completion needs, per job type (ids of migrations/0002_reference_data.sql):
 * "after" photos (photo_type=after) already on the job, and a completion note sent with it.
 * A type not listed takes the default.
 */
export const COMPLETION_EVIDENCE: Readonly<Record<number, { after_photos: number; completion_note: boolean }>> = {
  // Damp & Mould: every treated area, so at least two.
  10: { after_photos: 2, completion_note: true },
  // Locksmith: a photo of a new lock is a security risk; the note says what was fitted.
  9: { after_photos: 0, completion_note: true },
};
export const DEFAULT_COMPLETION_EVIDENCE = { after_photos: 1, completion_note: true } as const;
export const completionEvidence = (jobTypeId: number) => COMPLETION_EVIDENCE[jobTypeId] ?? DEFAULT_COMPLETION_EVIDENCE;

/** The caller as the lifecycle sees it. */
export interface LifecycleCaller {
  role: Role;
  contractorId: number | null;
}

/** The job as the lifecycle sees it (`statusId` null: not created yet). */
export interface LifecycleJob {
  statusId: number | null;
  contractorId: number | null;
  jobTypeId?: number;
  acceptedAt?: string | null;
}

/** What the request brings: its channel, and the facts the requirements look at. */
export interface TransitionContext {
  via: Channel;
  reason?: string | null;
  completionNote?: string | null;
  /** How many "after" photos the job has (complete). */
  afterPhotos?: number;
}

export const statusRef = (id: number | null) => ({ status_id: id, status_name: id === null ? null : (STATUS_NAMES[id] ?? `#${id}`) });

const mayTake = (tr: Transition, job: LifecycleJob, caller: LifecycleCaller) =>
  tr.roles.includes(caller.role) &&
  (caller.role !== "contractor" || (caller.contractorId !== null && caller.contractorId === job.contractorId));

/** The transitions open to this caller from the job's status (what `next_statuses` lists). */
export function transitionsFor(job: LifecycleJob, caller: LifecycleCaller): Transition[] {
  return TRANSITIONS.filter((tr) => tr.from === job.statusId && mayTake(tr, job, caller));
}

export interface NextStatus {
  status_id: number;
  status_name: string;
  via: Channel;
  operation: string;
  requires: Requirement[];
}

/** `next_statuses` of a job read, an error body and the statuses lookup. */
export function nextStatuses(job: LifecycleJob, caller: LifecycleCaller): NextStatus[] {
  return transitionsFor(job, caller).map((tr) => ({
    status_id: tr.to,
    status_name: STATUS_NAMES[tr.to] ?? `#${tr.to}`,
    via: tr.via,
    operation: CHANNELS[tr.via],
    requires: [...tr.requires],
  }));
}

/** A refusal that teaches: the job's current status and where this caller may take it, and how. */
export class TransitionError extends ApiError {
  constructor(code: ErrorCode, message: string, job: LifecycleJob, caller: LifecycleCaller) {
    super(code, message, [], {
      current_status: job.statusId === null ? null : statusRef(job.statusId),
      next_statuses: nextStatuses(job, caller),
    });
  }
}

/**
 * The one check every channel makes before changing a status: answers the transition (its
 * effects), or throws a 409 naming the current status and the statuses open to this caller.
 * Moving to the status the job already has is not a transition (callers skip the check).
 */
export function assertTransition(job: LifecycleJob, to: number, caller: LifecycleCaller, ctx: TransitionContext): Transition {
  const from = job.statusId;
  const fromName = from === null ? "(new job)" : (STATUS_NAMES[from] ?? `#${from}`);
  const toName = STATUS_NAMES[to] ?? `#${to}`;
  const refuse = (code: ErrorCode, message: string): never => {
    throw new TransitionError(code, message, job, caller);
  };
  if (from !== null && REQUIRES_APPROVAL.has(from) && ctx.via !== "approval_gate") {
    refuse(
      "APPROVAL_REQUIRED",
      `This job is ${fromName}: only the approval gate (POST /api/jobs/approval-gate, by a manager or admin) moves it on`,
    );
  }
  const candidates = TRANSITIONS.filter((tr) => tr.from === from && tr.to === to && tr.via === ctx.via);
  const allowed = candidates.filter((tr) => mayTake(tr, job, caller));
  if (allowed.length === 0) {
    if (from === null) refuse("TRANSITION_NOT_ALLOWED", `A job cannot be created as ${toName} by ${article(caller.role)}`);
    const other = TRANSITIONS.find((tr) => tr.from === from && tr.to === to && mayTake(tr, job, caller));
    if (other)
      refuse("TRANSITION_NOT_ALLOWED", `${fromName} → ${toName} is taken through ${CHANNELS[other.via]}, not ${CHANNELS[ctx.via]}`);
    refuse(
      "TRANSITION_NOT_ALLOWED",
      candidates.length > 0 || TRANSITIONS.some((tr) => tr.from === from && tr.to === to)
        ? `${article(caller.role, true)} cannot move a job from ${fromName} to ${toName}`
        : `A job cannot move from ${fromName} to ${toName}`,
    );
  }
  // Of the rows this caller may take, the first whose requirements hold (else the first's refusal).
  let missing: string[] = [];
  for (const tr of allowed) {
    const lacking = unmet(tr, job, ctx);
    if (lacking.length === 0) return tr;
    if (missing.length === 0) missing = lacking;
  }
  const code: ErrorCode = missing.some((m) => m.startsWith("reason")) ? "BAD_REQUEST" : "TRANSITION_REQUIRES_EVIDENCE";
  if (code === "BAD_REQUEST") throw new ApiError("BAD_REQUEST", "reason: is required", [{ field: "reason", message: "is required" }]);
  return refuse(code, `${fromName} → ${toName} requires ${missing.join(" and ")}`);
}

function unmet(tr: Transition, job: LifecycleJob, ctx: TransitionContext): string[] {
  const out: string[] = [];
  for (const r of tr.requires) {
    if (r === "reason" && !ctx.reason?.trim()) out.push("reason");
    if (r === "acceptance" && !job.acceptedAt) out.push("the contractor's acceptance (POST /api/jobs/work action=accept)");
    if (r === "after_photos" || r === "completion_note") {
      const need = completionEvidence(job.jobTypeId ?? 0);
      if (r === "after_photos" && (ctx.afterPhotos ?? 0) < need.after_photos)
        out.push(
          `${need.after_photos} "after" photo${need.after_photos === 1 ? "" : "s"} (POST /api/jobs/photos photo_type=after; the job has ${ctx.afterPhotos ?? 0})`,
        );
      if (r === "completion_note" && need.completion_note && !ctx.completionNote?.trim()) out.push("a completion note (completion_note)");
    }
  }
  return out;
}

const WHO: Record<Role, string> = {
  admin: "an admin",
  manager: "a manager",
  staff: "staff",
  agent: "an agent",
  contractor: "a contractor",
};
const article = (role: Role, capital = false) => {
  const w = WHO[role];
  return capital ? `${w[0]?.toUpperCase()}${w.slice(1)}` : w;
};

const KEEPS_COMPLETION: ReadonlySet<number> = new Set([STATUS.CLOSED, STATUS.CANCELLED, STATUS.ARCHIVED]);

/** The columns a transition writes besides `status_id`, from its effects. */
export function transitionColumns(
  tr: Transition,
  caller: { userId: number },
  now: string,
  slaDeadline: (startedAt: string) => string | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = { statusId: tr.to };
  // Completed work keeps its completion time through sign-off and archiving; reopened work loses it.
  if (tr.effects.includes("completed_at")) out.completedAt = now;
  else if (!KEEPS_COMPLETION.has(tr.to)) out.completedAt = null;
  if (tr.effects.includes("sla_restart")) {
    out.slaStartedAt = now;
    out.slaDeadline = slaDeadline(now);
  }
  if (tr.effects.includes("started_at")) out.startedAt = now;
  if (tr.effects.includes("signed_off")) {
    out.signedOffAt = now;
    out.signedOffBy = caller.userId;
  }
  return out;
}
