import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The closed set of error codes the API answers with; each maps to one HTTP status. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CSRF_INVALID: 403,
  ARCHIVED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** The job lifecycle (src/domain/lifecycle.ts): no such transition for this caller and channel. */
  TRANSITION_NOT_ALLOWED: 409,
  /** The transition exists, but its evidence (after photos, completion note, acceptance) is missing. */
  TRANSITION_REQUIRES_EVIDENCE: 409,
  /** The job is in a status that requires approval: only the approval gate moves it on. */
  APPROVAL_REQUIRED: 409,
  /** The contractor's total with VAT would exceed the client budget (src/domain/job-fields.ts `budgetCheck`). */
  BUDGET_EXCEEDED: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[];
  /** Extra top-level fields of the error body (a lifecycle refusal's `current_status`, `next_statuses`). */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, errors: FieldError[] = [], details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.errors = errors;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const badRequest = (message: string, errors: FieldError[] = []) => new ApiError("BAD_REQUEST", message, errors);
export const notFound = (what: string) => new ApiError("NOT_FOUND", `${what} not found`);
export const forbidden = (message: string) => new ApiError("FORBIDDEN", message);
export const conflict = (message: string) => new ApiError("CONFLICT", message);
