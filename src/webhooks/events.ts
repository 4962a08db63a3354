import { ENCRYPTED_JOB_FIELDS } from "../domain/job-fields";
import { STATUS_NAMES } from "../domain/lifecycle";

/**
 * The webhook event types and how each audit action (the outbox, src/audit/audit.ts) maps to them.
 * This module is the one place that mapping lives: an audit action not listed here sends nothing.
 */
export const WEBHOOK_EVENT_TYPES = [
  "job.created",
  "job.updated",
  "job.status_changed",
  "job.deleted",
  "recall.raised",
  "recall.completed",
  "recall.cancelled",
  "amendment.requested",
  "amendment.decided",
  "approval.decided",
  "sla.breached",
  "media.processed",
  "media.failed",
  "note.added",
  // The work on a job (POST /api/jobs/work), each with job_ref and the status names.
  "job.accepted",
  "job.declined",
  "job.started",
  "job.completed",
  "job.signed_off",
  "job.sent_back",
  // A photo or document removed (who removed what).
  "media.deleted",
  // A contractor put on a job (none or another before): contractor_id before and after.
  "job.assigned",
  // A photo, video or document added to a job (videos then send media.processed or media.failed).
  "media.uploaded",
  // A case note's text, privacy or files changed, or the note removed.
  "note.updated",
  "note.deleted",
  // A remedial job linked to (or unlinked from) the job it remedies: sent for both jobs.
  "remedial.linked",
  "remedial.unlinked",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** One event as sent: the Standard Webhooks payload shape (each type's schema: src/webhooks/payloads.ts). */
export interface WebhookEvent {
  type: WebhookEventType;
  timestamp: string;
  data: { job_uuid: string | null; job_ref: string | null; sequence: number | null } & Record<string, unknown>;
}

/** The audit row fields the mapping reads. */
export interface AuditRow {
  id: number;
  jobUuid: string | null;
  /** The job's reference (stored with the event by migration 0020's trigger, so a deleted job's too). */
  jobRef?: string | null;
  /** The job's event number: 1, 2, 3, … in commit order (the same trigger); null for an event about no job. */
  sequence?: number | null;
  actorUserId: number | null;
  actorName: string;
  action: string;
  changes: string | null;
  createdAt: string;
}

/**
 * Audit action → the event it primarily is. Actions not listed send nothing: the media pipeline's
 * internal steps (`photo.video_dispatched`), outbound mail results (`case_note.emailed`), and pins,
 * which are not in the outbox at all: a pin is one user's private bookmark (the UserPins Durable
 * Object), not a fact about the job another system would sync, and sending it would tell an
 * integrator what a given person is watching.
 */
export const ACTION_EVENT_TYPES: Readonly<Record<string, WebhookEventType>> = {
  "job.created": "job.created",
  "job.updated": "job.updated",
  "job.deleted": "job.deleted",
  "job.recalled": "recall.raised",
  "job.recall_completed": "recall.completed",
  "job.recall_cancelled": "recall.cancelled",
  "amendment.requested": "amendment.requested",
  "amendment.approved": "amendment.decided",
  "amendment.rejected": "amendment.decided",
  "job.approval_approved": "approval.decided",
  "job.approval_rejected": "approval.decided",
  "sla.breached": "sla.breached",
  "photo.video_processed": "media.processed",
  "photo.compressed": "media.processed",
  "photo.video_failed": "media.failed",
  "photo.compress_failed": "media.failed",
  "case_note.created": "note.added",
  "case_note.reply_received": "note.added",
  "job.accepted": "job.accepted",
  "job.declined": "job.declined",
  "job.started": "job.started",
  "job.completed": "job.completed",
  "job.signed_off": "job.signed_off",
  "job.sent_back": "job.sent_back",
  "photo.deleted": "media.deleted",
  "document.deleted": "media.deleted",
  "job.assigned": "job.assigned",
  "photo.uploaded": "media.uploaded",
  "document.uploaded": "media.uploaded",
  "case_note.updated": "note.updated",
  "case_note.attachments_added": "note.updated",
  "case_note.deleted": "note.deleted",
  "job.remedial_linked": "remedial.linked",
  "job.remedial_added": "remedial.linked",
  "job.remedial_unlinked": "remedial.unlinked",
  "job.remedial_removed": "remedial.unlinked",
};

/** Keys whose values are private (encrypted at rest, or message text): sent as {changed: true} only. */
const PRIVATE_KEYS: ReadonlySet<string> = new Set([...ENCRYPTED_JOB_FIELDS, "message", "message_text", "from_email", "sender_email"]);

type Change = { before?: unknown; after?: unknown; changed?: true };

function parseChanges(raw: string | null): Record<string, unknown> {
  if (!raw) return {};
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The recorded changes with every private value replaced by {changed: true}. */
export function publicChanges(changes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, PRIVATE_KEYS.has(k) ? { changed: true } : v]));
}

const isChange = (v: unknown): v is Change => v !== null && typeof v === "object" && !Array.isArray(v);
const beforeOf = (changes: Record<string, unknown>, key: string): unknown => {
  const v = changes[key];
  return isChange(v) ? v.before : undefined;
};
const afterOf = (changes: Record<string, unknown>, key: string): unknown => {
  const v = changes[key];
  return isChange(v) ? v.after : v;
};

/**
 * The webhook events one audit event stands for: its primary event, plus `job.status_changed`
 * whenever the job's status moved (an update, a recall, an approval decision), so subscribers of
 * status changes see every one of them whatever caused it.
 */
export function webhookEventsFor(row: AuditRow, names: ReferenceNames = {}): WebhookEvent[] {
  const primary = ACTION_EVENT_TYPES[row.action];
  const changes = parseChanges(row.changes);
  const base = {
    job_uuid: row.jobUuid,
    job_ref: row.jobRef ?? refOf(changes),
    // Both events of one change (its primary event and job.status_changed) carry the change's number.
    sequence: row.sequence ?? null,
    action: row.action,
    actor: { user_id: row.actorUserId, name: row.actorName },
  };
  const out: WebhookEvent[] = [];
  if (primary) {
    out.push({
      type: primary,
      timestamp: row.createdAt,
      data: { ...base, ...details(primary, row.action, changes), ...namesOf(changes, names), changes: publicChanges(changes) },
    });
  }
  const status = changes.status_id;
  if (isChange(status) && "before" in status && status.before !== status.after && row.action !== "job.created") {
    out.push({
      type: "job.status_changed",
      timestamp: row.createdAt,
      data: {
        ...base,
        status_id: { before: status.before ?? null, after: status.after ?? null },
        status: { before: statusName(status.before), after: statusName(status.after) },
      },
    });
  }
  return out;
}

const statusName = (id: unknown) => (typeof id === "number" ? (STATUS_NAMES[id] ?? null) : null);

/** Names of the reference data the relay reads with the events (priorities live in D1, not in code). */
export interface ReferenceNames {
  priorities?: ReadonlyMap<number, string>;
}

/** The status and priority names beside their ids, wherever a change carries those ids. */
function namesOf(changes: Record<string, unknown>, names: ReferenceNames): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const pair = (key: string, name: (id: unknown) => string | null) => {
    const v = changes[key];
    return isChange(v) && ("before" in v || "after" in v) ? { before: name(v.before), after: name(v.after) } : undefined;
  };
  const status = pair("status_id", statusName);
  if (status) out.status = status;
  const priority = pair("priority_id", (id) => (typeof id === "number" ? (names.priorities?.get(id) ?? null) : null));
  if (priority) out.priority = priority;
  return out;
}
/** A deleted job's reference, from its deletion event. */
const refOf = (changes: Record<string, unknown>) => {
  const ref = changes.job_ref;
  return isChange(ref) ? ((ref.before ?? ref.after ?? null) as string | null) : null;
};

/** The few fields an integrator reaches for first, lifted out of `changes` per event type. */
function details(type: WebhookEventType, action: string, changes: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "recall.raised":
      return { reason: afterOf(changes, "recall_reason") ?? null };
    case "amendment.requested":
      return {
        amendment_uuid: afterOf(changes, "amendment_uuid") ?? null,
        field: Object.keys(changes).find((k) => k !== "reason" && k !== "amendment_uuid") ?? null,
        reason: afterOf(changes, "reason") ?? null,
      };
    case "amendment.decided":
      return {
        amendment_uuid: afterOf(changes, "amendment_uuid") ?? null,
        decision: action === "amendment.approved" ? "approved" : "rejected",
      };
    case "approval.decided":
      return { decision: action === "job.approval_approved" ? "approve" : "reject" };
    case "sla.breached":
      return { sla_deadline: changes.sla_deadline ?? null, hours_overdue: changes.hours_overdue ?? null };
    case "media.processed":
    case "media.failed":
      return {
        photo_uuid: changes.photo_uuid ?? null,
        kind: action.startsWith("photo.video_") ? "video" : "image",
        ...(type === "media.failed" ? { reason: changes.reason ?? null } : {}),
      };
    case "note.added":
      return {
        note_uuid: changes.note_uuid ?? null,
        parent_uuid: changes.parent_uuid ?? null,
        source: action === "case_note.reply_received" ? "email" : "api",
      };
    case "job.declined":
      return { reason: afterOf(changes, "decline_reason") ?? null, contractor_id: beforeOf(changes, "contractor_id") ?? null };
    case "job.sent_back":
      return { reason: afterOf(changes, "reason") ?? null };
    case "job.completed":
      return { completion_note_uuid: changes.completion_note_uuid ?? null };
    case "job.accepted":
      return { contractor_id: changes.contractor_id ?? null };
    case "job.assigned":
      return { contractor_id: { before: beforeOf(changes, "contractor_id") ?? null, after: afterOf(changes, "contractor_id") ?? null } };
    case "media.uploaded":
      return action === "document.uploaded"
        ? {
            kind: "document",
            photo_uuid: null,
            document_uuid: changes.document_uuid ?? null,
            filename: changes.filename ?? null,
            size: changes.size ?? null,
            file_type: changes.file_type ?? null,
          }
        : {
            kind: changes.kind === "video" ? "video" : "image",
            photo_uuid: changes.photo_uuid ?? null,
            document_uuid: null,
            filename: changes.filename ?? null,
            size: changes.size ?? null,
            photo_type: changes.photo_type ?? null,
          };
    case "note.updated":
      return {
        note_uuid: changes.note_uuid ?? null,
        fields: action === "case_note.attachments_added" ? ["attachments"] : Object.keys(changes).filter((k) => k !== "note_uuid"),
      };
    case "note.deleted":
      return { note_uuid: changes.note_uuid ?? null };
    case "remedial.linked":
    case "remedial.unlinked": {
      // The parent's event names the remedial job, the remedial's event its parent.
      const onParent = action === "job.remedial_added" || action === "job.remedial_removed";
      const other = onParent ? changes.remedial_job : changes.remedial_parent;
      const ref = isChange(other) ? (other.after ?? other.before ?? null) : null;
      return { role: onParent ? "parent" : "remedial", other_job_ref: ref };
    }
    case "media.deleted":
      return {
        kind: action === "document.deleted" ? "document" : "photo",
        photo_uuid: changes.photo_uuid ?? null,
        document_uuid: changes.document_uuid ?? null,
      };
    default:
      return {};
  }
}

/** Whether a subscription's filter (empty = every type) takes this event type. */
export function subscribed(filter: readonly string[], type: WebhookEventType): boolean {
  return filter.length === 0 || filter.includes(type);
}
