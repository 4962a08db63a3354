/**
 * What the OpenAPI document says beyond the route schemas: the reference's sections as tags, its
 * example requests and responses (completed with the fields this implementation adds, so each
 * example validates against its schema), every error status an operation can answer with and the
 * error codes behind it, and the response headers. Keyed by operationId; applied in mount().
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";
import { ErrorBody } from "./openapi-shapes";

/** The reference's sections, in its order (plus the endpoints it leaves out). */
export const OPENAPI_TAGS = [
  {
    name: "Jobs",
    description:
      "List, retrieve, create, update and delete maintenance jobs. Private contact fields are encrypted at rest and decrypted in responses.",
  },
  {
    name: "Case Notes",
    description: "Case notes support rich text, email threading, and file attachments. Note text is encrypted at rest.",
  },
  {
    name: "Photos",
    description: "Job photos and videos, grouped by type (before, during, after, other); photos are compressed on ingest.",
  },
  { name: "Documents", description: "Job documents (PDF, DOCX, JPEG, PNG) with a file type category." },
  { name: "Recalls", description: "A recall reopens a completed job, recording the reason and creating a full audit trail." },
  {
    name: "Amendments",
    description:
      "The amendment flow lets contractors or agents propose changes to job fields (e.g. budget) which must be accepted or rejected by a manager.",
  },
  { name: "SLA Status", description: "SLA compliance data and breach detection for jobs." },
  {
    name: "Approval Gate",
    description: "The approval gate system requires management sign-off before certain jobs can progress to the next status.",
  },
  {
    name: "Work",
    description:
      "The work on a job (not in the reference): the assigned contractor accepts or declines, starts and completes with evidence; the office signs off or sends back. Every move follows the job lifecycle.",
  },
  { name: "Reference Endpoints", description: "These read-only endpoints return lookup data for populating form dropdowns." },
  {
    name: "Pin / Unpin",
    description: "Each user maintains their own independent pin list; pinned jobs appear in the Pinned Jobs dashboard widget.",
  },
  {
    name: "Remedials",
    description:
      "Remedial jobs are linked follow-on jobs created when the original job requires additional work after completion. The remedials API manages those relationships.",
  },
  { name: "Mark Recall Completed", description: "Closes the recall cycle of a recalled job and records a completion timestamp." },
  { name: "Amendable Fields", description: "The fields that can be proposed for amendment on a job; role-aware." },
  { name: "Video Variants", description: "Resolution variants of a processed job video, for adaptive playback." },
  { name: "Audit", description: "The audit trail of a job (not in the reference: an addition of this implementation)." },
  { name: "Security", description: "CSRF tokens for state-changing requests." },
  { name: "Admin", description: "Operator endpoints: encryption key rotation, signed webhook subscriptions and their delivery log." },
  { name: "Operations", description: "Health of the deployment, for load balancers and monitors (no authentication)." },
  {
    name: "Webhooks",
    description: "Events sent to webhook subscribers (the `webhooks` section): Standard Webhooks signatures, one entry per event type.",
  },
] as const;

type Tag = (typeof OPENAPI_TAGS)[number]["name"];
type Examples = Record<string, { summary: string; value: unknown }>;

interface OperationDocs {
  tag: Tag;
  /** Used when the operation itself has no description. */
  description?: string;
  /** Example values of query parameters, by name. */
  query?: Record<string, string | number | boolean>;
  /** Named request body examples. */
  body?: Examples;
  /** Named JSON response examples, by success status. */
  responses: Record<number, Examples>;
  /** Raises 404 (a record the caller names); reference lists and tokens do not. */
  notFound?: false;
  conflict?: true;
  /** Answers 503 when a dependency (the media queue) refuses work. */
  unavailable?: true;
  /** Sends an ETag with its 200 (a single job). */
  etag?: true;
  /** Honours If-Match (412 when stale): job update and delete. */
  ifMatch?: true;
}

const JOB_UUID = "550e8400-e29b-41d4-a716-446655440001";
const WEBHOOK = {
  uuid: "550e8400-e29b-41d4-a716-446655440801",
  url: "https://integrator.example.com/hooks/propops",
  description: "Ops board",
  event_types: ["job.created", "job.status_changed", "sla.breached"],
  enabled: true,
  created_at: "2024-06-01T09:00:00Z",
  updated_at: "2024-06-01T09:00:00Z",
};
const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const REMEDIAL_UUID = "550e8400-e29b-41d4-a716-446655441055";
const AMEND_UUID = "aa11bb22-cc33-4444-dd55-ee6677889900";
const VIDEO_UUID = "a1b2c3d4-e5f6-7890-abcd-ef0123456789";
const NOTE_UUID = "550e8400-e29b-41d4-a716-446655440050";
const OK = "Operation completed successfully";

const ex = (summary: string, value: unknown) => ({ summary, value });

const JOB_LIST_ITEM = {
  ID: 1001,
  uuid: JOB_UUID,
  job_ref: "JOB-001",
  job_title: "Boiler Service - Unit 001",
  job_description: "Annual boiler service required for property unit 001.",
  status_id: 1,
  status_name: "Open",
  priority_id: 2,
  priority_name: "Medium",
  job_type_id: 3,
  job_type_name: "Gas & Heating",
  agent_id: 10,
  agent_name: "Agent_001",
  contractor_id: 20,
  contractor_name: "Contractor_001",
  full_address: "1 Example Street, Sample Town, EX1 1AA",
  job_total_budget: 250.0,
  contractor_budget: 180.0,
  vat_percentage: 20.0,
  total_amount: 216.0,
  date_works_start_date: "2024-06-01",
  date_works_end_date: "2024-06-02",
  photos_count: 3,
  documents_count: 1,
  is_pinned: false,
  is_recall: 0,
  sla_deadline: "2024-06-03T09:30:00Z",
  sla_state: "within",
  created_at: "2024-01-15T09:30:00Z",
  updated_at: "2024-06-01T14:00:00Z",
};

const JOB_CREATE = {
  action: "create",
  job_title: "Boiler Service - Unit 001",
  job_description: "Annual boiler service",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
  address_id: 5,
  contractor_id: 20,
  vat_percentage: 20.0,
  job_total_budget: 250.0,
};

const API_TOKEN = {
  uuid: "550e8400-e29b-41d4-a716-446655440901",
  name: "Ops board (read only)",
  permissions: ["api.jobs.manage.list"],
  narrowed: true,
  created_at: "2024-06-01T09:00:00Z",
  last_used_at: "2024-06-01T12:35:00Z",
  expires_at: "2024-07-01T09:00:00Z",
  revoked_at: null,
  is_current: true,
};

const reference = (item: Record<string, unknown>, count = 1) => ({ success: true, data: [item], count, message: OK });
const directory = (item: Record<string, unknown>, count = 1) => ({ success: true, data: [item], count, count_capped: false, message: OK });

const DOCS: Record<string, OperationDocs> = {
  listOrGetJobs: {
    tag: "Jobs",
    query: { action: "list", status_id: 1, limit: 10 },
    responses: {
      200: {
        list: ex("A page of jobs (action=list)", { success: true, data: [JOB_LIST_ITEM], count: 42, count_capped: false, message: OK }),
      },
    },
    etag: true,
  },
  createUpdateDeleteJob: {
    tag: "Jobs",
    ifMatch: true,
    body: {
      create: ex("Create a job", JOB_CREATE),
      update: ex("Update a job (only the fields sent change)", { action: "update", uuid: JOB_UUID, contractor_budget: 200.0 }),
      delete: ex("Delete a job", { action: "delete", uuid: JOB_UUID }),
    },
    responses: {
      201: {
        created: ex("Job created", {
          success: true,
          job_id: 1001,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          message: "Job created successfully",
        }),
      },
      200: {
        updated: ex("Job updated", {
          success: true,
          message: "Job updated successfully",
          job_uuid: JOB_UUID,
          changed_fields: ["contractor_budget"],
        }),
      },
    },
    conflict: true,
  },
  listCaseNotesOrDownloadAttachment: {
    tag: "Case Notes",
    query: { action: "list", job_uuid: JOB_UUID },
    responses: {
      200: {
        list: ex("A job's case notes", {
          success: true,
          data: [
            {
              ID: 501,
              uuid: NOTE_UUID,
              job_id: 1001,
              message: "Contractor attended site and completed boiler service.",
              created_by_name: "Staff_001",
              send_email: false,
              attachments_count: 0,
              created_at: "2024-06-01T14:00:00Z",
              parent_uuid: null,
              is_html: false,
              is_pinned: false,
              source: "api",
              email_status: "none",
              email_error: null,
              updated_at: "2024-06-01T14:00:00Z",
              attachments: [],
            },
          ],
          count: 5,
          message: OK,
        }),
      },
    },
  },
  createUpdateDeleteCaseNote: {
    tag: "Case Notes",
    body: {
      create: ex("Create a case note", {
        action: "create",
        job_uuid: JOB_UUID,
        message: "Contractor attended site and completed boiler service.",
        send_email: false,
      }),
      update: ex("Edit the note text or toggle the pinned state", { action: "update", uuid: NOTE_UUID, is_pinned: true }),
      delete: ex("Remove a case note", { action: "delete", uuid: NOTE_UUID }),
    },
    responses: {
      201: {
        created: ex("Case note created", {
          success: true,
          note_uuid: NOTE_UUID,
          note_id: 501,
          email_status: "none",
          email_error: null,
          attachments_count: 0,
          message: "Case note created successfully",
        }),
      },
      200: {
        updated: ex("Case note updated", {
          success: true,
          message: "Case note updated successfully",
          note_uuid: NOTE_UUID,
          changed_fields: ["is_pinned"],
        }),
      },
    },
  },
  listPhotos: {
    tag: "Photos",
    query: { job_id: 1001 },
    responses: {
      200: {
        grouped: ex("Photos grouped by type", {
          success: true,
          data: {
            before: [
              {
                ID: 301,
                uuid: "550e8400-e29b-41d4-a716-446655440301",
                job_id: 1001,
                photo_type: "before",
                kind: "image",
                filename: "boiler.jpg",
                content_type: "image/jpeg",
                size: 2411520,
                width: 4032,
                height: 3024,
                compressed_size: 412000,
                processing_status: "completed",
                processing_error: null,
                url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=compressed",
                original_url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=original",
                compressed_url: "/api/jobs/photos/file?uuid=550e8400-e29b-41d4-a716-446655440301&variant=compressed",
                created_at: "2024-06-01T09:00:00Z",
              },
            ],
            during: [],
            after: [],
            other: [],
          },
          count: 1,
          message: OK,
        }),
      },
    },
  },
  uploadPhoto: {
    tag: "Photos",
    body: {
      upload: ex("Upload a photo (multipart/form-data)", {
        action: "upload",
        job_id: 1001,
        photo_type: "before",
        file: "(JPEG, PNG or MP4 bytes)",
      }),
    },
    responses: {
      201: {
        uploaded: ex("Stored; compression or transcoding follows", {
          success: true,
          photo_id: 301,
          photo_uuid: "550e8400-e29b-41d4-a716-446655440301",
          processing_status: "pending",
          message: "Photo uploaded successfully",
        }),
      },
    },
    unavailable: true,
  },
  deletePhoto: {
    tag: "Photos",
    body: { delete: ex("Send the photo ID as a JSON body", { id: 301 }) },
    responses: {
      200: {
        deleted: ex("Photo deleted", {
          success: true,
          message: "Photo deleted successfully",
          photo_uuid: "550e8400-e29b-41d4-a716-446655440301",
        }),
      },
    },
  },
  getPhotoFile: {
    tag: "Photos",
    query: { uuid: "550e8400-e29b-41d4-a716-446655440301", variant: "compressed" },
    responses: {},
  },
  listOrDownloadDocuments: {
    tag: "Documents",
    query: { action: "list", job_id: 1001 },
    responses: {
      200: {
        list: ex("A job's documents", {
          success: true,
          data: [
            {
              ID: 71,
              uuid: "550e8400-e29b-41d4-a716-446655440071",
              job_id: 1001,
              file_type_id: 2,
              file_type_name: "Gas Safety Certificate",
              filename: "gas-safety.pdf",
              content_type: "application/pdf",
              size: 183420,
              uploaded_by: 7,
              created_at: "2024-06-01T15:00:00Z",
              download_url: "/api/jobs/documents?action=download&uuid=550e8400-e29b-41d4-a716-446655440071",
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
  uploadDocument: {
    tag: "Documents",
    body: {
      upload: ex("Upload a document (multipart/form-data)", {
        action: "upload",
        job_id: 1001,
        file_type_id: 2,
        file: "(PDF, DOCX, JPEG or PNG bytes)",
      }),
    },
    responses: {
      201: {
        uploaded: ex("Document stored", {
          success: true,
          document_id: 71,
          document_uuid: "550e8400-e29b-41d4-a716-446655440071",
          message: "Document uploaded successfully",
        }),
      },
    },
    unavailable: true,
  },
  deleteDocument: {
    tag: "Documents",
    body: { delete: ex("Send the document ID as a JSON body", { document_id: 71 }) },
    responses: {
      200: {
        deleted: ex("Document deleted", {
          success: true,
          message: "Document deleted successfully",
          document_uuid: "550e8400-e29b-41d4-a716-446655440071",
        }),
      },
    },
  },
  recallJob: {
    tag: "Recalls",
    body: { recall: ex("Create a recall", { job_uuid: JOB_UUID, recall_reason: "Repair was unsuccessful" }) },
    responses: {
      200: {
        recalled: ex("Job recalled", {
          success: true,
          message: "Job marked as recalled successfully",
          job_id: 1001,
          job_ref: "JOB-001",
          is_recall: 1,
          action: "marked as recalled",
        }),
      },
    },
    conflict: true,
  },
  listAmendmentRequests: {
    tag: "Amendments",
    query: { job_uuid: JOB_UUID, status: "pending" },
    responses: {
      200: {
        pending: ex("Pending requests of a job", {
          success: true,
          data: [
            {
              uuid: AMEND_UUID,
              job_uuid: JOB_UUID,
              job_ref: "JOB-001",
              field_name: "contractor_budget",
              current_value: "180.00",
              requested_value: "220.00",
              reason: "Additional materials required.",
              status: "pending",
              requested_by: "Contractor_001",
              requested_at: "2024-06-14T10:00:00Z",
              decided_by: null,
              decided_at: null,
              decision_notes: null,
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
  submitAmendmentRequest: {
    tag: "Amendments",
    body: {
      submit: ex("Propose a new contractor budget", {
        job_uuid: JOB_UUID,
        field_name: "contractor_budget",
        requested_value: "220.00",
        reason: "Additional materials required.",
      }),
    },
    responses: { 201: { submitted: ex("Request recorded", { success: true, message: "Amendment request submitted", uuid: AMEND_UUID }) } },
    conflict: true,
  },
  decideAmendmentRequest: {
    tag: "Amendments",
    body: { approve: ex("Approve a pending request", { uuid: AMEND_UUID, status: "approved" }) },
    responses: { 200: { approved: ex("Request approved", { success: true, message: "Amendment request approved" }) } },
    conflict: true,
  },
  getSlaStatus: {
    tag: "SLA Status",
    query: { limit: 50 },
    responses: {
      200: {
        status: ex("SLA compliance", {
          success: true,
          data: {
            jobs_within_sla: 108,
            jobs_overdue: 12,
            jobs_breached: 4,
            breach_details: [{ job_uuid: JOB_UUID, job_ref: "JOB-001", sla_deadline: "2024-06-01T17:00:00Z", hours_overdue: 26 }],
            breach_details_truncated: true,
          },
          message: OK,
        }),
      },
    },
    notFound: false,
  },
  decideApprovalGate: {
    tag: "Approval Gate",
    body: { approve: ex("Approve a gate", { job_uuid: JOB_UUID, decision: "approve", notes: "Checked on site — proceed." }) },
    responses: { 200: { approved: ex("Job progressed", { success: true, message: "Job approved and progressed to next status" }) } },
    conflict: true,
  },
  reportWork: {
    tag: "Work",
    body: {
      accept: ex("The assigned contractor accepts the job", { action: "accept", job_uuid: JOB_UUID }),
      decline: ex("The assigned contractor declines, with a reason", {
        action: "decline",
        job_uuid: JOB_UUID,
        reason: "No gas-safe engineer free this week",
      }),
      start: ex("Work starts (Approved → In Progress)", { action: "start", job_uuid: JOB_UUID }),
      complete: ex("Completed with its evidence (an after photo is already uploaded)", {
        action: "complete",
        job_uuid: JOB_UUID,
        completion_note: "Boiler serviced; flue gas analysis within limits.",
      }),
      sign_off: ex("The office signs the work off (Completed → Closed)", { action: "sign_off", job_uuid: JOB_UUID }),
      send_back: ex("The office sends it back, with a reason", {
        action: "send_back",
        job_uuid: JOB_UUID,
        reason: "Radiator in bedroom 2 still cold",
      }),
    },
    responses: {
      200: {
        completed: ex("Completed: nothing more is open to the contractor", {
          success: true,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          status_id: 6,
          status_name: "Completed",
          next_statuses: [],
          message: "Job completed",
        }),
        accepted: ex("Accepted: starting is open next", {
          success: true,
          job_uuid: JOB_UUID,
          job_ref: "JOB-001",
          status_id: 3,
          status_name: "Approved",
          next_statuses: [
            {
              status_id: 4,
              status_name: "In Progress",
              via: "start",
              operation: "POST /api/jobs/work action=start",
              requires: ["acceptance"],
            },
          ],
          message: "Job accepted",
        }),
      },
    },
    conflict: true,
  },
  listStatuses: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: {
      200: {
        list: ex(
          "All job status options",
          reference({
            ID: 1,
            name: "Open",
            sort_order: 1,
            requires_approval: false,
            is_completed: false,
            is_closed: false,
            is_cancelled: false,
            is_archived: false,
          }),
        ),
      },
    },
    notFound: false,
  },
  listJobTypes: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: { 200: { list: ex("All job type categories", reference({ ID: 3, name: "Gas & Heating" })) } },
    notFound: false,
  },
  listPriorities: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: { 200: { list: ex("All priority levels", reference({ ID: 2, name: "Medium", sort_order: 2, sla_hours: 72 })) } },
    notFound: false,
  },
  listPaymentStatuses: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: { 200: { list: ex("Payment status options", reference({ ID: 1, name: "Unpaid" })) } },
    notFound: false,
  },
  listTimeRanges: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: {
      200: { list: ex("Available contractor time slots", reference({ ID: 1, name: "Morning", start_time: "08:00", end_time: "12:00" })) },
    },
    notFound: false,
  },
  listAddresses: {
    tag: "Reference Endpoints",
    query: { action: "list", search: "Example Street" },
    responses: {
      200: {
        list: ex(
          "Searchable property addresses",
          reference({
            ID: 5,
            line1: "1 Example Street",
            line2: null,
            town: "Sample Town",
            postcode: "EX1 1AA",
            full_address: "1 Example Street, Sample Town, EX1 1AA",
          }),
        ),
      },
    },
    notFound: false,
  },
  listFileTypes: {
    tag: "Reference Endpoints",
    query: { action: "list" },
    responses: { 200: { list: ex("Document file type categories", reference({ ID: 2, name: "Gas Safety Certificate" })) } },
    notFound: false,
  },
  listContractors: {
    tag: "Reference Endpoints",
    query: { action: "list", search: "Contr", job_type_id: 3, active: "true" },
    responses: {
      200: {
        list: ex("Active gas & heating contractors whose name starts with Contr", {
          ...directory({
            ID: 20,
            uuid: "550e8400-e29b-41d4-a716-446655440020",
            name: "Contractor_001",
            email: "contractor_001@contractors.propops.example.com",
            active: true,
            job_types: [
              { ID: 3, name: "Gas & Heating" },
              { ID: 2, name: "Plumbing" },
            ],
          }),
        }),
      },
    },
    notFound: false,
  },
  listAgents: {
    tag: "Reference Endpoints",
    query: { action: "list", search: "Agent", active: "true" },
    responses: {
      200: {
        list: ex(
          "Active agents whose name starts with Agent",
          directory({
            ID: 10,
            uuid: "550e8400-e29b-41d4-a716-446655440010",
            name: "Agent_001",
            email: "agent_001@agents.propops.example.com",
            active: true,
          }),
        ),
      },
    },
    notFound: false,
  },
  listStaff: {
    tag: "Reference Endpoints",
    query: { action: "list", search: "Man", role: "manager" },
    responses: {
      200: {
        list: ex(
          "Managers whose name starts with Man",
          directory({
            ID: 2,
            uuid: "550e8400-e29b-41d4-a716-446655440002",
            name: "Manager_001",
            email: "manager_001@propops.example.com",
            role: "manager",
            active: true,
          }),
        ),
      },
    },
    notFound: false,
  },
  listTenants: {
    tag: "Reference Endpoints",
    query: { action: "list", address_id: 5 },
    responses: {
      200: {
        list: ex(
          "The tenants of address 5, contacts masked",
          directory({
            ID: 7,
            uuid: "550e8400-e29b-41d4-a716-446655440007",
            name: "Tenant One",
            address_id: 5,
            active: true,
            email: "t•••@example.com",
            phone: "•••• 123",
          }),
        ),
      },
    },
    notFound: false,
  },
  toggleJobPin: {
    tag: "Pin / Unpin",
    body: { toggle: ex("Toggle job pin", { job_uuid: JOB_UUID }) },
    responses: {
      200: {
        pinned: ex("Now pinned", { success: true, is_pinned: true, message: "Job pinned to your dashboard" }),
        unpinned: ex("Was pinned: now unpinned", { success: true, is_pinned: false, message: "Job unpinned from your dashboard" }),
      },
    },
  },
  listRemedials: {
    tag: "Remedials",
    query: { action: "list", job_uuid: JOB_UUID },
    responses: {
      200: {
        list: ex(
          "Remedials of a job",
          reference({
            ID: 1055,
            uuid: REMEDIAL_UUID,
            job_ref: "JOB-1055",
            job_title: "Boiler follow-up — parts replacement",
            status_name: "Open",
            created_on: "2024-06-15T09:00:00Z",
          }),
        ),
      },
    },
  },
  linkOrUnlinkRemedial: {
    tag: "Remedials",
    body: {
      link: ex("Link a remedial job", { action: "link", job_uuid: JOB_UUID, remedials_job_uuid: REMEDIAL_UUID }),
      unlink: ex("Unlink a job from its remedial parent", { action: "unlink", job_uuid: REMEDIAL_UUID }),
    },
    responses: { 200: { linked: ex("Linked", { success: true, message: "Remedial job linked" }) } },
    conflict: true,
  },
  markRecallCompleted: {
    tag: "Mark Recall Completed",
    body: { complete: ex("Complete a recalled job", { job_uuid: JOB_UUID }) },
    responses: {
      200: {
        completed: ex("Recall completed", {
          success: true,
          message: "Recall marked as completed successfully",
          data: { job_id: 1001, job_title: "Boiler Service - Unit 001" },
        }),
      },
    },
    conflict: true,
  },
  listAmendableFields: {
    tag: "Amendable Fields",
    query: { job_uuid: JOB_UUID },
    responses: {
      200: {
        staff: ex("Fields a staff member may propose changes to", {
          success: true,
          data: {
            job_uuid: JOB_UUID,
            job_ref: "JOB-001",
            user_type: "staff",
            fields: [
              {
                key: "job_title",
                label: "Job Title",
                type: "text",
                current_value: "Boiler Service - Unit 001",
                required: true,
                description: "The title/name of the job",
              },
              {
                key: "job_description",
                label: "Job Description",
                type: "textarea",
                current_value: "Annual boiler service required.",
                required: false,
                description: "Detailed description of the job",
              },
            ],
          },
          message: OK,
        }),
      },
    },
  },
  listJobAuditEvents: {
    tag: "Audit",
    query: { job_uuid: JOB_UUID, limit: 50 },
    responses: {
      200: {
        list: ex("A job's audit trail", {
          success: true,
          data: [
            {
              uuid: "550e8400-e29b-41d4-a716-446655440900",
              action: "job.updated",
              actor_name: "Staff_001",
              actor_user_id: 7,
              changes: { contractor_budget: { from: 180, to: 200 } },
              created_at: "2024-06-01T14:00:00Z",
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
  getVideoVariants: {
    tag: "Video Variants",
    query: { uuid: VIDEO_UUID },
    responses: {
      200: {
        processed: ex("A processed video", {
          success: true,
          uuid: VIDEO_UUID,
          original: {
            url: "/attachment/a1b2c3d4-e5f6-7890-abcd-ef0123456789",
            size: 15728640,
            path: "uploads/jobs/videos/a1b2c3d4.mp4",
          },
          variants: {
            "1080p": {
              url: "/uploads/jobs/videos/variants/a1b2c3d4_1080p.mp4",
              width: 1920,
              height: 1080,
              bitrate: 4000000,
              size: 12582912,
            },
            "720p": { url: "/uploads/jobs/videos/variants/a1b2c3d4_720p.mp4", width: 1280, height: 720, bitrate: 2500000, size: 6291456 },
          },
          thumbnail: "/uploads/jobs/videos/thumbnails/a1b2c3d4_thumb.jpg",
          processing_status: "completed",
          processed: true,
          processed_at: "2024-06-01T14:05:00Z",
        }),
        pending: ex("Not processed yet: the original is the only source", {
          success: true,
          uuid: VIDEO_UUID,
          original: {
            url: "/attachment/a1b2c3d4-e5f6-7890-abcd-ef0123456789",
            size: 15728640,
            path: "uploads/jobs/videos/a1b2c3d4.mp4",
          },
          variants: [],
          thumbnail: null,
          processing_status: "pending",
          processed: false,
          processed_at: null,
        }),
      },
    },
  },
  getVideoVariantFile: {
    tag: "Video Variants",
    query: { uuid: VIDEO_UUID, variant: "720p" },
    responses: {},
  },
  getCsrfToken: {
    tag: "Security",
    responses: {
      200: {
        token: ex("A CSRF token bound to the caller's API token", {
          success: true,
          csrf_token: "1733011200.b64url-signature",
          expires_at: "2024-12-01T00:00:00Z",
          message: OK,
        }),
      },
    },
    notFound: false,
  },
  listApiTokens: {
    tag: "Security",
    query: { action: "list", limit: 50, offset: 0 },
    responses: { 200: { tokens: ex("Your active tokens", { success: true, data: [API_TOKEN], count: 1, message: OK }) } },
  },
  manageApiTokens: {
    tag: "Security",
    conflict: true,
    body: {
      create: ex("A read-only token for a wall board, for 30 days", {
        action: "create",
        name: "Ops board (read only)",
        permissions: ["api.jobs.manage.list"],
        expires_days: 30,
      }),
      revoke: ex("Revoke a token", { action: "revoke", uuid: API_TOKEN.uuid }),
    },
    responses: {
      201: {
        created: ex("Created: the token is shown once", {
          success: true,
          token: "pp_6f1c2a8e4f3d4a519c8e2f6d1b7a9e10_Yk3p0cQm8uB7l9v2nX4zR1tW6sJ5hD0aE3fG8iK2oL4",
          token_info: { ...API_TOKEN, last_used_at: null, is_current: false },
          message: "Token created: copy it now, it is not shown again",
        }),
      },
      200: {
        revoked: ex("Revoked", {
          success: true,
          token_info: { ...API_TOKEN, revoked_at: "2024-06-02T09:00:00Z", is_current: false },
          message: "Token revoked",
        }),
      },
    },
  },
  listOrGetWebhookSubscriptions: {
    tag: "Admin",
    query: { action: "list", limit: 50, offset: 0 },
    responses: {
      200: {
        list: ex("Subscriptions (action=list)", { success: true, data: [WEBHOOK], count: 1, message: OK }),
        get: ex("One subscription (action=get)", { success: true, data: WEBHOOK, message: OK }),
      },
    },
  },
  manageWebhookSubscriptions: {
    tag: "Admin",
    body: {
      create: ex("Subscribe to job and SLA events", {
        action: "create",
        url: "https://integrator.example.com/hooks/propops",
        event_types: ["job.created", "job.status_changed", "sla.breached"],
        description: "Ops board",
      }),
      update: ex("Pause a subscription", { action: "update", uuid: WEBHOOK.uuid, enabled: false }),
      rotate: ex("Rotate the signing secret", { action: "rotate_secret", uuid: WEBHOOK.uuid }),
      delete: ex("Delete a subscription", { action: "delete", uuid: WEBHOOK.uuid }),
    },
    responses: {
      201: {
        created: ex("Created: the secret is shown once", {
          success: true,
          subscription: WEBHOOK,
          secret: WHSEC,
          message: "Webhook subscription created",
        }),
      },
      200: {
        rotated: ex("Secret rotated: the new secret is shown once", {
          success: true,
          subscription: WEBHOOK,
          secret: WHSEC,
          message: "Signing secret rotated",
        }),
        updated: ex("Updated", { success: true, subscription: { ...WEBHOOK, enabled: false }, message: "Webhook subscription updated" }),
      },
    },
  },
  listWebhookDeliveries: {
    tag: "Admin",
    query: { subscription_uuid: WEBHOOK.uuid, status: "failed", limit: 50, offset: 0 },
    responses: {
      200: {
        deliveries: ex("The delivery log of a subscription", {
          success: true,
          data: [
            {
              uuid: "550e8400-e29b-41d4-a716-446655440802",
              webhook_id: "msg_550e8400-e29b-41d4-a716-446655440802",
              event_type: "job.created",
              status: "failed",
              attempts: 9,
              response_status: 500,
              latency_ms: 312,
              last_error: "HTTP 500",
              last_attempt_at: "2024-06-02T09:00:00Z",
              delivered_at: null,
              created_at: "2024-06-01T09:00:00Z",
              payload: { type: "job.created", timestamp: "2024-06-01T09:00:00Z", data: { job_uuid: JOB_UUID } },
            },
          ],
          count: 1,
          message: OK,
        }),
      },
    },
  },
  redeliverWebhook: {
    tag: "Admin",
    conflict: true,
    body: {
      redeliver: ex("Send a delivery again (same webhook-id)", { action: "redeliver", uuid: "550e8400-e29b-41d4-a716-446655440802" }),
    },
    responses: {
      202: {
        queued: ex("Queued for delivery", {
          success: true,
          delivery_uuid: "550e8400-e29b-41d4-a716-446655440802",
          message: "Delivery queued again",
        }),
      },
    },
  },
  rotateEncryptionKeys: {
    tag: "Admin",
    description:
      "Administrators only. After a new key is added to ENCRYPTION_KEYS and made active, call this until `complete` is true (`npm run rotate-keys` loops); old keys stay in the ring until then.",
    body: { batch: ex("Re-encrypt up to 500 rows under the active key", { limit: 500 }) },
    responses: {
      200: {
        done: ex("Every row is under the active key", {
          success: true,
          rotated: 42,
          complete: true,
          active_key_id: "k2",
          message: "All encrypted fields use the active key",
        }),
      },
    },
    notFound: false,
  },
};

/** Operations without an entry (none today) keep their own tag and get no examples. */
export function operationDocs(operationId: string): OperationDocs | undefined {
  return DOCS[operationId];
}

const header = (description: string, schema: Record<string, unknown> = { type: "string" }) => ({ description, schema });

/** Sent with every response (names shared with the rate-limit and D1 session work). */
export const COMMON_HEADERS = {
  "X-Request-Id": header("Request id: the caller's X-Request-Id when well formed (1-128 of A-Z a-z 0-9 . _ -), else a new UUID"),
  RateLimit: header("Remaining requests in the current window (IETF draft RateLimit header fields)"),
  "RateLimit-Policy": header("The rate-limit policy applied to the caller"),
  "X-D1-Bookmark": header("D1 session bookmark: send it back on the next request to read your own writes"),
};

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input: `errors` lists each field and what is wrong with it",
  401: "Missing, unknown, revoked or expired bearer token",
  403: "Missing permission, missing or invalid CSRF token, or an archived job",
  404: "Unknown record, or one the caller may not see",
  409: "The record's state does not allow this change (or it changed meanwhile): read it again",
  412: "If-Match names a version of the job that is no longer current: read it again",
  413: "Request body or file too large",
  415: "Unsupported body or file type",
  422: "The Idempotency-Key was already used for a different request",
  429: "Rate limited: retry after the Retry-After seconds",
  500: "Internal error: quote the request id when reporting it",
  503: "A dependency is unavailable; nothing was stored, retry later",
};

const CODE_MESSAGE: Record<ErrorCode, string> = {
  BAD_REQUEST: "job_title: is required",
  UNAUTHORIZED: "Missing bearer token: send Authorization: Bearer <token>",
  FORBIDDEN: "Missing permission: api.jobs.manage.manage",
  CSRF_INVALID: "Missing CSRF token: send the csrf_token field or the X-CSRF-Token header (GET /api/security/csrf-token)",
  ARCHIVED: "Archived jobs cannot be changed",
  NOT_FOUND: "Job not found",
  CONFLICT: "This job is not marked as a recall",
  TRANSITION_NOT_ALLOWED: "A staff cannot move a job from Open to Completed",
  TRANSITION_REQUIRES_EVIDENCE: 'In Progress → Completed requires 1 "after" photo (POST /api/jobs/photos photo_type=after; the job has 0)',
  APPROVAL_REQUIRED:
    "This job is Awaiting Approval: only the approval gate (POST /api/jobs/approval-gate, by a manager or admin) moves it on",
  BUDGET_EXCEEDED:
    "£312.00 with VAT exceeds the client budget of £310.00: lower contractor_budget or vat_percentage, raise job_total_budget, or (managers and admins) send accept_budget_overrun=1",
  PRECONDITION_FAILED: "The job has changed since the ETag you sent: read it again",
  UNPROCESSABLE: "This Idempotency-Key was used for a different request",
  PAYLOAD_TOO_LARGE: "file: larger than 20 MB",
  UNSUPPORTED_MEDIA_TYPE: "file: not a JPEG, PNG or MP4 file",
  RATE_LIMITED: "Too many requests: slow down and retry shortly",
  INTERNAL: "Internal error; quote the request id when reporting it",
  UNAVAILABLE: "The upload could not be queued for processing; nothing was stored, please retry",
};

const LIFECYCLE_CODES: ReadonlySet<ErrorCode> = new Set(["TRANSITION_NOT_ALLOWED", "TRANSITION_REQUIRES_EVIDENCE", "APPROVAL_REQUIRED"]);
const LIFECYCLE_EXAMPLE = {
  current_status: { status_id: 1, status_name: "Open" },
  next_statuses: [
    { status_id: 2, status_name: "Awaiting Approval", via: "update", operation: "POST /api/jobs/manage action=update", requires: [] },
    { status_id: 8, status_name: "Cancelled", via: "update", operation: "POST /api/jobs/manage action=update", requires: [] },
  ],
};

function errorResponse(status: number, codes: ErrorCode[]) {
  const examples: Examples = {};
  for (const code of codes) {
    examples[code] = ex(code, {
      success: false,
      message: CODE_MESSAGE[code],
      code,
      errors: code === "BAD_REQUEST" ? [{ field: "job_title", message: "is required" }] : [],
      ...(LIFECYCLE_CODES.has(code) ? LIFECYCLE_EXAMPLE : {}),
      request_id: "0b5c2a8e-4f3d-4a51-9c8e-2f6d1b7a9e10",
    });
  }
  return {
    description: `${ERROR_TEXT[status] ?? "Error"}. Error codes: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    headers: {
      ...COMMON_HEADERS,
      ...(status === 429 ? { "Retry-After": header("Seconds to wait before retrying", { type: "integer" }) } : {}),
    },
    content: { "application/json": { schema: ErrorBody, examples } },
  };
}

function errorStatuses(docs: OperationDocs | undefined, mutating: boolean): number[] {
  const statuses = [400, 401, 403];
  if (docs?.notFound !== false) statuses.push(404);
  // Every mutating operation may meet a retry still in flight under its Idempotency-Key (409).
  if (docs?.conflict || mutating) statuses.push(409);
  if (docs?.ifMatch) statuses.push(412);
  if (mutating) statuses.push(413, 415, 422);
  statuses.push(429, 500);
  if (docs?.unavailable) statuses.push(503);
  return statuses;
}

function codesFor(status: number, mutating: boolean): ErrorCode[] {
  return (Object.entries(ERROR_STATUS) as [ErrorCode, number][])
    .filter(([code, s]) => s === status && (mutating || (code !== "CSRF_INVALID" && code !== "ARCHIVED")))
    .map(([code]) => code);
}

type ResponseObject = { description: string; headers?: unknown; content?: Record<string, Record<string, unknown>> };

/**
 * The route as documented: the reference's tag, examples on the query, body and JSON responses,
 * response headers, and exactly the error statuses this operation can answer with.
 */
export function documented(route: RouteConfig, op: { operationId: string; mutating: boolean }): RouteConfig {
  const docs = DOCS[op.operationId];
  const responses: Record<string, ResponseObject> = {};
  for (const [status, res] of Object.entries(route.responses as Record<string, ResponseObject>)) {
    if (Number(status) >= 400) continue;
    const examples = docs?.responses[Number(status)];
    const content = res.content
      ? Object.fromEntries(
          Object.entries(res.content).map(([type, media]) => [
            type,
            type === "application/json" && examples ? { ...media, examples } : media,
          ]),
        )
      : undefined;
    const headers = { ...COMMON_HEADERS, ...(docs?.etag ? { ETag: header("Version of the job (action=get); send it as If-Match") } : {}) };
    responses[status] = { ...res, headers, ...(content ? { content } : {}) };
  }
  for (const status of errorStatuses(docs, op.mutating)) responses[status] = errorResponse(status, codesFor(status, op.mutating));

  const request = { ...route.request };
  if (docs?.query && request.query instanceof z.ZodObject) {
    const shape = { ...(request.query.shape as Record<string, z.ZodType>) };
    for (const [name, example] of Object.entries(docs.query)) {
      const field = shape[name];
      if (field) shape[name] = field.openapi({ example });
    }
    request.query = z.object(shape) as never;
  }
  if (docs?.body && request.body?.content) {
    const content = request.body.content as Record<string, Record<string, unknown>>;
    request.body = {
      ...request.body,
      content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { ...media, examples: docs.body }])),
    };
  }
  const description = route.description || docs?.description;
  return { ...route, tags: docs ? [docs.tag] : route.tags, ...(description ? { description } : {}), request, responses } as RouteConfig;
}
