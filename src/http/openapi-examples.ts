/**
 * What the OpenAPI document says beyond the route schemas: the reference's sections as tags, its
 * example requests and responses (completed with the fields this implementation adds, so each
 * example validates against its schema), every error status an operation can answer with and the
 * error codes behind it, and the response headers. Each operation declares its own (`docs` beside its route); applied in mount().
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";
import { ex } from "./openapi-samples";
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
  {
    name: "Uploads",
    description:
      "Resumable uploads (tus 1.0) of photos, videos, documents and note files: resume after a dropped connection at the stored offset.",
  },
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
  {
    name: "Live",
    description:
      "Live events: a WebSocket (GET /api/live, opened with a ticket from POST /api/live) or a poll (GET /api/live/events) of the events each caller may see.",
  },
  { name: "Operations", description: "Health of the deployment, for load balancers and monitors (no authentication)." },
  {
    name: "Webhooks",
    description: "Events sent to webhook subscribers (the `webhooks` section): Standard Webhooks signatures, one entry per event type.",
  },
] as const;

type Examples = Record<string, { summary: string; value: unknown }>;

export interface OperationDocs {
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
export function documented(route: RouteConfig, op: { docs?: OperationDocs; mutating: boolean }): RouteConfig {
  const docs = op.docs;
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
  return { ...route, ...(description ? { description } : {}), request, responses } as RouteConfig;
}
