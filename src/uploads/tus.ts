/**
 * tus 1.0 at /api/uploads (core, creation, creation-with-upload, termination, expiration): the HTTP
 * side of src/uploads/service.ts. Admission is the operation pipeline's (src/http/operation.ts), in
 * its order: bearer token → per-token rate limit → the target's permission → CSRF (creation only,
 * like every write; later requests carry the bearer token alone, bound to the token that created
 * the upload) → the request. tus speaks in headers, not bodies, so these routes are declared here
 * rather than through `operation()`; errors are the API's usual envelope plus `Tus-Resumable`.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { admitCaller } from "../app/use-case";
import { ApiError, badRequest } from "../domain/errors";
import { zId, zUuid } from "../domain/values";
import { errorResponses } from "../http/openapi-shapes";
import { type AppContext, type AppEnv, checkCsrf, toFieldErrors } from "../http/operation";
import { limitCaller } from "../http/rate-limit";
import { addNoteFiles } from "../jobs/case-notes/service";
import { uploadDocument } from "../jobs/documents/service";
import { PHOTO_TYPES } from "../jobs/photos/schemas";
import { uploadPhoto } from "../jobs/photos/service";
import {
  appendToUpload,
  createUpload,
  MAX_UPLOAD_BYTES,
  terminateUpload,
  UPLOAD_TARGETS,
  UPLOAD_TTL_SECONDS,
  type UploadState,
  uploadState,
} from "./service";

const TUS_VERSION = "1.0.0";
const EXTENSIONS = "creation,creation-with-upload,termination,expiration";
const CHUNK_TYPE = "application/offset+octet-stream";
const ADMISSIONS = { photo: uploadPhoto.admission, document: uploadDocument.admission, note_file: addNoteFiles.admission } as const;

/** tus `Upload-Metadata`: what the finished upload becomes. */
const metadataSchema = z.object({
  filename: z.string().min(1, "is required").max(255),
  /** The client's declared type (tus-js-client's convention): never trusted, kept for the record. */
  filetype: z.string().max(255).optional(),
  job_id: zId(),
  target: z.enum(UPLOAD_TARGETS, { error: `must be one of: ${UPLOAD_TARGETS.join(", ")}` }),
  photo_type: z.enum(PHOTO_TYPES, { error: `must be one of: ${PHOTO_TYPES.join(", ")}` }).optional(),
  file_type_id: zId().optional(),
  note_uuid: zUuid().optional(),
});

/** `key base64,key2 base64` (tus 1.0 Upload-Metadata) → record; 400 on a malformed pair. */
export function parseMetadata(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const pair of header.split(",")) {
    const [key, value, extra] = pair.trim().split(" ");
    if (!key || extra !== undefined) throw badRequest("Upload-Metadata: expected comma-separated `key base64value` pairs");
    try {
      const bytes = Uint8Array.from(atob(value ?? ""), (ch) => ch.charCodeAt(0));
      out[key] = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw badRequest(`Upload-Metadata: the value of ${key} is not base64 of UTF-8 text`, [{ field: key, message: "is not base64" }]);
    }
  }
  return out;
}

/** A non-negative integer header (Upload-Length, Upload-Offset), or undefined when absent. */
function intHeader(c: AppContext, name: string): number | undefined {
  const raw = c.req.header(name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw.trim()))
    throw badRequest(`${name}: must be a non-negative integer`, [{ field: name, message: "must be a non-negative integer" }]);
  return Number(raw.trim());
}

const httpDate = (iso: string) => new Date(iso).toUTCString();
/** The IETF resumable-uploads draft's word beside tus's (a structured boolean): has the last byte landed and been accepted? */
const complete = (state: UploadState) => ({ "Upload-Complete": state.record ? "?1" : "?0" });

/** The caller, authenticated and rate-limited as every operation's (401 without a valid token). */
async function caller(c: AppContext) {
  const ctx = c.var.ctx;
  if (!ctx.hasCredentials) throw new ApiError("UNAUTHORIZED", "Missing bearer token: send Authorization: Bearer <token>");
  const who = await ctx.principal();
  await limitCaller(c, who.tokenId);
  return who;
}

function checkVersion(c: AppContext) {
  if (c.req.header("tus-resumable") !== TUS_VERSION) {
    c.header("Tus-Version", TUS_VERSION);
    throw new ApiError("PRECONDITION_FAILED", `Unsupported Tus-Resumable: send Tus-Resumable: ${TUS_VERSION}`);
  }
}

/** Runs the append past a client's disconnect, so what arrived is kept (service.ts). */
function append(c: AppContext, input: Parameters<typeof appendToUpload>[1]): Promise<UploadState> {
  const work = appendToUpload(c.var.ctx, input);
  c.var.ctx.services.waitUntil(work);
  return work;
}

/** After each write: the offset, the expiry and, once finished, the record it became (headers and JSON). */
function answer(c: AppContext, state: UploadState, status: 201 | 204, location?: string) {
  const headers: Record<string, string> = {
    "Upload-Offset": String(state.offset),
    "Upload-Expires": httpDate(state.expiresAt),
    ...complete(state),
  };
  if (location) headers.Location = location;
  const record = state.record;
  if (!record) return c.body(null, status, headers);
  headers["Upload-Record"] = `${record.target}; uuid=${record.uuid}${record.id !== undefined ? `; id=${record.id}` : ""}`;
  return c.json(
    { success: true, message: "Upload complete", upload_uuid: state.uuid, target: record.target, ...record.fields },
    status === 201 ? 201 : 200,
    headers,
  );
}

function chunkBody(c: AppContext) {
  if (c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() !== CHUNK_TYPE) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be ${CHUNK_TYPE}`);
  }
  return { body: c.req.raw.body, contentLength: intHeader(c, "content-length") };
}

export function tusRoutes(app: OpenAPIHono<AppEnv>) {
  // Every answer of the endpoint (errors included) says which protocol it speaks.
  app.use("/api/uploads", tusHeader);
  app.use("/api/uploads/*", tusHeader);

  const discovery = (c: AppContext) =>
    c.body(null, 204, {
      "Tus-Version": TUS_VERSION,
      "Tus-Extension": EXTENSIONS,
      "Tus-Max-Size": String(MAX_UPLOAD_BYTES),
      // The IETF draft's limits, the same figures.
      "Upload-Limit": `max-size=${MAX_UPLOAD_BYTES}, expires=${UPLOAD_TTL_SECONDS}`,
    });
  app.options("/api/uploads", discovery);
  app.options("/api/uploads/:id", discovery);

  app.post("/api/uploads", async (c) => {
    checkVersion(c);
    const who = await caller(c);
    if (c.req.header("upload-defer-length") !== undefined) throw badRequest("Upload-Defer-Length is not supported: send Upload-Length");
    const length = intHeader(c, "upload-length");
    if (length === undefined) throw badRequest("Upload-Length is required", [{ field: "Upload-Length", message: "is required" }]);
    const parsed = metadataSchema.safeParse(parseMetadata(c.req.header("upload-metadata")), { reportInput: true });
    if (!parsed.success) {
      const errors = toFieldErrors(parsed.error.issues);
      throw badRequest(`Upload-Metadata: ${errors[0]?.field}: ${errors[0]?.message}`, errors);
    }
    const meta = parsed.data;
    try {
      admitCaller(who, ADMISSIONS[meta.target]);
      // The body is file bytes, never a form: the token comes in X-CSRF-Token only (the check reads no body).
      c.set("parsedBody", Promise.resolve({}));
      await checkCsrf(c, who.tokenId);
    } catch (err) {
      c.var.ctx.refuse(err);
    }
    const withBody = c.req.header("content-type") !== undefined && Number(c.req.header("content-length") ?? "1") !== 0;
    const chunk = withBody ? chunkBody(c) : undefined;
    const row = await createUpload(c.var.ctx, {
      target: meta.target,
      job_id: meta.job_id,
      filename: meta.filename,
      declared_type: meta.filetype,
      photo_type: meta.photo_type,
      file_type_id: meta.file_type_id,
      note_uuid: meta.note_uuid,
      upload_length: length,
    });
    const location = `/api/uploads/${row.uuid}`;
    // An empty file is finished at creation (its checks answer at once); otherwise the first chunk may ride along.
    const state =
      chunk || length === 0
        ? await append(c, { uuid: row.uuid, offset: 0, body: chunk?.body ?? null, contentLength: chunk?.contentLength ?? 0 })
        : await uploadState(c.var.ctx, row.uuid);
    return answer(c, state, 201, location);
  });

  // Hono answers HEAD through the GET route (dropping the body); tus defines no GET.
  app.get("/api/uploads/:id", async (c) => {
    if (c.req.method !== "HEAD") throw new ApiError("NOT_FOUND", "No GET on an upload: HEAD answers its offset");
    checkVersion(c);
    await caller(c);
    const state = await uploadState(c.var.ctx, c.req.param("id"));
    const headers: Record<string, string> = {
      "Upload-Offset": String(state.offset),
      "Upload-Length": String(state.length),
      "Upload-Expires": httpDate(state.expiresAt),
      ...complete(state),
      "Cache-Control": "no-store",
    };
    if (state.record) headers["Upload-Record"] = `${state.record.target}; uuid=${state.record.uuid}`;
    return c.body(null, 200, headers);
  });

  app.patch("/api/uploads/:id", async (c) => {
    checkVersion(c);
    await caller(c);
    const offset = intHeader(c, "upload-offset");
    if (offset === undefined) throw badRequest("Upload-Offset is required", [{ field: "Upload-Offset", message: "is required" }]);
    const { body, contentLength } = chunkBody(c);
    const state = await append(c, { uuid: c.req.param("id"), offset, body, contentLength });
    return answer(c, state, 204);
  });

  app.delete("/api/uploads/:id", async (c) => {
    checkVersion(c);
    await caller(c);
    await terminateUpload(c.var.ctx, c.req.param("id"));
    return c.body(null, 204);
  });

  registerDocs(app);
}

async function tusHeader(c: AppContext, next: () => Promise<void>) {
  await next();
  c.res.headers.set("Tus-Resumable", TUS_VERSION);
}

const tusHeaders = {
  "Tus-Resumable": z.literal(TUS_VERSION).openapi({ description: "The protocol version: 1.0.0 (412 otherwise)" }),
};
const offsetHeaders = {
  "Upload-Offset": { description: "Bytes stored so far", schema: { type: "integer" as const } },
  "Upload-Expires": {
    description: "When an unfinished upload expires (RFC 9110 date); the cron then aborts it",
    schema: { type: "string" as const },
  },
  "Tus-Resumable": { description: "1.0.0", schema: { type: "string" as const } },
  "Upload-Complete": {
    description: "IETF resumable-uploads draft: `?1` once the last byte landed and the file became its record, `?0` before",
    schema: { type: "string" as const },
  },
};
const recordHeader = {
  "Upload-Record": {
    description: "Once the last byte landed: what the upload became, `<target>; uuid=<uuid>[; id=<id>]`",
    schema: { type: "string" as const },
  },
};
const finished = z.object({
  success: z.literal(true),
  message: z.string(),
  upload_uuid: z.string(),
  target: z.enum(UPLOAD_TARGETS),
  photo_uuid: z.string().optional(),
  photo_id: z.number().int().optional(),
  processing_status: z.literal("pending").optional(),
  document_uuid: z.string().optional(),
  document_id: z.number().int().optional(),
  note_uuid: z.string().optional(),
  attachment_uuid: z.string().optional(),
});
const idParam = z.object({ id: z.string().openapi({ description: "The upload's id (the last segment of its Location)" }) });

const DESCRIPTION =
  "tus 1.0 resumable uploads (core, creation, creation-with-upload, termination, expiration) for photos and videos, " +
  "documents and note files. Create with `POST /api/uploads` (bearer token and `X-CSRF-Token`, `Upload-Length`, " +
  "`Upload-Metadata` with base64 values: `filename`, `job_id`, `target` = photo | document | note_file, and `photo_type` " +
  "(photos, default other), `file_type_id` (documents) or `note_uuid` (note files)); send bytes with `PATCH` at the " +
  "`Upload-Offset` that `HEAD` answers. The permission, size limit (20 MB; note files 5 MB: 413 at creation) and checks " +
  "are those of the plain upload of the target; the file is checked when its last byte lands, and the final answer " +
  "names the record (photos list, documents list, note attachments). An upload belongs to the token that created it " +
  "(404 to any other) and expires 24 h after creation.";

function registerDocs(app: OpenAPIHono<AppEnv>) {
  const common = { tags: ["Uploads"], security: [{ bearerAuth: [] }] };
  const routes = [
    createRoute({
      ...common,
      method: "options",
      path: "/api/uploads",
      operationId: "discoverUploads",
      summary: "tus discovery: versions, extensions and the largest upload",
      description: DESCRIPTION,
      security: [],
      responses: {
        204: {
          description: "What this server speaks",
          headers: {
            "Tus-Version": { description: "1.0.0", schema: { type: "string" } },
            "Tus-Extension": { description: EXTENSIONS, schema: { type: "string" } },
            "Tus-Max-Size": { description: "Bytes", schema: { type: "integer" } },
            "Upload-Limit": { description: "IETF draft: `max-size=<bytes>, expires=<seconds>`", schema: { type: "string" } },
          },
        },
      },
    }),
    createRoute({
      ...common,
      method: "post",
      path: "/api/uploads",
      operationId: "createUpload",
      summary: "Create a resumable upload (tus creation, creation-with-upload)",
      description: `${DESCRIPTION}\n\nRequired permission: the target's upload permission (\`api.jobs.photos.manage\`, \`api.jobs.documents.manage\`, \`api.jobs.case_notes.manage\`).`,
      request: {
        headers: z.object({
          ...tusHeaders,
          "Upload-Length": z.string().openapi({ description: "The file's size in bytes" }),
          "Upload-Metadata": z.string().openapi({ description: "filename, job_id, target and its needs, each `key base64value`" }),
          "X-CSRF-Token": z.string().openapi({ description: "CSRF token (GET /api/security/csrf-token)" }),
        }),
        body: { required: false, content: { [CHUNK_TYPE]: { schema: z.string().openapi({ format: "binary" }) } } },
      },
      responses: {
        201: {
          description: "Created (Location names it); with a body that finished the file, the record it became",
          headers: { Location: { description: "The upload's URL", schema: { type: "string" } }, ...offsetHeaders, ...recordHeader },
          content: { "application/json": { schema: finished } },
        },
        ...errorResponses,
      },
    }),
    createRoute({
      ...common,
      method: "head",
      path: "/api/uploads/{id}",
      operationId: "getUploadOffset",
      summary: "Where a resumable upload stands (tus core)",
      request: { params: idParam, headers: z.object(tusHeaders) },
      responses: {
        200: {
          description: "Its offset and length",
          headers: { ...offsetHeaders, "Upload-Length": { description: "Declared size", schema: { type: "integer" } }, ...recordHeader },
        },
        404: { description: "No such upload for this token (or expired, terminated)" },
      },
    }),
    createRoute({
      ...common,
      method: "patch",
      path: "/api/uploads/{id}",
      operationId: "appendUpload",
      summary: "Send bytes at the stored offset (tus core)",
      request: {
        params: idParam,
        headers: z.object({
          ...tusHeaders,
          "Upload-Offset": z.string().openapi({ description: "Must equal the stored offset (409 otherwise)" }),
        }),
        body: { required: true, content: { [CHUNK_TYPE]: { schema: z.string().openapi({ format: "binary" }) } } },
      },
      responses: {
        204: { description: "Stored; the new offset", headers: offsetHeaders },
        200: {
          description: "The last byte landed and the file passed its checks: the record it became",
          headers: { ...offsetHeaders, ...recordHeader },
          content: { "application/json": { schema: finished } },
        },
        ...errorResponses,
      },
    }),
    createRoute({
      ...common,
      method: "delete",
      path: "/api/uploads/{id}",
      operationId: "terminateUpload",
      summary: "Abandon a resumable upload (tus termination): its stored parts are aborted",
      request: { params: idParam, headers: z.object(tusHeaders) },
      responses: { 204: { description: "Terminated" }, ...errorResponses },
    }),
  ];
  for (const route of routes) app.openAPIRegistry.registerPath(route);
}
