import type { Principal } from "../domain/caller";
import { can } from "../domain/policy";
import { type AuditRow, type WebhookEventType, webhookEventsFor } from "../webhooks/events";

/**
 * The live event stream (GET /api/live, GET /api/live/events): one message per outbox event that a
 * webhook would announce, with the outbox id as its id (increasing; ids of events no webhook
 * announces are skipped) and the payload that webhook carries (src/webhooks/events.ts, private
 * values already replaced by {changed: true}). When an event both is its own type and moves the
 * status (an update of status_id), the message is the primary type; its `changes` hold status_id.
 */
export interface LiveEvent {
  kind: "event";
  id: number;
  type: WebhookEventType;
  job_uuid: string | null;
  at: string;
  data: Record<string, unknown>;
}

/** A live event with who may see it: the contractors whose job it was, as of the event (before and after it). */
export interface RoutedLiveEvent {
  event: LiveEvent;
  contractors: number[];
}

/** An outbox row as the hub reads it: with the job's contractor now (null when none or the job is gone). */
export interface FeedRow extends AuditRow {
  /** Whether the job row still exists (else its contractor is the hub's last known). */
  jobExists: number | boolean;
  contractorNow: number | null;
}

type Change = { before?: unknown; after?: unknown };
const asId = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);

function contractorChange(changes: string | null): Change | undefined {
  if (!changes) return undefined;
  try {
    const c = (JSON.parse(changes) as Record<string, unknown>).contractor_id;
    return c !== null && typeof c === "object" && !Array.isArray(c) && "before" in c ? (c as Change) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The live events of outbox rows (in id order), each routed to the contractors whose job it was
 * as of that event. The job's contractor now is known (`contractorNow`, or `known` for a job gone
 * since); walking the rows newest first, each change of contractor_id says who had the job before
 * it. So a note written before a reassignment goes to the old contractor even when both are read
 * together, and an event that takes a job away reaches the contractor who loses it.
 */
export function routeLiveEvents(rows: readonly FeedRow[], known: (jobUuid: string) => number | null): RoutedLiveEvent[] {
  const owner = new Map<string, number | null>();
  const out: RoutedLiveEvent[] = [];
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i] as FeedRow;
    const job = row.jobUuid;
    if (job !== null && !owner.has(job)) owner.set(job, row.jobExists ? row.contractorNow : known(job));
    const change = contractorChange(row.changes);
    // An event that moved the contractor says both sides itself (an update and its job.assigned both do).
    const after = change ? asId(change.after) : job === null ? null : (owner.get(job) ?? null);
    const before = change ? asId(change.before) : after;
    if (job !== null && change) owner.set(job, before);
    const [primary, ...rest] = webhookEventsFor(row);
    const e = primary ?? rest[0];
    if (!e) continue;
    const contractors = [...new Set([after, before].filter((c): c is number => c !== null))];
    out.push({ event: { kind: "event", id: row.id, type: e.type, job_uuid: row.jobUuid, at: row.createdAt, data: e.data }, contractors });
  }
  return out.reverse();
}

/** Who a live connection or poll belongs to: enough of the caller for "job.see" (src/domain/policy.ts). */
export type LiveCaller = Pick<Principal, "userId" | "name" | "role" | "contractorId">;

/** May this caller see this event: "job.see" for the job as it was before or after the event. */
export function mayReceive(caller: LiveCaller, contractors: readonly number[], jobUuid: string | null): boolean {
  if (can(caller, "job.see", { contractorId: null })) return true;
  return jobUuid !== null && contractors.some((contractorId) => can(caller, "job.see", { contractorId }));
}
