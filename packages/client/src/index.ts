/**
 * @propops/client: the PropOps Jobs API from TypeScript or JavaScript. Generated from the API's
 * OpenAPI document (openapi-typescript types, openapi-fetch calls); CSRF, Idempotency-Key, retries
 * and typed errors handled for the caller; webhook verification with typed events.
 */
export {
  type CreatedJob,
  type CreatedNote,
  type CreateJobFields,
  createPropOpsClient,
  type DocumentUpload,
  type JobsPage,
  type ListJobsQuery,
  type NewNote,
  type PhotoUpload,
  type PropOpsClient,
  type PropOpsClientOptions,
  toFormData,
  type UpdatedJob,
  type UpdateJobFields,
  type UploadedDocument,
  type UploadedPhoto,
  type WriteOptions,
} from "./client.js";
export { type ApiErrorBody, type ErrorCode, PropOpsError } from "./errors.js";
export type { components, operations, paths, webhooks } from "./generated/schema.js";
export type { RetryOptions } from "./transport.js";
export {
  isEvent,
  verifyWebhook,
  type WebhookEvent,
  type WebhookEventOf,
  type WebhookEventType,
  type WebhookHeaders,
  WebhookVerificationError,
} from "./webhooks.js";
