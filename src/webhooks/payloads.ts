import { type AuditRow, type WebhookEventType, webhookEventsFor } from "./events";

/**
 * The JSON Schema (2020-12, as OpenAPI 3.1 writes it) of each webhook event's payload, named per
 * type for the OpenAPI document's `webhooks` section (src/http/openapi-document.ts) and the typed
 * SDK, with an example made by the very mapping that makes real payloads (events.ts) from a sample
 * outbox row, so an example cannot drift from what is sent. The e2e suite validates real
 * deliveries against these schemas with ajv (test/e2e/webhooks.e2e.test.ts).
 */

type Schema = Record<string, unknown>;

const str = (description: string): Schema => ({ type: "string", description });
const nullableStr = (description: string): Schema => ({ type: ["string", "null"], description });
const nullableInt = (description: string): Schema => ({ type: ["integer", "null"], description });
const names = (description: string): Schema => ({
  type: "object",
  description,
  required: ["before", "after"],
  properties: { before: { type: ["string", "null"] }, after: { type: ["string", "null"] } },
  additionalProperties: false,
});
const ids = (description: string): Schema => ({
  type: "object",
  description,
  required: ["before", "after"],
  properties: { before: { type: ["integer", "null"] }, after: { type: ["integer", "null"] } },
  additionalProperties: false,
});
const oneOf = (values: string[], description: string): Schema => ({ type: "string", enum: values, description });

/** What every event's `data` carries. */
const BASE: Record<string, Schema> = {
  job_uuid: nullableStr("The job the event is about"),
  job_ref: nullableStr("The job's reference (JOB-001), also once the job is deleted"),
  sequence: nullableInt(
    "The job's event number: 1 for its creation, then one more per recorded change, in the order the changes were committed. " +
      "Both events of one change (its own and job.status_changed) carry the same number. Keep the newest number applied per job " +
      "and drop an event whose number is lower: it is a stale update that arrived late (a retry).",
  ),
  action: str("The audit trail's action that made this event (GET /api/jobs/audit)"),
  actor: {
    type: "object",
    description: "Who made the change (user_id null for the system: the SLA cron, the media pipeline, inbound mail)",
    required: ["user_id", "name"],
    properties: { user_id: { type: ["integer", "null"] }, name: { type: "string" } },
    additionalProperties: false,
  },
  changes: {
    type: "object",
    description:
      'The recorded changes as {field: {before, after}} (or a plain value for facts such as note_uuid); a private field (private contact, access details, note text) only as {"changed": true}',
    additionalProperties: true,
  },
  status: names("The status names beside status_id's ids, when the change moved the status"),
  priority: names("The priority names beside priority_id's ids, when the change set the priority"),
};
const BASE_REQUIRED = ["job_uuid", "job_ref", "sequence", "action", "actor", "changes"];

/** Per event type: its own fields, a description, and the sample outbox row its example is made from. */
interface Spec {
  description: string;
  fields?: Record<string, Schema>;
  /** Fields present on every event of the type (the base's are always required). */
  required?: string[];
  sample: { action: string; changes: Record<string, unknown> };
}

const PHOTO = "0b3f7c1e-6a2d-4f5e-9c8b-1d2e3f4a5b6c";
const NOTE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const AMEND = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a";

const SPECS: Record<WebhookEventType, Spec> = {
  "job.created": {
    description: "A job was created (changes: every field set, private ones as {changed: true}).",
    sample: {
      action: "job.created",
      changes: {
        job_title: { before: null, after: "Boiler not heating" },
        status_id: { before: null, after: 1 },
        priority_id: { before: null, after: 2 },
        private_contact: { changed: true },
      },
    },
  },
  "job.updated": {
    description: "Fields of a job changed (an update or an approved amendment).",
    sample: {
      action: "job.updated",
      changes: { priority_id: { before: 2, after: 1 }, job_title: { before: "Boiler", after: "Boiler repair" } },
    },
  },
  "job.status_changed": {
    description:
      "A job's status moved, whatever moved it (an update, the work, a recall, an approval decision): sent beside that change's own event.",
    fields: {
      status_id: ids("The status ids before and after"),
      status: names("The status names before and after"),
    },
    required: ["status_id", "status"],
    sample: {
      action: "job.started",
      changes: { status_id: { before: 3, after: 4 }, started_at: { before: null, after: "2024-06-01T09:30:00Z" } },
    },
  },
  "job.deleted": {
    description: "A job was deleted (its reference and title as before values).",
    sample: {
      action: "job.deleted",
      changes: { job_ref: { before: "JOB-001", after: null }, job_title: { before: "Boiler not heating", after: null } },
    },
  },
  "recall.raised": {
    description: "The job was recalled: the work must be redone.",
    fields: { reason: nullableStr("The recall reason") },
    required: ["reason"],
    sample: {
      action: "job.recalled",
      changes: { status_id: { before: 6, after: 5 }, recall_reason: { before: null, after: "Leak is back" } },
    },
  },
  "recall.completed": {
    description: "A recall's work was done.",
    sample: { action: "job.recall_completed", changes: { status_id: { before: 5, after: 6 } } },
  },
  "recall.cancelled": {
    description: "A recall was withdrawn.",
    sample: { action: "job.recall_cancelled", changes: { status_id: { before: 5, after: 6 } } },
  },
  "amendment.requested": {
    description: "A change to a job field was requested for approval.",
    fields: {
      amendment_uuid: nullableStr("The amendment request"),
      field: nullableStr("The field the request would change"),
      reason: nullableStr("Why"),
    },
    required: ["amendment_uuid", "field", "reason"],
    sample: {
      action: "amendment.requested",
      changes: { amendment_uuid: AMEND, job_title: { before: "Boiler", after: "Boiler repair" }, reason: { before: null, after: "Scope" } },
    },
  },
  "amendment.decided": {
    description: "An amendment request was approved (then job.updated follows) or rejected.",
    fields: { amendment_uuid: nullableStr("The amendment request"), decision: oneOf(["approved", "rejected"], "The decision") },
    required: ["amendment_uuid", "decision"],
    sample: { action: "amendment.approved", changes: { amendment_uuid: AMEND } },
  },
  "approval.decided": {
    description: "A job awaiting approval was approved or rejected.",
    fields: { decision: oneOf(["approve", "reject"], "The decision") },
    required: ["decision"],
    sample: { action: "job.approval_approved", changes: { status_id: { before: 2, after: 3 } } },
  },
  "sla.breached": {
    description: "An open job passed its SLA deadline (the cron, once per deadline).",
    fields: { sla_deadline: nullableStr("The deadline passed"), hours_overdue: nullableInt("Whole hours past it when noticed") },
    required: ["sla_deadline", "hours_overdue"],
    sample: { action: "sla.breached", changes: { sla_deadline: "2024-06-01T09:00:00Z", hours_overdue: 2 } },
  },
  "media.processed": {
    description: "A photo was compressed, or a video transcoded (its variants and thumbnail ready).",
    fields: { photo_uuid: nullableStr("The photo or video"), kind: oneOf(["image", "video"], "Which it is") },
    required: ["photo_uuid", "kind"],
    sample: { action: "photo.video_processed", changes: { photo_uuid: PHOTO, variants: ["720p"] } },
  },
  "media.failed": {
    description: "A photo or video could not be processed (for good: after its retries).",
    fields: {
      photo_uuid: nullableStr("The photo or video"),
      kind: oneOf(["image", "video"], "Which it is"),
      reason: nullableStr("Why"),
    },
    required: ["photo_uuid", "kind", "reason"],
    sample: { action: "photo.video_failed", changes: { photo_uuid: PHOTO, reason: "gave up after 3 attempts: ffmpeg exited 1" } },
  },
  "note.added": {
    description: "A case note was added (through the API, or as an email reply); its text is never sent.",
    fields: {
      note_uuid: nullableStr("The note"),
      parent_uuid: nullableStr("The note it replies to"),
      source: oneOf(["api", "email"], "Where it came from"),
    },
    required: ["note_uuid", "parent_uuid", "source"],
    sample: { action: "case_note.created", changes: { note_uuid: NOTE, message: { changed: true }, is_pinned: false } },
  },
  "job.accepted": {
    description: "The assigned contractor accepted the job.",
    fields: { contractor_id: nullableInt("The contractor") },
    required: ["contractor_id"],
    sample: { action: "job.accepted", changes: { accepted_at: { before: null, after: "2024-06-01T09:30:00Z" }, contractor_id: 20 } },
  },
  "job.declined": {
    description: "The assigned contractor declined the job: it is unassigned.",
    fields: { reason: nullableStr("Why"), contractor_id: nullableInt("The contractor who declined") },
    required: ["reason", "contractor_id"],
    sample: {
      action: "job.declined",
      changes: { contractor_id: { before: 20, after: null }, decline_reason: { before: null, after: "Booked up" } },
    },
  },
  "job.started": {
    description: "Work on the job started.",
    sample: {
      action: "job.started",
      changes: { status_id: { before: 3, after: 4 }, started_at: { before: null, after: "2024-06-01T09:30:00Z" } },
    },
  },
  "job.completed": {
    description: "The work was completed, with its completion note (a case note, text not sent).",
    fields: { completion_note_uuid: nullableStr("The completion note") },
    required: ["completion_note_uuid"],
    sample: { action: "job.completed", changes: { status_id: { before: 4, after: 6 }, completion_note_uuid: NOTE } },
  },
  "job.signed_off": {
    description: "The office signed the completed work off: the job is closed.",
    sample: {
      action: "job.signed_off",
      changes: { status_id: { before: 6, after: 7 }, signed_off_at: { before: null, after: "2024-06-01T09:30:00Z" } },
    },
  },
  "job.sent_back": {
    description: "The office sent completed work back: in progress again.",
    fields: { reason: nullableStr("Why") },
    required: ["reason"],
    sample: { action: "job.sent_back", changes: { status_id: { before: 6, after: 4 }, reason: { before: null, after: "Photos missing" } } },
  },
  "media.deleted": {
    description: "A photo, video or document was removed.",
    fields: {
      kind: oneOf(["photo", "document"], "photo for photos and videos"),
      photo_uuid: nullableStr("The photo or video removed"),
      document_uuid: nullableStr("The document removed"),
    },
    required: ["kind", "photo_uuid", "document_uuid"],
    sample: { action: "photo.deleted", changes: { photo_uuid: PHOTO, filename: "boiler.jpg" } },
  },
  "job.assigned": {
    description: "A contractor was put on the job (none or another before): sent beside job.updated.",
    fields: { contractor_id: ids("The contractor before and after") },
    required: ["contractor_id"],
    sample: { action: "job.assigned", changes: { contractor_id: { before: null, after: 20 } } },
  },
  "media.uploaded": {
    description: "A photo, video or document was added; a photo or video then sends media.processed or media.failed.",
    fields: {
      kind: oneOf(["image", "video", "document"], "What was added"),
      photo_uuid: nullableStr("The photo or video (null for a document)"),
      document_uuid: nullableStr("The document (null for a photo or video)"),
      filename: nullableStr("The file's safe name"),
      size: nullableInt("Bytes"),
      photo_type: nullableStr("A photo's type (before, after, …)"),
      file_type: nullableStr("A document's file type"),
    },
    required: ["kind", "photo_uuid", "document_uuid", "filename", "size"],
    sample: {
      action: "photo.uploaded",
      changes: { photo_uuid: PHOTO, photo_type: "after", kind: "image", filename: "boiler.jpg", size: 48213 },
    },
  },
  "note.updated": {
    description: "A case note was edited (text, privacy, pin) or given files; its text is never sent.",
    fields: { note_uuid: nullableStr("The note"), fields: { type: "array", items: { type: "string" }, description: "What changed" } },
    required: ["note_uuid", "fields"],
    sample: { action: "case_note.updated", changes: { note_uuid: NOTE, message: { changed: true } } },
  },
  "note.deleted": {
    description: "A case note was removed.",
    fields: { note_uuid: nullableStr("The note") },
    required: ["note_uuid"],
    sample: { action: "case_note.deleted", changes: { note_uuid: NOTE, message: { changed: true }, attachments: 0 } },
  },
  "remedial.linked": {
    description: "A remedial job was linked to the job it remedies: sent for both jobs.",
    fields: {
      role: oneOf(["parent", "remedial"], "This job's side of the link"),
      other_job_ref: nullableStr("The other job's reference"),
    },
    required: ["role", "other_job_ref"],
    sample: { action: "job.remedial_added", changes: { remedial_job: { before: null, after: "JOB-002" } } },
  },
  "remedial.unlinked": {
    description: "A remedial link was removed: sent for both jobs.",
    fields: {
      role: oneOf(["parent", "remedial"], "This job's side of the link"),
      other_job_ref: nullableStr("The other job's reference"),
    },
    required: ["role", "other_job_ref"],
    sample: { action: "job.remedial_removed", changes: { remedial_job: { before: "JOB-002", after: null } } },
  },
};

/** `job.status_changed` → `JobStatusChangedEvent`: the component name of an event type's payload. */
export const eventSchemaName = (type: WebhookEventType) =>
  `${type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("")}Event`;

const SAMPLE_JOB = "550e8400-e29b-41d4-a716-446655440000";

/** The example payload of a type: the real mapping applied to its sample outbox row. */
export function examplePayload(type: WebhookEventType) {
  const { sample } = SPECS[type];
  const row: AuditRow = {
    id: 1,
    jobUuid: SAMPLE_JOB,
    jobRef: "JOB-001",
    sequence: 7,
    actorUserId: sample.action.startsWith("photo.video") || sample.action === "sla.breached" ? null : 12,
    actorName: sample.action.startsWith("photo.video") ? "Media pipeline" : sample.action === "sla.breached" ? "SLA monitor" : "Sam Staff",
    action: sample.action,
    changes: JSON.stringify(sample.changes),
    createdAt: "2024-06-01T09:30:00Z",
  };
  const event = webhookEventsFor(row, {
    priorities: new Map([
      [1, "High"],
      [2, "Medium"],
    ]),
  }).find((e) => e.type === type);
  if (!event) throw new Error(`the sample of ${type} makes no ${type} event`);
  return event;
}

/** The payload schema of one event type. */
export function eventSchema(type: WebhookEventType): Schema {
  const spec = SPECS[type];
  // job.status_changed carries the move, not the change record (that is on the change's own event).
  const base = type === "job.status_changed" ? omit(BASE, ["changes", "status", "priority"]) : BASE;
  const baseRequired = type === "job.status_changed" ? BASE_REQUIRED.filter((k) => k !== "changes") : BASE_REQUIRED;
  return {
    type: "object",
    description: spec.description,
    required: ["type", "timestamp", "data"],
    properties: {
      type: { type: "string", const: type },
      timestamp: { type: "string", format: "date-time", description: "When the change was recorded (ISO-8601 UTC)" },
      data: {
        type: "object",
        required: [...baseRequired, ...(spec.required ?? [])],
        properties: { ...base, ...spec.fields },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
    examples: [examplePayload(type)],
  };
}

export const eventDescription = (type: WebhookEventType) => SPECS[type].description;

function omit(o: Record<string, Schema>, keys: string[]): Record<string, Schema> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}
