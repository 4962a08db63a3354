import { z } from "@hono/zod-openapi";
import type { ZodType } from "zod";
import { admitCaller } from "../app/use-case";
import { utf8 } from "../crypto/bytes";
import { DecryptionError } from "../crypto/fields";
import type { Principal } from "../domain/caller";
import { ApiError, badRequest, type FieldError } from "../domain/errors";
import { STATUS } from "../domain/lifecycle";
import { errorBody } from "../http/envelope";
import { canonical, idempotentWith, sha256Hex } from "../http/idempotency";
import { errorFields, log } from "../http/log";
import { type AppContext, type Operation, toFieldErrors } from "../http/operation";
import { operations } from "../routes";

/**
 * The MCP tools, derived from the operations of src/routes.ts: one tool per operation, or per
 * action of an operation that dispatches on `action`. Its input schema is the operation's zod
 * schema (the member for that action) as JSON Schema, its description the operation's docs, and a
 * call runs the operation's own handler (schema + one use-case call + envelope) with the MCP
 * request's Scope: the same validation, admission, use case and answer as the HTTP route.
 * Nothing here decides who may do what: listing asks the operation's admission, calling runs it.
 */

/**
 * Left out, and why: files travel as multipart bytes, an assistant mints no tokens nor runs
 * operations chores, and a live ticket opens a WebSocket no tool call can hold (an assistant
 * follows the same stream with pollLiveEvents).
 */
const LEFT_OUT = {
  paths: ["/api/security/", "/api/admin/"], // tokens, CSRF (not used: no cookies), key rotation, webhook admin
  operationIds: new Set(["uploadPhoto", "uploadDocument", "getPhotoFile", "getVideoVariantFile", "createLiveTicket"]),
  actions: new Set(["download", "attach", "upload"]),
};

const DESTRUCTIVE_ACTIONS = new Set(["delete", "cancel", "unlink", "decline"]);

/**
 * Calls that cancel through an argument of a tool that does not otherwise destroy anything: a job
 * update to Cancelled, a recall's action_type=cancel. They need `confirm: true` as well.
 */
const CANCELS: readonly { field: string; value: unknown; why: string }[] = [
  { field: "status_id", value: STATUS.CANCELLED, why: "status_id Cancelled cancels the job" },
  { field: "action_type", value: "cancel", why: "action_type=cancel cancels the recall" },
];

export interface Tool {
  name: string;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: { title: string; readOnlyHint: boolean; destructiveHint: boolean; idempotentHint: boolean; openWorldHint: boolean };
  op: Operation;
  action: string | undefined;
  /** The query string's action (GET) or the body's (writes), as the HTTP request would carry it. */
  destructive: boolean;
  /** Arguments that make a call cancel something (then it needs confirm, as a destructive tool does). */
  cancels: readonly { field: string; value: unknown; why: string }[];
}

/** The members of a union over `action`, through a preprocess step (case notes default to create). */
function unionOptions(schema: ZodType | undefined): ZodType[] | undefined {
  let s: unknown = schema;
  for (let depth = 0; s && depth < 4; depth++) {
    const options = (s as { options?: ZodType[] }).options;
    if (Array.isArray(options)) return options;
    const def = (s as { _zod?: { def?: { out?: unknown; in?: unknown; innerType?: unknown } } })._zod?.def;
    s = def?.out ?? def?.innerType;
  }
  return undefined;
}

function actionOf(option: ZodType): string | undefined {
  const shape = (option as unknown as { shape?: Record<string, ZodType> }).shape;
  let field: unknown = shape?.action;
  if (field instanceof z.ZodOptional) field = field.unwrap();
  return field instanceof z.ZodLiteral ? String(field.value) : undefined;
}

function jsonSchemaOf(schema: ZodType | undefined, isQuery: boolean): Record<string, unknown> {
  if (!schema) return { type: "object", properties: {} };
  let out: Record<string, unknown>;
  try {
    out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
  } catch {
    out = { type: "object" };
  }
  delete out.$schema;
  // Rebuilt below without `action` (the tool names it): a stale copy must not survive the spread.
  const { required: declared, ...rest } = out;
  out = rest;
  const props = { ...((out.properties as Record<string, Record<string, unknown>>) ?? {}) };
  delete props.action;
  if (isQuery) {
    // A query string carries text: numbers and flags are accepted as JSON values too (sent as text).
    for (const [k, v] of Object.entries(props)) if (v.type === "string") props[k] = { ...v, type: ["string", "number", "boolean"] };
  }
  const required = ((declared as string[] | undefined) ?? []).filter((k) => k !== "action");
  return { ...out, type: "object", properties: props, ...(required.length ? { required } : {}) };
}

const CONFIRM = {
  type: "boolean",
  const: true,
  description: "Must be true: this tool deletes or cancels. Ask the user first, and send true only once they agreed.",
};

function toolsOf(op: Operation): Tool[] {
  if (LEFT_OUT.operationIds.has(op.operationId) || LEFT_OUT.paths.some((p) => op.path.startsWith(p))) return [];
  const schema = op.mutating ? op.body : op.query;
  const options = unionOptions(schema);
  const members: [string | undefined, ZodType | undefined][] =
    options && op.actions && op.actions.length > 1
      ? op.actions.filter((a) => !LEFT_OUT.actions.has(a)).map((a) => [a, options.find((o) => actionOf(o) === a)])
      : [[op.actions?.[0], schema]];
  const docs = [op.summary, op.description, op.permission ? `Required permission: ${op.permission}.` : undefined];
  return members.map(([action, member]) => {
    const multi = members.length > 1 || (options?.length ?? 0) > 1;
    const name = multi && action ? `${op.operationId}_${action}` : op.operationId;
    const destructive =
      op.method === "delete" || /^delete/.test(op.operationId) || (action !== undefined && DESTRUCTIVE_ACTIONS.has(action));
    const readOnly = !op.mutating;
    const inputSchema = jsonSchemaOf(member, !op.mutating);
    const props = inputSchema.properties as Record<string, unknown>;
    const cancels = destructive ? [] : CANCELS.filter((c) => c.field in props);
    if (destructive) {
      inputSchema.properties = { ...props, confirm: CONFIRM };
      inputSchema.required = [...((inputSchema.required as string[]) ?? []), "confirm"];
    } else if (cancels.length > 0) {
      inputSchema.properties = {
        ...props,
        confirm: {
          type: "boolean",
          description: `Must be true when the call cancels (${cancels.map((c) => c.why).join("; ")}): ask the user first.`,
        },
      };
    }
    const title = multi && action ? `${op.summary} [${action}]` : op.summary;
    return {
      name,
      title,
      description: [multi && action ? `This tool runs action=${action}.` : undefined, ...docs].filter(Boolean).join("\n\n"),
      inputSchema,
      annotations: {
        title,
        readOnlyHint: readOnly,
        destructiveHint: destructive || cancels.length > 0,
        idempotentHint: readOnly || action === "update" || destructive,
        openWorldHint: false,
      },
      op,
      action,
      destructive,
      cancels,
    };
  });
}

/** Every tool, built once per isolate from the operations. */
export const TOOLS: readonly Tool[] = operations.flatMap((op) => toolsOf(op as Operation));
const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

/** Whether the caller's admission lets them run the tool: the same check the HTTP pipeline makes. */
export function mayUse(caller: Principal, tool: Tool): boolean {
  try {
    admitCaller(caller, { permission: tool.op.permission, policy: tool.op.policy });
    return true;
  } catch {
    return false;
  }
}

export function toolNamed(name: string): Tool | undefined {
  return BY_NAME.get(name);
}

export interface ToolAnswer {
  status: number;
  /** The API's JSON envelope as the route sends it (passed on as it is: no second serialisation). */
  text: string;
}

/** The envelope as an object (the job:// resource reads fields from it). */
export function bodyOf(answer: ToolAnswer): Record<string, unknown> {
  try {
    return JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    return { success: answer.status < 400, message: answer.text };
  }
}

const answer = (status: number, body: Record<string, unknown>): ToolAnswer => ({ status, text: JSON.stringify(body) });

/** The tool's arguments as the HTTP request would carry them: query text, or the JSON body with its action. */
function inputOf(tool: Tool, args: Record<string, unknown>): Record<string, unknown> {
  const withAction = tool.action !== undefined ? { ...args, action: tool.action } : { ...args };
  if (tool.op.mutating) return withAction;
  return Object.fromEntries(
    Object.entries(withAction)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]),
  );
}

function validated(tool: Tool, input: Record<string, unknown>): unknown {
  const schema = (tool.op.mutating ? tool.op.body : tool.op.query) as ZodType | undefined;
  if (!schema) return undefined;
  const res = schema.safeParse(input, { reportInput: true });
  if (res.success) return res.data;
  const errors: FieldError[] = toFieldErrors(res.error.issues as never, tool.op.actions);
  const first = errors[0];
  throw new ApiError("BAD_REQUEST", first ? `${first.field}: ${first.message}` : "Invalid request", errors);
}

/**
 * Runs one tool for the admitted caller: admission → confirm → validate → (writes) idempotency →
 * the operation's handler. Errors become the API's error envelope with its status.
 */
export async function callTool(
  c: AppContext,
  caller: Principal,
  tool: Tool,
  rawArgs: unknown,
  idempotency?: { key: string },
): Promise<ToolAnswer> {
  const ctx = c.var.ctx;
  try {
    admitCaller(caller, { permission: tool.op.permission, policy: tool.op.policy });
    if (rawArgs !== undefined && (rawArgs === null || typeof rawArgs !== "object" || Array.isArray(rawArgs))) {
      throw badRequest("arguments: must be an object", [{ field: "arguments", message: "must be an object" }]);
    }
    const { confirm, ...args } = (rawArgs ?? {}) as Record<string, unknown>;
    const cancelling = tool.cancels.find((c) => args[c.field] === c.value);
    if ((tool.destructive || cancelling) && confirm !== true) {
      const what = cancelling ? cancelling.why : "this tool deletes or cancels";
      throw badRequest(`confirm: must be true: ${what}; ask the user, then call again with confirm: true`, [
        { field: "confirm", message: "must be true" },
      ]);
    }
    const input = validated(tool, inputOf(tool, args));
    const run = () => tool.op.handler(c, tool.op.mutating ? { query: undefined, body: input } : { query: input, body: undefined });
    let res: Response;
    if (tool.op.mutating && idempotency) {
      const hash = await sha256Hex(utf8(JSON.stringify(["MCP", tool.name, await canonical(args)])));
      res = await idempotentWith(c, caller.tokenId, idempotency.key, hash, run);
    } else {
      res = await run();
    }
    return { status: res.status, text: await res.text() };
  } catch (err) {
    if (err instanceof ApiError) {
      return answer(err.status, errorBody(err.code, err.message, ctx.requestId, err.errors, err.details));
    }
    if (err instanceof DecryptionError) {
      log("error", "decryption_failed", { request_id: ctx.requestId, tool: tool.name, message: err.message });
      return answer(
        500,
        errorBody("INTERNAL", "Stored private data could not be decrypted; quote the request id when reporting it", ctx.requestId),
      );
    }
    log("error", "unhandled_error", { request_id: ctx.requestId, tool: tool.name, ...errorFields(err) });
    return answer(500, errorBody("INTERNAL", "Internal error; quote the request id when reporting it", ctx.requestId));
  }
}
