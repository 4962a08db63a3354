import { sql } from "drizzle-orm";
import { type AnySQLiteColumn, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are ISO-8601 UTC strings ("2024-06-01T14:00:00Z"): sortable, and what the API returns.
const now = sql`(strftime('%Y-%m-%dT%H:%M:%SZ','now'))`;
const createdAt = () => text("created_at").notNull().default(now);
const bool = (name: string) => integer(name, { mode: "boolean" }).notNull().default(false);
const id = () => integer("id").primaryKey({ autoIncrement: true });
const uuid = () => text("uuid").notNull().unique();
/** A user who did something (null once the user is gone, or for the system). */
const byUser = (name: string) => integer(name).references((): AnySQLiteColumn => users.id);
/** The job a row belongs to: removed with it. */
const ofJob = () =>
  integer("job_id")
    .notNull()
    .references((): AnySQLiteColumn => jobs.id, { onDelete: "cascade" });

// ── reference data ─────────────────────────────────────────────────────────────

export const jobStatuses = sqliteTable("job_statuses", {
  id: id(),
  name: text("name").notNull().unique(),
  sortOrder: integer("sort_order").notNull(),
  requiresApproval: bool("requires_approval"),
  isCompleted: bool("is_completed"),
  isClosed: bool("is_closed"),
  isCancelled: bool("is_cancelled"),
  isArchived: bool("is_archived"),
  // Approval gate: where approve / reject move a job in this status (null = next by sort order).
  approveToStatusId: integer("approve_to_status_id"),
  rejectToStatusId: integer("reject_to_status_id"),
});

export const priorities = sqliteTable("priorities", {
  id: id(),
  name: text("name").notNull().unique(),
  sortOrder: integer("sort_order").notNull(),
  // Hours from creation (or recall) to the SLA deadline; null = no SLA for this priority.
  slaHours: integer("sla_hours"),
});

export const jobTypes = sqliteTable("job_types", {
  id: id(),
  name: text("name").notNull().unique(),
});

export const paymentStatuses = sqliteTable("payment_statuses", {
  id: id(),
  name: text("name").notNull().unique(),
  sortOrder: integer("sort_order").notNull().default(0),
});

export const timeRanges = sqliteTable("time_ranges", {
  id: id(),
  name: text("name").notNull(),
  startTime: text("start_time").notNull(), // "08:00"
  endTime: text("end_time").notNull(), // "12:00"
});

export const fileTypes = sqliteTable("file_types", {
  id: id(),
  name: text("name").notNull().unique(),
});

export const addresses = sqliteTable(
  "addresses",
  {
    id: id(),
    line1: text("line1").notNull(),
    line2: text("line2"),
    town: text("town").notNull(),
    postcode: text("postcode").notNull(),
    // Lower-cased "line1 line2 town postcode" for the address search.
    searchText: text("search_text").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("addresses_postcode_idx").on(t.postcode)],
);

// ── parties ────────────────────────────────────────────────────────────────────

// Name search: a case-insensitive prefix range on `name COLLATE NOCASE` (migrations/0011_directories.sql).
const nocase = (column: AnySQLiteColumn) => sql`${column} COLLATE NOCASE`;
/** 0 = inactive: stays on the jobs it is on, cannot be assigned to another (src/domain/job-fields.ts). */
const active = () => integer("active", { mode: "boolean" }).notNull().default(true);

/** A directory of parties (agents, contractors): the same columns and name indexes for each. */
const partyTable = <N extends string>(name: N) =>
  sqliteTable(
    name,
    {
      id: id(),
      uuid: uuid(),
      name: text("name").notNull(),
      email: text("email"),
      active: active(),
      createdAt: createdAt(),
    },
    (t) => [index(`${name}_name_idx`).on(nocase(t.name)), index(`${name}_active_name_idx`).on(t.active, nocase(t.name))],
  );

export const agents = partyTable("agents");
export const contractors = partyTable("contractors");

/**
 * A contractor's trades (the job types it takes). Name and active are copies of the contractor's,
 * kept by triggers (migrations/0011_directories.sql), so a job-type filter walks one index by name.
 */
export const contractorJobTypes = sqliteTable(
  "contractor_job_types",
  {
    contractorId: integer("contractor_id")
      .notNull()
      .references(() => contractors.id, { onDelete: "cascade" }),
    jobTypeId: integer("job_type_id")
      .notNull()
      .references(() => jobTypes.id),
    contractorName: text("contractor_name").notNull().default(""),
    contractorActive: integer("contractor_active", { mode: "boolean" }).notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.contractorId, t.jobTypeId] }),
    index("contractor_job_types_name_idx").on(t.jobTypeId, nocase(t.contractorName), t.contractorId),
    index("contractor_job_types_active_name_idx").on(t.jobTypeId, t.contractorActive, nocase(t.contractorName), t.contractorId),
  ],
);

export const tenants = sqliteTable(
  "tenants",
  {
    id: id(),
    uuid: uuid(),
    name: text("name").notNull(),
    // Personal contact data: encrypted (v1.<kid>.<b64>), see src/crypto/fields.ts.
    email: text("email"),
    phone: text("phone"),
    // The property the tenant lives at (null: not recorded; such a tenant is not checked against a job's address).
    addressId: integer("address_id").references(() => addresses.id),
    active: active(),
    createdAt: createdAt(),
  },
  (t) => [index("tenants_address_name_idx").on(t.addressId, nocase(t.name))],
);

export const users = sqliteTable(
  "users",
  {
    id: id(),
    uuid: uuid(),
    name: text("name").notNull(),
    email: text("email").notNull(),
    role: text("role", { enum: ["admin", "manager", "staff", "agent", "contractor"] }).notNull(),
    // A contractor user acts for one contractor record and sees only that contractor's jobs.
    contractorId: integer("contractor_id").references(() => contractors.id),
    agentId: integer("agent_id").references(() => agents.id),
    disabledAt: text("disabled_at"),
    // The UserPins Durable Object's version, copied after each toggle (src/pins/pins-cache.ts).
    pinsVersion: integer("pins_version").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("users_email_idx").on(t.email),
    // The staff directory (GET /api/jobs/staff): admins, managers and staff only.
    index("users_staff_name_idx").on(nocase(t.name)).where(sql`${t.role} IN ('admin', 'manager', 'staff')`),
    // One per role (migrations/0016_staff_role_directory.sql): a rare role's page without walking every name.
    index("users_admin_name_idx").on(nocase(t.name)).where(sql`${t.role} = 'admin'`),
    index("users_manager_name_idx").on(nocase(t.name)).where(sql`${t.role} = 'manager'`),
    index("users_staff_role_name_idx").on(nocase(t.name)).where(sql`${t.role} = 'staff'`),
  ],
);

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: id(),
    uuid: uuid(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // SHA-256 of the token, hex. The token itself is shown once and never stored.
    tokenHash: text("token_hash").notNull(),
    // JSON array narrowing the role's permissions; null = all of the role's.
    permissions: text("permissions"),
    expiresAt: text("expires_at"),
    revokedAt: text("revoked_at"),
    // Written in the background, at most once per few minutes (src/auth/token-use.ts).
    lastUsedAt: text("last_used_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("api_tokens_hash_idx").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

// ── jobs ───────────────────────────────────────────────────────────────────────

export const jobs = sqliteTable(
  "jobs",
  {
    id: id(),
    uuid: uuid(),
    jobRef: text("job_ref").notNull().unique(),
    jobTitle: text("job_title").notNull(),
    jobDescription: text("job_description").notNull(),
    statusId: integer("status_id")
      .notNull()
      .references(() => jobStatuses.id),
    priorityId: integer("priority_id")
      .notNull()
      .references(() => priorities.id),
    jobTypeId: integer("job_type_id")
      .notNull()
      .references(() => jobTypes.id),
    paymentStatusId: integer("payment_status_id").references(() => paymentStatuses.id),
    timeRangeId: integer("time_range_id").references(() => timeRanges.id),
    addressId: integer("address_id")
      .notNull()
      .references(() => addresses.id),
    agentId: integer("agent_id").references(() => agents.id),
    contractorId: integer("contractor_id").references(() => contractors.id),
    createdBy: byUser("created_by"),
    jobTotalBudget: real("job_total_budget"),
    contractorBudget: real("contractor_budget"),
    vatPercentage: real("vat_percentage").notNull(),
    dateWorksStartDate: text("date_works_start_date"),
    dateWorksEndDate: text("date_works_end_date"),
    worksOrderRef: text("works_order_ref"),
    invoiceNo: text("invoice_no"),
    // Encrypted at rest (v1.<kid>.<b64>); keys derived per table, column and job uuid.
    accessDetails: text("access_details"),
    privateContactName: text("private_contact_name"),
    privateContactEmail: text("private_contact_email"),
    // Recall state: 1 while a recall cycle is open.
    isRecall: integer("is_recall").notNull().default(0),
    // SLA clock: starts at creation, restarts at a recall; deadline = start + priority.sla_hours.
    slaStartedAt: text("sla_started_at").notNull(),
    slaDeadline: text("sla_deadline"),
    completedAt: text("completed_at"),
    // The lifecycle (src/domain/lifecycle.ts, migration 0011): acceptance, start, sign-off.
    acceptedAt: text("accepted_at"),
    startedAt: text("started_at"),
    signedOffAt: text("signed_off_at"),
    signedOffBy: byUser("signed_off_by"),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull().default(now),
    // Bumped by the jobs_version_bump trigger (migration 0005) on every update; the job's ETag.
    version: integer("version").notNull().default(1),
    // Kept by triggers (migrations/0007_list_counters.sql): never written by the code.
    photosCount: integer("photos_count").notNull().default(0),
    documentsCount: integer("documents_count").notNull().default(0),
    // 1 while the SLA measures the job: an open status and a deadline.
    slaOpen: integer("sla_open").notNull().default(0),
  },
  (t) => [
    index("jobs_status_idx").on(t.statusId, t.id),
    index("jobs_priority_idx").on(t.priorityId, t.id),
    index("jobs_agent_idx").on(t.agentId, t.id),
    index("jobs_contractor_idx").on(t.contractorId, t.id),
    index("jobs_created_by_idx").on(t.createdBy, t.id),
    index("jobs_job_type_idx").on(t.jobTypeId),
    index("jobs_address_idx").on(t.addressId),
    index("jobs_sla_deadline_idx").on(t.slaDeadline),
    // SLA counts and the cron check read open statuses, then a deadline range within each.
    index("jobs_status_sla_idx").on(t.statusId, t.slaDeadline),
    // updated_since polling (GET /api/jobs/manage?action=list&updated_since=…).
    index("jobs_updated_at_idx").on(t.updatedAt),
    index("jobs_status_priority_idx").on(t.statusId, t.priorityId),
    index("jobs_sla_open_idx").on(t.slaDeadline, t.dateWorksEndDate).where(sql`${t.slaOpen} = 1`),
    index("jobs_sla_open_agent_idx").on(t.agentId, t.slaDeadline).where(sql`${t.slaOpen} = 1`),
    index("jobs_sla_open_contractor_idx").on(t.contractorId, t.slaDeadline).where(sql`${t.slaOpen} = 1`),
    index("jobs_sla_open_priority_idx").on(t.priorityId, t.slaDeadline).where(sql`${t.slaOpen} = 1`),
    index("jobs_with_photos_idx").on(t.id).where(sql`${t.photosCount} > 0`),
    index("jobs_with_documents_idx").on(t.id).where(sql`${t.documentsCount} > 0`),
  ],
);

export const jobTenants = sqliteTable(
  "job_tenants",
  {
    jobId: ofJob(),
    tenantId: integer("tenant_id")
      .notNull()
      .references(() => tenants.id),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.tenantId] }), index("job_tenants_tenant_idx").on(t.tenantId)],
);

// ── case notes ─────────────────────────────────────────────────────────────────

export const caseNotes = sqliteTable(
  "case_notes",
  {
    id: id(),
    uuid: uuid(),
    jobId: ofJob(),
    // Threaded replies (inbound email) point at the note they answer.
    parentId: integer("parent_id"),
    // Encrypted: sanitised HTML (or plain text) and its plain-text form.
    message: text("message").notNull(),
    messageText: text("message_text").notNull(),
    isHtml: bool("is_html"),
    isPinned: bool("is_pinned"),
    sendEmail: bool("send_email"),
    source: text("source", { enum: ["api", "email"] })
      .notNull()
      .default("api"),
    // Outbound email: none | sent | failed, with the error when failed.
    emailStatus: text("email_status").notNull().default("none"),
    emailError: text("email_error"),
    emailMessageId: text("email_message_id"),
    emailRecipients: text("email_recipients"),
    // Inbound email: the message's Message-ID (dedupe) and the sender (encrypted).
    inboundMessageId: text("inbound_message_id"),
    fromEmail: text("from_email"),
    createdBy: byUser("created_by"),
    createdByName: text("created_by_name").notNull(),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    index("case_notes_job_idx").on(t.jobId, t.id),
    index("case_notes_parent_idx").on(t.parentId),
    uniqueIndex("case_notes_inbound_idx").on(t.inboundMessageId),
    index("case_notes_email_message_idx").on(t.emailMessageId),
  ],
);

export const noteAttachments = sqliteTable(
  "note_attachments",
  {
    id: id(),
    uuid: uuid(),
    noteId: integer("note_id")
      .notNull()
      .references(() => caseNotes.id, { onDelete: "cascade" }),
    jobId: ofJob(),
    r2Key: text("r2_key").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("note_attachments_note_idx").on(t.noteId), index("note_attachments_job_idx").on(t.jobId)],
);

// ── media ──────────────────────────────────────────────────────────────────────

export const photos = sqliteTable(
  "photos",
  {
    id: id(),
    uuid: uuid(),
    jobId: ofJob(),
    photoType: text("photo_type", { enum: ["before", "during", "after", "other"] })
      .notNull()
      .default("other"),
    kind: text("kind", { enum: ["image", "video"] }).notNull(),
    r2Key: text("r2_key").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    width: integer("width"),
    height: integer("height"),
    // Compressed image (photos) — kept only when smaller than the original.
    compressedKey: text("compressed_key"),
    compressedSize: integer("compressed_size"),
    compressedWidth: integer("compressed_width"),
    compressedHeight: integer("compressed_height"),
    // Video variants: JSON {"1080p": {key,width,height,bitrate,size}, ...}; thumbnail key.
    variants: text("variants"),
    thumbnailKey: text("thumbnail_key"),
    processingStatus: text("processing_status", { enum: ["pending", "processing", "completed", "failed"] })
      .notNull()
      .default("pending"),
    processingError: text("processing_error"),
    processingAttempts: integer("processing_attempts").notNull().default(0),
    processedAt: text("processed_at"),
    uploadedBy: byUser("uploaded_by"),
    createdAt: createdAt(),
  },
  (t) => [index("photos_job_idx").on(t.jobId, t.photoType)],
);

export const documents = sqliteTable(
  "documents",
  {
    id: id(),
    uuid: uuid(),
    jobId: ofJob(),
    fileTypeId: integer("file_type_id")
      .notNull()
      .references(() => fileTypes.id),
    r2Key: text("r2_key").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    uploadedBy: byUser("uploaded_by"),
    createdAt: createdAt(),
  },
  (t) => [index("documents_job_idx").on(t.jobId)],
);

// ── workflow ───────────────────────────────────────────────────────────────────

export const amendmentRequests = sqliteTable(
  "amendment_requests",
  {
    id: id(),
    uuid: uuid(),
    jobId: ofJob(),
    fieldName: text("field_name").notNull(),
    currentValue: text("current_value"),
    requestedValue: text("requested_value").notNull(),
    reason: text("reason").notNull(),
    status: text("status", { enum: ["pending", "approved", "rejected", "superseded"] })
      .notNull()
      .default("pending"),
    requestedBy: byUser("requested_by"),
    requestedByName: text("requested_by_name").notNull(),
    requestedAt: createdAt(),
    decidedBy: byUser("decided_by"),
    decidedAt: text("decided_at"),
    decisionNotes: text("decision_notes"),
  },
  (t) => [index("amendment_requests_job_idx").on(t.jobId, t.status), index("amendment_requests_status_idx").on(t.status)],
);

export const recalls = sqliteTable(
  "recalls",
  {
    id: id(),
    uuid: uuid(),
    jobId: ofJob(),
    reason: text("reason").notNull(),
    previousStatusId: integer("previous_status_id"),
    raisedBy: byUser("raised_by"),
    raisedAt: createdAt(),
    // completed | cancelled once the cycle closes.
    outcome: text("outcome"),
    closedBy: byUser("closed_by"),
    closedAt: text("closed_at"),
  },
  (t) => [index("recalls_job_idx").on(t.jobId)],
);

export const remedialLinks = sqliteTable(
  "remedial_links",
  {
    id: id(),
    parentJobId: integer("parent_job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    // A job has at most one remedial parent.
    remedialJobId: integer("remedial_job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    linkedBy: byUser("linked_by"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("remedial_links_remedial_idx").on(t.remedialJobId), index("remedial_links_parent_idx").on(t.parentJobId)],
);

export const approvalDecisions = sqliteTable(
  "approval_decisions",
  {
    id: id(),
    jobId: ofJob(),
    decision: text("decision", { enum: ["approve", "reject"] }).notNull(),
    notes: text("notes"),
    fromStatusId: integer("from_status_id").notNull(),
    toStatusId: integer("to_status_id").notNull(),
    decidedBy: byUser("decided_by"),
    createdAt: createdAt(),
  },
  (t) => [index("approval_decisions_job_idx").on(t.jobId)],
);

export const slaBreaches = sqliteTable(
  "sla_breaches",
  {
    id: id(),
    jobId: ofJob(),
    // One breach per job per deadline: a recall sets a new deadline, which may breach again.
    slaDeadline: text("sla_deadline").notNull(),
    detectedAt: createdAt(),
    notifiedAt: text("notified_at"),
    notifyError: text("notify_error"),
  },
  (t) => [uniqueIndex("sla_breaches_job_deadline_idx").on(t.jobId, t.slaDeadline)],
);

// How many jobs the SLA measures (jobs.sla_open = 1): dim "all" (id 0), "agent", "contractor",
// "priority" (id 0 = none). Kept by triggers (migrations/0008_sla_counters.sql), read by sla-status.
export const slaOpenCounts = sqliteTable(
  "sla_open_counts",
  {
    dim: text("dim", { enum: ["all", "agent", "contractor", "priority"] }).notNull(),
    dimId: integer("dim_id").notNull(),
    n: integer("n").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.dim, t.dimId] })],
);

// The same per contractor (0 = none) and agent (dim "agent", 0 = none) or priority (dim "priority"):
// sla-status for one contractor and a filter. Kept by triggers (migrations/0013_sla_pair_counts.sql).
export const slaOpenPairCounts = sqliteTable(
  "sla_open_pair_counts",
  {
    contractorId: integer("contractor_id").notNull(),
    dim: text("dim", { enum: ["agent", "priority"] }).notNull(),
    dimId: integer("dim_id").notNull(),
    n: integer("n").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.contractorId, t.dim, t.dimId] })],
);

// Audit events outlive their job (no foreign key): a deleted job keeps its history.
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: id(),
    uuid: uuid(),
    jobId: integer("job_id"),
    jobUuid: text("job_uuid"),
    actorUserId: integer("actor_user_id"),
    actorName: text("actor_name").notNull(),
    action: text("action").notNull(),
    // JSON {field: {before, after}}; encrypted fields appear as {"changed": true} without values.
    changes: text("changes"),
    createdAt: createdAt(),
    // "mcp" for a change made through the MCP server (src/mcp/); null through the HTTP API or a system actor.
    via: text("via"),
    // Set by the trigger audit_events_sequence_ai (migration 0020) in the insert itself: the job's
    // reference (kept once the job is deleted) and its per-job event number 1, 2, 3, … (webhooks' `sequence`).
    jobRef: text("job_ref"),
    sequence: integer("sequence"),
  },
  (t) => [index("audit_events_job_idx").on(t.jobUuid, t.id)],
);

// ── webhooks (src/webhooks/) ─────────────────────────────────────────────────────

export const webhookSubscriptions = sqliteTable("webhook_subscriptions", {
  id: id(),
  uuid: uuid(),
  url: text("url").notNull(),
  description: text("description"),
  // JSON array of event types; [] = every type.
  eventTypes: text("event_types").notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  // The whsec_ signing secret, encrypted (v1.<kid>.<b64>); shown once on create and rotate.
  secret: text("secret").notNull(),
  // Audit events up to this id predate the subscription and are not delivered to it.
  fromEventId: integer("from_event_id").notNull().default(0),
  createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  updatedAt: text("updated_at").notNull().default(now),
});

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: id(),
    // webhook-id is msg_<uuid>: the same on every retry and redelivery, so receivers can dedupe.
    uuid: uuid(),
    subscriptionId: integer("subscription_id")
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: "cascade" }),
    auditEventId: integer("audit_event_id").notNull(),
    eventType: text("event_type").notNull(),
    // The JSON body exactly as signed and sent (no private values).
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    responseStatus: integer("response_status"),
    latencyMs: integer("latency_ms"),
    lastError: text("last_error"),
    lastAttemptAt: text("last_attempt_at"),
    deliveredAt: text("delivered_at"),
    createdAt: createdAt(),
    // When a pending delivery is next attempted (now on creation, now + backoff on a retry); null once settled.
    nextAttemptAt: text("next_attempt_at"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_idx").on(t.subscriptionId, t.auditEventId, t.eventType),
    index("webhook_deliveries_sub_idx").on(t.subscriptionId, t.id),
    index("webhook_deliveries_status_idx").on(t.status, t.attempts, t.createdAt),
  ],
);

/** One row (id 1): the last audit event the relay has claimed, and the claim that moved it. */
export const webhookRelayCursor = sqliteTable("webhook_relay_cursor", {
  id: integer("id").primaryKey(),
  lastEventId: integer("last_event_id").notNull(),
  claim: text("claim"),
  updatedAt: text("updated_at").notNull().default(now),
});

// Idempotency-Key answers per API token, kept 24 h (src/http/idempotency.ts); status null while in flight;
// committed_at set in the handler's own write batch (migration 0011).
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tokenId: integer("token_id")
      .notNull()
      .references(() => apiTokens.id, { onDelete: "cascade" }),
    key: text("idem_key").notNull(),
    requestHash: text("request_hash").notNull(),
    status: integer("status"),
    contentType: text("content_type"),
    body: text("body"),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    committedAt: text("committed_at"),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] }), index("idempotency_keys_expires_idx").on(t.expiresAt)],
);

// Resumable uploads in progress (src/uploads/, migration 0018): the offset, the R2 multipart upload and
// its parts, who may resume it (the creating token) and what it becomes (job, target and its needs).
export const uploads = sqliteTable(
  "uploads",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    uuid: text("uuid").notNull().unique(),
    tokenId: integer("token_id").notNull(),
    userId: integer("user_id").notNull(),
    jobId: integer("job_id").notNull(),
    jobUuid: text("job_uuid").notNull(),
    target: text("target", { enum: ["photo", "document", "note_file"] }).notNull(),
    photoType: text("photo_type", { enum: ["before", "during", "after", "other"] }),
    fileTypeId: integer("file_type_id"),
    noteUuid: text("note_uuid"),
    filename: text("filename").notNull(),
    declaredType: text("declared_type"),
    uploadLength: integer("upload_length").notNull(),
    uploadOffset: integer("upload_offset").notNull().default(0),
    r2Key: text("r2_key").notNull(),
    r2UploadId: text("r2_upload_id"),
    parts: text("parts").notNull().default("[]"),
    leaseUntil: text("lease_until"),
    /** JSON: the record a completed upload became ({ target, uuid, id }). */
    result: text("result"),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("uploads_expires_idx").on(t.expiresAt)],
);
