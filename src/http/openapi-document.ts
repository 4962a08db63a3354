/**
 * The OpenAPI document as integrators' tools read it, refined after zod-openapi generates it:
 * - request bodies accept exactly what the reference sends: the `csrf_token` field (the
 *   alternative to the `X-CSRF-Token` header) on every mutating body, and, in form and multipart
 *   bodies, numbers and yes/no values as the text a form carries;
 * - an upload (a body with any binary field: a photo's or document's `file`, a case note's
 *   `attachments`) is described as `multipart/form-data` only, so a generated client sends a file
 *   the one way the API reads it (a JSON body cannot carry one);
 * - every parameter has a description (the reference's wording where it has one);
 * - optional query parameters keep their example in the description, not as a value, and every
 *   example, default or enum value a docs page would prefill is marked `x-disabled` (shown, not
 *   sent): "try it" would otherwise send every example filter at once (and find nothing);
 * - the `webhooks` section describes every event type with its payload and an example.
 */
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { eventDescription, eventSchema, eventSchemaName, examplePayload } from "../webhooks/payloads";

type Json = Record<string, unknown>;
type Schema = Json & { type?: unknown; properties?: Record<string, Schema>; required?: string[]; oneOf?: Schema[]; anyOf?: Schema[] };
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema & { example?: unknown };
  /** `x-disabled`: Scalar's flag for an example shown in "try it" but not sent until ticked. */
  examples?: Record<string, { value: unknown; "x-disabled"?: boolean }>;
}
interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema?: Schema; examples?: unknown }> };
}

const CSRF_FIELD: Schema = {
  type: "string",
  description: "The CSRF token from GET /api/security/csrf-token; or send it in the X-CSRF-Token header instead",
};

/** Parameters by name, worded as the reference words them; `path → text` where one path differs. */
const PARAMETERS: Record<string, string | Record<string, string>> = {
  action: "Which operation to run (the values are listed in the schema)",
  search: {
    default: "Text to search for",
    "/api/jobs/addresses": "Text to search for in the address lines and postcode",
  },
  status_id: "Filter by job status ID (GET /api/jobs/statuses?action=list)",
  priority_id: "Filter by priority ID (GET /api/jobs/priorities?action=list)",
  job_type_id: "Filter by job type ID (GET /api/jobs/types?action=list)",
  agent_id: "Filter by assigned agent",
  contractor_id: "Filter by assigned contractor",
  created_by: "Filter by the staff member who created the job (user ID)",
  has_photos: "Set to true to return only jobs that have photos attached (false: only jobs without)",
  has_documents: "Set to true to return only jobs that have documents attached (false: only jobs without)",
  limit: "Maximum records to return (default 50, max 200)",
  offset: "Records to skip before the first one returned (default 0), for paging",
  uuid: {
    default: "UUID of the record to read",
    "/api/jobs/manage": "UUID of the job to read (action=get)",
    "/api/jobs/case-notes": "UUID of one case note to read",
    "/api/jobs/photos/file": "UUID of the photo or video",
    "/api/jobs/documents": "UUID of one document to read",
    "/api/jobs/amend-request": "Retrieve a single amendment request by its UUID",
    "/api/jobs/video-variants": "UUID of the video",
    "/api/jobs/video-variants/file": "UUID of the video",
    "/api/admin/webhooks": "UUID of the subscription to read (action=get)",
  },
  job_uuid: {
    default: "UUID of the job",
    "/api/jobs/amend-request": "Filter requests to a specific job UUID",
  },
  job_id: "ID of the job",
  address_id: "The property (address ID, GET /api/jobs/addresses?action=list) whose records to list",
  role: "Filter by role",
  active: "Set to true for active records only, false for inactive ones",
  variant: "Which file: the original, or a processed variant (the schema lists them)",
  status: {
    default: "Filter by status",
    "/api/jobs/amend-request": "Filter by status: pending, approved, or rejected",
    "/api/admin/webhooks/deliveries": "Filter by delivery status: pending, delivered or failed",
  },
  subscription_uuid: "UUID of the webhook subscription",
  user_uuid: "Administrators: another user's UUID",
  include_revoked: "Also list revoked and expired tokens",
};

function describe(name: string, path: string): string | undefined {
  const entry = PARAMETERS[name];
  if (typeof entry === "string") return entry;
  return entry?.[path] ?? entry?.default;
}

/** Adds `csrf_token` to each object (and each member of a union) of a mutating request body. */
function withCsrf(schema: Schema): Schema {
  for (const key of ["oneOf", "anyOf"] as const) {
    const members = schema[key];
    if (Array.isArray(members)) return { ...schema, [key]: members.map(withCsrf) };
  }
  if (schema.type !== "object" || !schema.properties) return schema;
  return { ...schema, properties: { ...schema.properties, csrf_token: CSRF_FIELD } };
}

/** Whether a body has a file field, required or not, alone or in an array (then only multipart can carry it). */
function hasFile(schema: Schema): boolean {
  const members = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(members)) return members.some(hasFile);
  const isFile = (field: Schema): boolean => field.format === "binary" || (field.type === "array" && isFile((field.items ?? {}) as Schema));
  return Object.values(schema.properties ?? {}).some(isFile);
}

const TEXT_FORMS: Record<string, Schema> = {
  integer: { type: "string", pattern: "^-?\\d+$" },
  number: { type: "string", pattern: "^-?(\\d+(\\.\\d+)?|\\.\\d+)$" },
  boolean: { type: "string", enum: ["true", "false", "1", "0", "on", "off", "yes", "no", ""] },
};

/** In a form, every value is text: numbers and yes/no values also as their text forms. */
function asForm(schema: Schema): Schema {
  if (Array.isArray(schema.oneOf)) return { ...schema, oneOf: schema.oneOf.map(asForm) };
  if (Array.isArray(schema.anyOf)) return { ...schema, anyOf: schema.anyOf.map(asForm) };
  if (schema.type === "object" && schema.properties) {
    return { ...schema, properties: Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, asForm(v)])) };
  }
  if (schema.type === "array" && schema.items) return { ...schema, items: asForm(schema.items as Schema) };
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
  const text = types.map((t) => TEXT_FORMS[t]).filter((t): t is Schema => t !== undefined);
  if (text.length === 0) return schema;
  return { anyOf: [schema, ...text] };
}

function refineOperation(path: string, method: string, op: Operation) {
  for (const p of op.parameters ?? []) {
    p.description ??= describe(p.name, path) ?? (p.schema?.description as string | undefined);
    if (p.in === "query" && !p.required && p.schema && "example" in p.schema) {
      const { example, ...schema } = p.schema;
      p.schema = schema;
      p.description = `${p.description ?? p.name}. Example: \`${p.name}=${String(example)}\``;
      p.examples = { example: { value: example, "x-disabled": true } };
    }
    // A docs page's "try it" fills an optional filter from its enum or default and sends it
    // (has_photos=true&pinned=true: the jobs list's first Send found nothing): shown, not ticked.
    if (p.in === "query" && !p.required && p.schema && !p.examples) {
      const value = p.schema.default ?? (Array.isArray(p.schema.enum) ? p.schema.enum[0] : undefined);
      if (value !== undefined) p.examples = { example: { value, "x-disabled": true } };
    }
  }
  const content = op.requestBody?.content;
  if (!content || method === "get") return;
  for (const [type, media] of Object.entries(content)) {
    if (!media.schema) continue;
    const schema = withCsrf(media.schema);
    media.schema = type === "application/json" ? schema : asForm(schema);
  }
  const json = content["application/json"]?.schema;
  if (json && hasFile(json)) {
    for (const type of Object.keys(content)) if (type !== "multipart/form-data") delete content[type];
  }
}

/** The `webhooks` section: one entry per event type, its payload a named schema (`JobCreatedEvent`, …) in components. */
function webhooks(schemas: Json): Json {
  const entries: Json = {};
  for (const type of WEBHOOK_EVENT_TYPES) {
    const name = eventSchemaName(type);
    schemas[name] = eventSchema(type);
    entries[type] = {
      post: {
        operationId: `webhook_${type.replace(/\W/g, "_")}`,
        summary: `Event ${type}`,
        description:
          `${eventDescription(type)} Sent to every enabled subscription whose \`event_types\` include it (or are empty), signed with Standard Webhooks headers ` +
          "(`webhook-id`, `webhook-timestamp`, `webhook-signature`: verify with the `standardwebhooks` library and the subscription's secret). " +
          "Answer 2xx within 10 s; anything else is retried with backoff, so events can arrive late and out of order: apply one only if its " +
          '`data.sequence` is not below the newest you applied for that job. Private values are never sent: a changed private field reads `{"changed": true}`.',
        tags: ["Webhooks"],
        // Sent by us, signed (Standard Webhooks), not called with a bearer token.
        security: [],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` }, example: examplePayload(type) } },
        },
        responses: { "200": { description: "Received (any 2xx)" }, "4XX": { description: "Refused: retried with backoff, then failed" } },
      },
    };
  }
  return entries;
}

/** Refines the generated document in place (see the top of this file) and returns it. */
export function refineDocument<D extends { paths?: unknown; webhooks?: unknown; tags?: unknown; components?: unknown }>(doc: D): D {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, ops] of Object.entries(paths)) for (const [method, op] of Object.entries(ops)) refineOperation(path, method, op);
  const components = (doc.components ?? {}) as { schemas?: Json };
  components.schemas ??= {};
  doc.components = components;
  doc.webhooks = webhooks(components.schemas);
  return doc;
}
