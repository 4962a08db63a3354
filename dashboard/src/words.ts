/**
 * Human wording: what a person reads instead of the API's keys, ids and event names. Field labels,
 * money in pounds, and audit events as sentences with names (ids resolved through the directories
 * and reference lists the session caches; an id it cannot resolve stays out of the sentence).
 */

/** The job fields as a person calls them (the API's names are for clients). */
export const FIELD_LABELS: Record<string, string> = {
  job_title: "Title",
  job_description: "Description",
  priority_id: "Priority",
  status_id: "Status",
  job_type_id: "Type",
  address_id: "Property",
  agent_id: "Agent",
  contractor_id: "Contractor",
  tenants_ids: "Tenants",
  job_total_budget: "Total budget",
  contractor_budget: "Contractor budget",
  vat_percentage: "VAT rate",
  date_works_start_date: "Works start",
  date_works_end_date: "Works end",
  payment_status_id: "Payment status",
  time_range_id: "Time slot",
  works_order_ref: "Works order",
  invoice_no: "Invoice number",
  access_details: "Access details",
  private_contact_name: "Private contact name",
  private_contact_email: "Private contact email",
  is_recall: "Recall",
  recall_reason: "Recall reason",
  completed_at: "Completed",
  started_at: "Started",
  accepted_at: "Accepted",
  signed_off_at: "Signed off",
  sla_deadline: "SLA deadline",
  sla_started_at: "SLA clock start",
  notes: "Notes",
  reason: "Reason",
  completion_note: "Completion note",
  decision: "Decision",
};

export const MONEY_FIELDS = new Set(["job_total_budget", "contractor_budget", "total_amount"]);
const DATE_TIME_FIELDS = new Set(["completed_at", "started_at", "accepted_at", "signed_off_at", "sla_deadline", "sla_started_at"]);

export const fieldLabel = (key: string) =>
  FIELD_LABELS[key] ??
  `${key
    .replace(/_ids?$/, "")
    .replace(/_/g, " ")
    .replace(/^./, (c) => c.toUpperCase())}`;

const GBP = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });

/** Pounds and pence ("£1,250.00"); a value that is not a number stays as it came. */
export function pounds(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? GBP.format(n) : String(v);
}

export function dateTime(iso: string) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** Names for the ids an audit event or an amendment carries, by field. */
export type Names = Partial<Record<string, Map<number, string>>>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One value of a field as a person reads it; undefined when it is only an id nobody can name. */
export function fieldValue(key: string, v: unknown, names: Names = {}): string | undefined {
  if (v === null || v === undefined || v === "") return "none";
  if (MONEY_FIELDS.has(key)) return pounds(v);
  if (key === "vat_percentage") return `${v}%`;
  if (DATE_TIME_FIELDS.has(key) && typeof v === "string") return dateTime(v);
  if (key === "is_recall") return v ? "yes" : "no";
  const map = names[key];
  if (map) {
    if (Array.isArray(v)) {
      const named = v.map((x) => map.get(Number(x))).filter((x): x is string => !!x);
      return named.length ? named.join(", ") : undefined;
    }
    return map.get(Number(v));
  }
  if (typeof v === "string" && UUID_RE.test(v)) return undefined;
  if (key.endsWith("_id") || key.endsWith("_ids") || key.endsWith("_uuid")) return undefined;
  if (typeof v === "object") return undefined;
  const text = String(v);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** "Contractor budget: £180.00 → £220.00" for each change an event records. */
export function describeChanges(changes: Record<string, unknown>, names: Names = {}): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(changes)) {
    const label = fieldLabel(k);
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const c = v as Record<string, unknown>;
      if ("changed" in c && !("before" in c) && !("from" in c)) {
        out.push(`${label} changed`);
        continue;
      }
      const before = "before" in c ? c.before : c.from;
      const after = "before" in c ? c.after : c.to;
      if ("before" in c || "from" in c) {
        const b = fieldValue(k, before, names);
        const a = fieldValue(k, after, names);
        // A value set for the first time reads as the value, not "none → value".
        if (a !== undefined && (b === undefined || b === "none")) out.push(`${label}: ${a}`);
        else out.push(b !== undefined && a !== undefined ? `${label}: ${b} → ${a}` : `${label} changed`);
        continue;
      }
      continue;
    }
    const value = fieldValue(k, v, names);
    if (value !== undefined) out.push(`${label}: ${value}`);
  }
  return out;
}

/** What an event says its actor did, as the predicate of a sentence ("Alice accepted the job"). */
const EVENT_VERBS: Record<string, string> = {
  "job.created": "created the job",
  "job.updated": "edited the job",
  "job.deleted": "deleted the job",
  "job.assigned": "changed the assigned contractor",
  "job.status_changed": "changed the status",
  "job.accepted": "accepted the job",
  "job.declined": "declined the job",
  "job.started": "started the work",
  "job.completed": "completed the work",
  "job.signed_off": "signed the work off",
  "job.sent_back": "sent the work back to the contractor",
  "job.recalled": "recalled the job",
  "job.recall_completed": "completed the recall",
  "job.recall_cancelled": "cancelled the recall",
  "recall.raised": "recalled the job",
  "recall.completed": "completed the recall",
  "recall.cancelled": "cancelled the recall",
  "job.approval_approved": "approved the job at the approval gate",
  "job.approval_rejected": "sent the job back from the approval gate",
  "approval.decided": "decided the approval gate",
  "job.remedial_added": "linked a remedial job",
  "job.remedial_linked": "linked a remedial job",
  "job.remedial_removed": "unlinked a remedial job",
  "job.remedial_unlinked": "unlinked a remedial job",
  "amendment.requested": "proposed a change",
  "amendment.decided": "decided a proposed change",
  "amendment.approved": "approved a proposed change",
  "amendment.rejected": "rejected a proposed change",
  "case_note.created": "added a note",
  "case_note.updated": "edited a note",
  "case_note.deleted": "deleted a note",
  "case_note.reply_received": "replied to a note by email",
  "case_note.attachments_added": "attached files to a note",
  "photo.uploaded": "uploaded a photo",
  "photo.deleted": "deleted a photo",
  "photo.compressed": "— the photo was compressed",
  "photo.compress_failed": "— a photo could not be compressed",
  "photo.video_dispatched": "— a video was sent for processing",
  "photo.video_processed": "— a video finished processing",
  "photo.video_failed": "— a video could not be processed",
  "document.uploaded": "uploaded a document",
  "document.deleted": "deleted a document",
  "sla.breached": "— the SLA deadline passed",
};

/** The sentence for an event: "Manager_001 accepted the job." (system events name no actor). */
export function eventSentence(action: string, actor: string, changes: Record<string, unknown>, names: Names = {}): string {
  const verb = EVENT_VERBS[action];
  if (action === "job.assigned") {
    const c = changes.contractor_id as { before?: unknown; after?: unknown; from?: unknown; to?: unknown } | undefined;
    const after = c ? fieldValue("contractor_id", "after" in c ? c.after : c.to, names) : undefined;
    if (after === "none") return `${actor} unassigned the contractor.`;
    if (after) return `${actor} assigned the job to ${after}.`;
  }
  if (verb?.startsWith("—")) return `${verb.slice(2).replace(/^./, (x) => x.toUpperCase())}.`;
  if (verb) return `${actor} ${verb}.`;
  // An event this dashboard does not know yet: its name in words, never the raw key.
  const words = action.split(".").at(-1)?.replace(/_/g, " ") ?? action;
  return `${actor}: ${words}.`;
}
