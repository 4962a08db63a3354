import type { OpenAPIHono } from "@hono/zod-openapi";
import { version } from "../../package.json";
import { bytesToHex, utf8 } from "../crypto/bytes";
import type { Principal } from "../domain/caller";
import { ApiError } from "../domain/errors";
import type { AppContext, AppEnv } from "../http/operation";
import { limitCaller } from "../http/rate-limit";
import { PROMPTS, promptMessages } from "./prompts";
import { callTool, mayUse, TOOLS, toolNamed } from "./tools";

/**
 * A stateless Streamable HTTP MCP server at POST /mcp (protocol 2025-11-25, the newest that
 * @modelcontextprotocol/sdk 1.32 negotiates; older supported versions are echoed back). Each POST
 * carries one JSON-RPC message and gets one JSON answer (no SSE stream, no session id): any
 * isolate answers any request, like the rest of the Worker. GET and DELETE answer 405, as the
 * transport allows a server without server-initiated streams or sessions.
 *
 * Hand-written rather than the SDK's McpServer: the SDK's server pulls ajv and its own zod schemas
 * (+55 KiB gzip), over the Worker's 1 MiB budget. The SDK's own Client tests this server
 * (test/e2e/mcp.e2e.test.ts).
 *
 * Admission is the API's: the bearer token (401 without one, or a revoked, expired or unknown
 * one, before any JSON-RPC), the per-token rate limit, then each tool's own admission. CSRF does
 * not apply: the token travels in a header, never in a cookie a browser would attach.
 */

export const LATEST_PROTOCOL_VERSION = "2025-11-25";
const SUPPORTED = [LATEST_PROTOCOL_VERSION, "2025-06-18", "2025-03-26"];

const INSTRUCTIONS =
  "PropOps Jobs API: property maintenance jobs. Tools are the API's operations (listOrGetJobs_list to search, " +
  "listOrGetJobs_get for one job with its next_statuses, getSlaStatus for breaches). Read a job as text with the job://{uuid} " +
  "resource. Tools that delete or cancel need confirm: true, sent only after the user agreed.";

type Id = string | number;
interface JsonRpcRequest {
  jsonrpc: "2.0";
  id?: Id | null;
  method?: string;
  params?: Record<string, unknown>;
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const rpcError = (id: Id | null, code: number, message: string, data?: unknown) => ({
  jsonrpc: "2.0" as const,
  id,
  error: { code, message, ...(data !== undefined ? { data } : {}) },
});

/** The tool call's Idempotency-Key: the client's own (`_meta.idempotency_key`) or one derived from the request id and the call. */
async function keyFor(id: Id, params: Record<string, unknown>): Promise<string> {
  const given = (params._meta as Record<string, unknown> | undefined)?.idempotency_key;
  if (typeof given === "string" && /^[\x21-\x7e]{1,255}$/.test(given)) return given;
  // Keys are per token already (idempotency.ts). The tool and its arguments are part of the key:
  // JSON-RPC ids restart at 0 in every client session, so another call reusing an id is another key.
  const digest = await crypto.subtle.digest("SHA-256", utf8(JSON.stringify([id, params.name, params.arguments ?? {}])));
  return `mcp-${bytesToHex(new Uint8Array(digest)).slice(0, 48)}`;
}

async function handle(c: AppContext, caller: Principal, msg: JsonRpcRequest): Promise<unknown> {
  const params = msg.params ?? {};
  switch (msg.method) {
    case "initialize": {
      const asked = typeof params.protocolVersion === "string" ? params.protocolVersion : LATEST_PROTOCOL_VERSION;
      return {
        protocolVersion: SUPPORTED.includes(asked) ? asked : LATEST_PROTOCOL_VERSION,
        capabilities: { tools: { listChanged: false }, resources: { listChanged: false }, prompts: { listChanged: false } },
        serverInfo: { name: "propops-jobs-api", title: "PropOps Jobs API", version },
        instructions: INSTRUCTIONS,
      };
    }
    case "ping":
      return {};
    case "tools/list":
      // Tools the caller may not use are not listed (the same admission a call would meet).
      return {
        tools: TOOLS.filter((t) => mayUse(caller, t)).map(({ name, title, description, inputSchema, annotations }) => ({
          name,
          title,
          description,
          inputSchema,
          annotations,
        })),
      };
    case "tools/call": {
      const name = String(params.name ?? "");
      const tool = toolNamed(name);
      // An unlisted tool (unknown, or not the caller's) is the same error: a token learns nothing from it.
      if (!tool || !mayUse(caller, tool)) throw new RpcError(-32602, `Unknown tool: ${name}`);
      const key = tool.op.mutating ? { key: await keyFor(msg.id as Id, params) } : undefined;
      const { status, body } = await callTool(c, caller, tool, params.arguments, key);
      return {
        content: [{ type: "text", text: JSON.stringify(body) }],
        structuredContent: { status, ...body },
        isError: status >= 400,
      };
    }
    case "resources/list":
      return { resources: [] };
    case "resources/templates/list":
      return {
        resourceTemplates: [
          {
            uriTemplate: "job://{uuid}",
            name: "job",
            title: "A job: details, case notes and timeline",
            description: "One job as Markdown: its fields (as the caller may see them), its next statuses, case notes and audit trail.",
            mimeType: "text/markdown",
          },
        ],
      };
    case "resources/read":
      return readResource(c, caller, String(params.uri ?? ""));
    case "prompts/list":
      return { prompts: PROMPTS.map(({ name, title, description, arguments: args }) => ({ name, title, description, arguments: args })) };
    case "prompts/get": {
      const messages = promptMessages(String(params.name ?? ""), (params.arguments ?? {}) as Record<string, string>);
      if (!messages) throw new RpcError(-32602, `Unknown prompt: ${String(params.name)}`);
      return messages;
    }
    case "completion/complete":
      return { completion: { values: [] } };
    case "logging/setLevel":
      return {};
    default:
      throw new RpcError(-32601, `Method not found: ${msg.method}`);
  }
}

/** job://{uuid}: the job, its notes and its audit trail, each read through its tool (the same admission and views). */
async function readResource(c: AppContext, caller: Principal, uri: string) {
  const m = /^job:\/\/([0-9a-f-]{36})$/i.exec(uri);
  if (!m) throw new RpcError(-32002, `Resource not found: ${uri}`);
  const uuid = m[1] as string;
  const run = async (name: string, args: Record<string, unknown>) => {
    const tool = toolNamed(name);
    if (!tool || !mayUse(caller, tool)) return undefined;
    return callTool(c, caller, tool, args);
  };
  const job = await run("listOrGetJobs_get", { uuid });
  if (!job || job.status >= 400) throw new RpcError(-32002, `Resource not found: ${uri}`, job?.body);
  const notes = await run("listCaseNotesOrDownloadAttachment_list", { job_uuid: uuid });
  const audit = await run("listJobAuditEvents", { job_uuid: uuid, limit: 50 });
  const data = job.body.data as Record<string, unknown>;
  const section = (title: string, answer: { status: number; body: Record<string, unknown> } | undefined) =>
    answer && answer.status < 400
      ? `## ${title}\n\n\`\`\`json\n${JSON.stringify(answer.body.data, null, 2)}\n\`\`\``
      : `## ${title}\n\n(not available to this token${answer ? `: ${String(answer.body.message)}` : ""})`;
  const text = [
    `# ${String(data.job_ref ?? "Job")} (${uuid})`,
    `## Details\n\n\`\`\`json\n${JSON.stringify(data, null, 2)}\n\`\`\``,
    section("Case notes", notes),
    section("Timeline (audit trail, newest first)", audit),
  ].join("\n\n");
  return { contents: [{ uri, mimeType: "text/markdown", text }] };
}

async function post(c: AppContext): Promise<Response> {
  const ctx = c.var.ctx;
  if (!ctx.hasCredentials) throw new ApiError("UNAUTHORIZED", "Missing bearer token: send Authorization: Bearer <token>");
  const caller = await ctx.principal();
  await limitCaller(c, caller.tokenId);
  const version = c.req.header("mcp-protocol-version");
  if (version && !SUPPORTED.includes(version)) {
    return c.json(rpcError(null, -32600, `Unsupported MCP-Protocol-Version: ${version}; supported: ${SUPPORTED.join(", ")}`), 400);
  }
  let message: unknown;
  try {
    message = await c.req.json();
  } catch {
    return c.json(rpcError(null, -32700, "Parse error: the body must be one JSON-RPC message"), 400);
  }
  if (Array.isArray(message) || !message || typeof message !== "object" || (message as JsonRpcRequest).jsonrpc !== "2.0") {
    return c.json(rpcError(null, -32600, "Invalid request: one JSON-RPC 2.0 message per POST (no batches)"), 400);
  }
  const msg = message as JsonRpcRequest;
  // A notification or a response to us: accepted, nothing to answer.
  if (msg.id === undefined || msg.id === null || typeof msg.method !== "string") return c.body(null, 202);
  // Every change made through a tool records that it came through MCP (audit_events.via).
  ctx.via = "mcp";
  try {
    return c.json({ jsonrpc: "2.0", id: msg.id, result: await handle(c, caller, msg) });
  } catch (err) {
    if (err instanceof RpcError) return c.json(rpcError(msg.id, err.code, err.message, err.data));
    throw err;
  }
}

const notAllowed = (c: AppContext) =>
  c.json(rpcError(null, -32000, "Method not allowed: this server is stateless (POST only, no SSE stream, no sessions)"), 405, {
    Allow: "POST",
  });

export function mcpRoutes(app: OpenAPIHono<AppEnv>) {
  app.post("/mcp", post);
  app.get("/mcp", notAllowed);
  app.delete("/mcp", notAllowed);
}
