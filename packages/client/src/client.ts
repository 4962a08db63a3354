import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./generated/schema.js";
import { createTransport, type RetryOptions } from "./transport.js";

export interface PropOpsClientOptions {
  /** Where the API answers, e.g. `https://propops.yourcompany.com` (no trailing path). */
  baseUrl: string;
  /** An API token (`pp_…`). */
  token: string;
  /** Another fetch (a proxy's, a test's); it receives a `Request`. */
  fetch?: (request: Request) => Promise<Response>;
  retry?: Partial<RetryOptions>;
}

type Method = "get" | "post" | "patch" | "delete";
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M & keyof paths[P]]>;
type Content<O, T extends string> = O extends { requestBody?: infer B }
  ? NonNullable<B> extends { content: infer C }
    ? C extends Record<T, infer X>
      ? X
      : never
    : never
  : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type Answer<O, S extends number> = O extends { responses: infer R }
  ? R extends Record<S, { content: { "application/json": infer X } }>
    ? X
    : never
  : never;
/** A body without the fields the client fills in itself. */
type Fields<B, A extends string> = Omit<Extract<B, { action?: A }>, "action" | "csrf_token">;

type JobsBody = Content<Op<"/api/jobs/manage", "post">, "application/json">;
type NotesBody = Content<Op<"/api/jobs/case-notes", "post">, "multipart/form-data">;
type PhotoBody = Content<Op<"/api/jobs/photos", "post">, "multipart/form-data">;
type DocumentBody = Content<Op<"/api/jobs/documents", "post">, "multipart/form-data">;

/** The list filters of GET /api/jobs/manage (the query without `action` and the single-job `uuid`). */
export type ListJobsQuery = Omit<Query<Op<"/api/jobs/manage", "get">>, "action" | "uuid">;
/** A page of jobs (the list answer of GET /api/jobs/manage). */
export type JobsPage = Extract<Answer<Op<"/api/jobs/manage", "get">, 200>, { count: number }>;
export type CreateJobFields = Fields<JobsBody, "create">;
export type UpdateJobFields = Fields<JobsBody, "update">;
export type CreatedJob = Answer<Op<"/api/jobs/manage", "post">, 201>;
export type UpdatedJob = Answer<Op<"/api/jobs/manage", "post">, 200>;
/** A photo or video: `file` is a Blob or File (a Blob is sent with `filename`, default `upload`). */
export type PhotoUpload = Omit<PhotoBody, "action" | "csrf_token"> & { filename?: string };
export type UploadedPhoto = Answer<Op<"/api/jobs/photos", "post">, 201>;
export type DocumentUpload = Omit<DocumentBody, "action" | "csrf_token"> & { filename?: string };
export type UploadedDocument = Answer<Op<"/api/jobs/documents", "post">, 201>;
export type NewNote = Fields<NotesBody, "create">;
export type CreatedNote = Answer<Op<"/api/jobs/case-notes", "post">, 201>;

export interface PropOpsClient {
  /**
   * Every operation of the API, typed from its OpenAPI document (openapi-fetch): paths, query,
   * bodies and answers. Bearer token, CSRF, Idempotency-Key and retries are handled; a non-2xx
   * answer throws `PropOpsError`. Uploads: pass `bodySerializer: toFormData`.
   */
  api: Client<paths>;
  /** The current CSRF token (fetched and refreshed for you; for requests sent some other way). */
  csrfToken(): Promise<string>;
  listJobs(query?: ListJobsQuery): Promise<JobsPage>;
  createJob(fields: CreateJobFields, opts?: WriteOptions): Promise<CreatedJob>;
  updateJob(fields: UpdateJobFields, opts?: WriteOptions & { ifMatch?: string }): Promise<UpdatedJob>;
  uploadPhoto(upload: PhotoUpload, opts?: WriteOptions): Promise<UploadedPhoto>;
  uploadDocument(upload: DocumentUpload, opts?: WriteOptions): Promise<UploadedDocument>;
  addNote(note: NewNote, opts?: WriteOptions): Promise<CreatedNote>;
}

export interface WriteOptions {
  /** Your own key for this write, to retry it safely across restarts (default: a new UUID, reused by the client's own retries). */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/**
 * A multipart body from a plain record: Blobs as files (a `filename` field names a Blob; a File
 * keeps its name), arrays as repeated fields, everything else as text. Undefined values are left out.
 */
export function toFormData(body: unknown): FormData {
  const form = new FormData();
  const { filename, ...fields } = (body ?? {}) as Record<string, unknown>;
  const add = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (value instanceof Blob)
      form.append(key, value, typeof File !== "undefined" && value instanceof File ? value.name : String(filename ?? "upload"));
    else form.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  };
  for (const [key, value] of Object.entries(fields)) {
    if (Array.isArray(value)) for (const item of value) add(key, item);
    else add(key, value);
  }
  return form;
}

const writeHeaders = (opts: WriteOptions = {}, extra: Record<string, string | undefined> = {}) => {
  const headers: Record<string, string> = {};
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  for (const [k, v] of Object.entries(extra)) if (v) headers[k] = v;
  return headers;
};

/** A 2xx answer's data (the transport threw for anything else). */
function data<T>(result: { data?: T }): NonNullable<T> {
  if (result.data === undefined || result.data === null) throw new Error("The API answered without a body");
  return result.data as NonNullable<T>;
}

/** A client for the PropOps Jobs API. */
export function createPropOpsClient(options: PropOpsClientOptions): PropOpsClient {
  const transport = createTransport(options);
  const api = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ""), fetch: transport.fetch });
  return {
    api,
    csrfToken: transport.csrfToken,
    listJobs: async (query = {}) =>
      data(await api.GET("/api/jobs/manage", { params: { query: { ...query, action: "list" } } })) as JobsPage,
    createJob: async (fields, opts) =>
      data(
        await api.POST("/api/jobs/manage", {
          body: { ...fields, action: "create" } as JobsBody,
          headers: writeHeaders(opts),
          signal: opts?.signal,
        }),
      ) as CreatedJob,
    updateJob: async (fields, opts) =>
      data(
        await api.POST("/api/jobs/manage", {
          body: { ...fields, action: "update" } as JobsBody,
          headers: writeHeaders(opts, { "If-Match": opts?.ifMatch }),
          signal: opts?.signal,
        }),
      ) as UpdatedJob,
    uploadPhoto: async (upload, opts) =>
      data(
        await api.POST("/api/jobs/photos", {
          body: { ...upload, action: "upload" },
          bodySerializer: toFormData,
          headers: writeHeaders(opts),
          signal: opts?.signal,
        }),
      ) as UploadedPhoto,
    uploadDocument: async (upload, opts) =>
      data(
        await api.POST("/api/jobs/documents", {
          body: { ...upload, action: "upload" },
          bodySerializer: toFormData,
          headers: writeHeaders(opts),
          signal: opts?.signal,
        }),
      ) as UploadedDocument,
    addNote: async (note, opts) =>
      data(
        await api.POST("/api/jobs/case-notes", {
          body: { ...note, action: "create" } as NotesBody,
          bodySerializer: toFormData,
          headers: writeHeaders(opts),
          signal: opts?.signal,
        }),
      ) as CreatedNote,
  };
}
