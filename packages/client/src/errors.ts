import type { components } from "./generated/schema.js";

/** The API's error envelope, as its OpenAPI document describes it. */
export type ApiErrorBody = components["schemas"]["Error"];
/** The closed set of error codes the API answers with (each maps to one HTTP status). */
export type ErrorCode = ApiErrorBody["code"];

/**
 * A non-2xx answer (after any retries): the status, the API's `code`, `message`, field `errors`
 * and the `request_id` to quote when reporting it (the `X-Request-Id` header when the body has none).
 */
export class PropOpsError extends Error {
  override readonly name = "PropOpsError";
  readonly status: number;
  /** The API's code; `UNAVAILABLE` or `INTERNAL` when something in between answered without the envelope. */
  readonly code: ErrorCode;
  readonly errors: { field: string; message: string }[];
  readonly requestId: string;
  /** The whole error body (lifecycle refusals carry `current_status` and `next_statuses`). */
  readonly body: Partial<ApiErrorBody>;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const envelope = isEnvelope(body) ? body : {};
    const fallback: ErrorCode = response.status >= 500 ? (response.status === 500 ? "INTERNAL" : "UNAVAILABLE") : "BAD_REQUEST";
    super(envelope.message ?? `HTTP ${response.status} ${response.statusText}`.trim());
    this.status = response.status;
    this.code = envelope.code ?? fallback;
    this.errors = envelope.errors ?? [];
    this.requestId = envelope.request_id ?? response.headers.get("X-Request-Id") ?? "";
    this.body = envelope;
    this.response = response;
  }

  /** The same, with the snake_case name the API uses. */
  get request_id(): string {
    return this.requestId;
  }

  /** Reads a failed answer's body into a PropOpsError. */
  static async from(response: Response): Promise<PropOpsError> {
    const text = await response.text().catch(() => "");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: a proxy's page; the status still says what happened
    }
    return new PropOpsError(response, body);
  }
}

function isEnvelope(body: unknown): body is Partial<ApiErrorBody> {
  return typeof body === "object" && body !== null && (body as { success?: unknown }).success === false;
}
