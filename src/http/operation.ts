import { createRoute, type OpenAPIHono, type RouteConfig, type RouteConfigToTypedResponse, z } from "@hono/zod-openapi";
import type { ToSchema } from "hono";
import type { ZodType } from "zod";
import { type Admission, admitCaller } from "../app/use-case";
import { CSRF_TTL_SECONDS, verifyCsrfToken } from "../auth/csrf";
import type { Permission } from "../auth/permissions";
import { BOOKMARK_HEADER, bookmarkRequestHeader } from "../db/session";
import { ApiError, type FieldError } from "../domain/errors";
import type { AppContext, AppEnv } from "./app-env";
import { type BodyRecord, readBody } from "./body";
import { idempotent } from "./idempotency";
import { documented, type OperationDocs } from "./openapi-examples";
import { errorResponses } from "./openapi-shapes";
import { limitCaller } from "./rate-limit";

export type { AppContext, AppEnv } from "./app-env";

type Method = "get" | "post" | "patch" | "put" | "delete";

type Responses = RouteConfig["responses"];
type Out<S> = S extends ZodType ? z.output<S> : undefined;

export interface OperationDef<QS, BS, M extends Method = Method, P extends string = string, R extends Responses = Responses> {
  method: M;
  path: P;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** The permission the caller must hold; null only for GET /api/security/csrf-token (security-matrix.test.ts holds it so). */
  permission: Permission | null;
  /** Query and body schemas; bodies accept JSON, form-urlencoded and multipart alike. */
  query?: QS;
  body?: BS;
  /** Values of the `action` discriminator, named in the error for an unknown action. */
  actions?: readonly string[];
  /** Success responses for the OpenAPI document; error responses are added to every route. */
  responses: R;
  /**
   * The route's own rule, beyond the permission (a use case's `admission.policy`): checked with
   * `admitCaller` right after the permission, before CSRF and the input, so HTTP refuses with the
   * same message as every other channel.
   */
  policy?: Admission["policy"];
  /** Its OpenAPI examples and the error statuses it can answer with, beside the route (src/http/openapi-examples.ts). */
  docs?: OperationDocs;
  /** Request headers the operation reads, documented in OpenAPI (name → description). */
  headers?: { "If-Match"?: string };
  handler: (c: AppContext, input: { query: Out<QS>; body: Out<BS> }) => Promise<Response>;
}

export type Operation = OperationDef<ZodType | undefined, ZodType | undefined> & { mutating: boolean };

/**
 * An operation that keeps its schemas' types (phantom `types`), so the app's type lists every
 * route for `hono/client` (see `AppSchema`).
 */
export type TypedOperation<QS, BS, M extends Method, P extends string, R extends Responses> = Operation & {
  readonly types?: { query: QS; body: BS; method: M; path: P; responses: R };
};

/** Declares one operation of the reference: its schema, permission, CSRF rule and handler. */
export function operation<
  QS extends ZodType | undefined = undefined,
  BS extends ZodType | undefined = undefined,
  const M extends Method = Method,
  const P extends string = string,
  const R extends Responses = Responses,
>(def: OperationDef<QS, BS, M, P, R>): TypedOperation<QS, BS, M, P, R> {
  return { ...(def as unknown as Operation), mutating: def.method !== "get" };
}

export function jsonResponse<S extends ZodType>(description: string, schema: S) {
  return { description, content: { "application/json": { schema } } };
}

// The app's route types for `hc<AppType>`: what each operation takes and answers.
type Empty = Record<never, never>;
type StringValues<T> = T extends object ? { [K in keyof T]: string | string[] } : never;
type InputOf<QS, BS> = (QS extends ZodType ? { query: StringValues<z.input<QS>> } : Empty) &
  (BS extends ZodType ? { json: z.input<BS> } : Empty);
type SchemaOf<O> =
  O extends TypedOperation<infer QS, infer BS, infer M, infer P, infer R>
    ? ToSchema<
        M,
        P,
        { in: InputOf<QS, BS>; out: Empty },
        RouteConfigToTypedResponse<{ method: M; path: P; responses: R & typeof errorResponses }>
      >
    : Empty;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
export type SchemaOfOperations<Ops extends readonly unknown[]> = UnionToIntersection<SchemaOf<Ops[number]>>;

const BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"] as const;

/** Registers each operation's OpenAPI description and mounts its handler behind auth, CSRF and validation. */
export function mount(app: OpenAPIHono<AppEnv>, ops: readonly Operation[]) {
  for (const op of ops) {
    const route = createRoute({
      method: op.method,
      path: op.path,
      operationId: op.operationId,
      summary: op.summary,
      description: [op.description, op.permission ? `Required permission: \`${op.permission}\`.` : undefined].filter(Boolean).join("\n\n"),
      tags: [op.tag],
      security: [{ bearerAuth: [] }],
      request: {
        query: op.query ? (documentedQuery(op.query, op.actions) as never) : undefined,
        headers: z.object({
          ...(op.mutating
            ? {
                "X-CSRF-Token": z.string().optional().openapi({ description: "CSRF token (or the csrf_token body field)" }),
                "Idempotency-Key": z.string().optional().openapi({
                  description:
                    "1–255 visible ASCII characters: a retry with the same key and request replays the first answer (24 h, per token)",
                }),
              }
            : {}),
          ...Object.fromEntries(
            Object.entries(documentedHeaders(op)).map(([name, description]) => [name, z.string().optional().openapi({ description })]),
          ),
          [BOOKMARK_HEADER]: z.string().optional().openapi(bookmarkRequestHeader[BOOKMARK_HEADER]),
        }),
        body: op.body
          ? { required: true, content: Object.fromEntries(BODY_TYPES.map((t) => [t, { schema: op.body as never }])) }
          : undefined,
      },
      responses: { ...op.responses, ...errorResponses },
    });
    app.openAPIRegistry.registerPath(documented(route, op));
    app.on(op.method.toUpperCase(), op.path, (c) => run(op, c));
  }
}

/** The If-Match header of the job writes (src/jobs/manage/write.ts declares it). */
export const IF_MATCH_DESCRIPTION = "The job's ETag (update, delete): 412 when it is no longer current";
function documentedHeaders(op: Operation): Record<string, string> {
  return op.headers ?? {};
}

/**
 * OpenAPI describes query parameters as one object; a query that is a union over `action`
 * (list | get) is documented as the merge of its members, every parameter optional but `action`.
 */
function documentedQuery(schema: ZodType, actions?: readonly string[]): ZodType {
  if (schema instanceof z.ZodObject) return schema;
  const options = (schema as unknown as { options?: ZodType[] }).options;
  if (!options) return schema;
  const shape: Record<string, ZodType> = {};
  for (const option of options) {
    if (!(option instanceof z.ZodObject)) continue;
    for (const [key, field] of Object.entries(option.shape as Record<string, ZodType>)) {
      if (key !== "action") shape[key] ??= field.optional();
    }
  }
  const action = actions?.length ? z.enum(actions as [string, ...string[]]) : z.string();
  return z.object({ action: action.openapi({ description: "Which operation to run" }), ...shape });
}

/**
 * One linear pipeline per operation: authenticate → rate limit → permission → route policy →
 * CSRF → validate → idempotency → handler. The per-token rate limit runs right after the token
 * authenticates, before the permission and the policy: every authenticated request counts,
 * whatever it then answers (a 403 or 404 counts as much as a 200: probing is capped;
 * test/suites/rate-limit.test.ts holds it). A forged write is refused before its body is read (the CSRF
 * header is checked first); the body is read once, for validation and the idempotency hash.
 */
async function run(op: Operation, c: AppContext): Promise<Response> {
  const ctx = c.var.ctx;
  if (!ctx.hasCredentials) throw new ApiError("UNAUTHORIZED", "Missing bearer token: send Authorization: Bearer <token>");
  const caller = await ctx.principal();
  await limitCaller(c, caller.tokenId);
  try {
    admitCaller(caller, { permission: op.permission, policy: op.policy });
    if (op.mutating) await checkCsrf(c, caller.tokenId);
  } catch (err) {
    ctx.refuse(err);
  }
  if (!op.mutating) return op.handler(c, validate(op, c, {}));
  const input = validate(op, c, await readBody(c));
  return idempotent(c, caller.tokenId, () => op.handler(c, input));
}

const CSRF_MESSAGES = {
  missing: "Missing CSRF token: send the csrf_token field or the X-CSRF-Token header (GET /api/security/csrf-token)",
  malformed: "Malformed CSRF token",
  expired: "CSRF token has expired: fetch a new one from GET /api/security/csrf-token",
  too_long: `CSRF token expiry is too far ahead (tokens last ${CSRF_TTL_SECONDS / 3600} hours): fetch a new one from GET /api/security/csrf-token`,
  invalid: "Invalid CSRF token for this API token",
  conflict: "The X-CSRF-Token header and the csrf_token field differ: send one CSRF token",
} as const;

/** A value that carries no token: absent, or a string of whitespace (a blank header or form field). */
const blank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

/**
 * The CSRF token of a write: the `X-CSRF-Token` header or the `csrf_token` field. A blank header
 * counts as absent (an empty one must not hide a good field); a header and a field that both carry
 * a token must carry the same one. The header is checked first, so a forged upload is refused
 * before its body is read.
 */
export async function checkCsrf(c: AppContext, tokenId: number) {
  const header = c.req.header("x-csrf-token");
  const given = blank(header) ? (await readBody(c)).csrf_token : header;
  const check = await verifyCsrfToken(c.env.SIGNING_SECRET, tokenId, given);
  if (check !== "ok") throw new ApiError("CSRF_INVALID", CSRF_MESSAGES[check]);
  if (given === header) {
    const field = (await readBody(c)).csrf_token;
    if (!blank(field) && (typeof field !== "string" || field.trim() !== header?.trim())) {
      throw new ApiError("CSRF_INVALID", CSRF_MESSAGES.conflict);
    }
  }
}

function validate(op: Operation, c: AppContext, body: BodyRecord) {
  const errors: FieldError[] = [];
  let query: unknown;
  let parsedBody: unknown;
  if (op.query) {
    const res = op.query.safeParse(c.req.query(), { reportInput: true });
    if (res.success) query = res.data;
    else errors.push(...toFieldErrors(res.error.issues, op.actions));
  }
  if (op.body) {
    const { csrf_token: _csrf, ...rest } = body;
    // An action may come in the query string as well as the body (the reference shows both).
    const withAction = rest.action === undefined && c.req.query("action") ? { ...rest, action: c.req.query("action") } : rest;
    const res = op.body.safeParse(withAction, { reportInput: true });
    if (res.success) parsedBody = res.data;
    else errors.push(...toFieldErrors(res.error.issues, op.actions));
  }
  if (errors.length > 0) {
    const first = errors[0];
    throw new ApiError("BAD_REQUEST", first ? `${first.field}: ${first.message}` : "Invalid request", errors);
  }
  return { query, body: parsedBody };
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
}

export function toFieldErrors(issues: readonly Issue[], actions?: readonly string[]): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    if (issue.code === "unrecognized_keys" && issue.keys) {
      const prefix = issue.path.map(String).join(".");
      return issue.keys.map((key) => ({ field: prefix ? `${prefix}.${key}` : key, message: "is not a known field" }));
    }
    const field = issue.path.map(String).join(".") || "body";
    if (field === "action" && (issue.code === "invalid_union" || issue.input === undefined)) {
      return [
        {
          field,
          message:
            issue.input === undefined && issue.code !== "invalid_union"
              ? "is required"
              : `is missing or unknown${actions ? `; expected one of: ${actions.join(", ")}` : ""}`,
        },
      ];
    }
    if (issue.code === "invalid_type" && issue.input === undefined) return [{ field, message: "is required" }];
    if (issue.code === "invalid_type" && issue.input === null) return [{ field, message: "must not be null" }];
    return [{ field, message: issue.message }];
  });
}
