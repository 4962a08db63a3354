import type { OpenAPIHono } from "@hono/zod-openapi";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { version } from "../../package.json";
import { bytesToHex, utf8 } from "../crypto/bytes";
import type { Principal } from "../domain/caller";
import { ApiError } from "../domain/errors";
import type { AppContext, AppEnv } from "../http/operation";
import { limitCaller } from "../http/rate-limit";
import { readLimited } from "../lib/read-limited";
import { PROMPTS, promptMessages } from "./prompts";
import { bodyOf, callTool, mayUse, TOOLS, type ToolAnswer, toolNamed } from "./tools";

/**
 * The MCP server at /mcp: the SDK's `Server` on its Web-standard Streamable HTTP transport,
 * stateless (no session id, one fresh server and transport per POST, JSON answers rather than an
 * SSE stream), so any isolate answers any request, like the rest of the Worker. Protocol: the
 * newest the SDK negotiates (2025-11-25 in 1.32), older supported versions as the client asks.
 *
 * The low-level `Server` rather than `McpServer`: the tools are derived from the operations
 * (./tools.ts) with JSON Schemas of their own, and a call is validated by the operation's zod
 * schema so a bad argument reads the API's own message (McpServer would validate first, in its
 * words).
 *
 * Admission is the API's: the bearer token (401 without one, or a revoked, expired or unknown
 * one, before any JSON-RPC), the per-token rate limit, then each tool's own admission. CSRF does
 * not apply: the token travels in a header, never in a cookie a browser would attach.
 * Elicitation needs the server to ask the client within a session; statelessly, a destructive tool
 * takes a required `confirm: true` instead.
 */

const INSTRUCTIONS =
  "PropOps Jobs API: property maintenance jobs. Tools are the API's operations (listOrGetJobs_list to search, " +
  "listOrGetJobs_get for one job with its next_statuses, getSlaStatus for breaches). Read a job as text with the job://{uuid} " +
  "resource. Tools that delete or cancel need confirm: true, sent only after the user agreed.";

/** Shared by every request: it holds only options (the SDK's validator for Workers: no code generation). */
const validator = new CfWorkerJsonSchemaValidator();

/** The tool call's Idempotency-Key: the client's own (`_meta.idempotency_key`) or one derived from the request id and the call. */
async function keyFor(id: RequestId, params: { name: string; arguments?: unknown; _meta?: Record<string, unknown> }): Promise<string> {
  const given = params._meta?.idempotency_key;
  if (typeof given === "string" && /^[\x21-\x7e]{1,255}$/.test(given)) return given;
  // Keys are per token already (idempotency.ts). The tool and its arguments are part of the key:
  // JSON-RPC ids restart at 0 in every client session, so another call reusing an id is another key.
  const digest = await crypto.subtle.digest("SHA-256", utf8(JSON.stringify([id, params.name, params.arguments ?? {}])));
  return `mcp-${bytesToHex(new Uint8Array(digest)).slice(0, 48)}`;
}

/** One request's server: its handlers close over the request's context and admitted caller. */
function serverFor(c: AppContext, caller: Principal): Server {
  const server = new Server(
    { name: "propops-jobs-api", title: "PropOps Jobs API", version },
    {
      capabilities: { tools: { listChanged: false }, resources: { listChanged: false }, prompts: { listChanged: false } },
      instructions: INSTRUCTIONS,
      jsonSchemaValidator: validator,
    },
  );

  // Tools the caller may not use are not listed (the same admission a call would meet).
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: TOOLS.filter((t) => mayUse(caller, t)).map(({ name, title, description, inputSchema, annotations }) => ({
      name,
      title,
      description,
      inputSchema: inputSchema as { type: "object" },
      annotations,
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const tool = toolNamed(req.params.name);
    // An unlisted tool (unknown, or not the caller's) is the same error: a token learns nothing from it.
    if (!tool || !mayUse(caller, tool)) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${req.params.name}`);
    const key = tool.op.mutating ? { key: await keyFor(extra.requestId, req.params) } : undefined;
    const { status, text } = await callTool(c, caller, tool, req.params.arguments, key);
    // The API's envelope as the route wrote it, and its HTTP status in _meta: one serialisation,
    // no structuredContent copy (the tools declare no outputSchema).
    return { content: [{ type: "text" as const, text }], _meta: { "propops/status": status }, isError: status >= 400 };
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [] }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: "job://{uuid}",
        name: "job",
        title: "A job: details, case notes and timeline",
        description: "One job as Markdown: its fields (as the caller may see them), its next statuses, case notes and audit trail.",
        mimeType: "text/markdown",
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (req) => readResource(c, caller, req.params.uri));

  server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: PROMPTS.map(({ name, title, description, arguments: args }) => ({ name, title, description, arguments: args })),
  }));
  server.setRequestHandler(GetPromptRequestSchema, (req) => {
    const messages = promptMessages(req.params.name, req.params.arguments ?? {});
    if (!messages) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${req.params.name}`);
    return messages;
  });
  return server;
}

/** job://{uuid}: the job, its notes and its audit trail, each read through its tool (the same admission and views). */
async function readResource(c: AppContext, caller: Principal, uri: string) {
  const m = /^job:\/\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(uri);
  // -32002: the code the MCP specification gives "resource not found".
  if (!m) throw new McpError(-32002, `Resource not found: ${uri}`);
  const uuid = (m[1] as string).toLowerCase();
  const run = async (name: string, args: Record<string, unknown>) => {
    const tool = toolNamed(name);
    if (!tool || !mayUse(caller, tool)) return undefined;
    return callTool(c, caller, tool, args);
  };
  const job = await run("listOrGetJobs_get", { uuid });
  if (!job || job.status >= 400) throw new McpError(-32002, `Resource not found: ${uri}`, job ? bodyOf(job) : undefined);
  const [notes, audit] = await Promise.all([
    run("listCaseNotesOrDownloadAttachment_list", { job_uuid: uuid }),
    run("listJobAuditEvents", { job_uuid: uuid, limit: 50 }),
  ]);
  const data = bodyOf(job).data as Record<string, unknown>;
  const section = (title: string, answer: ToolAnswer | undefined) =>
    answer && answer.status < 400
      ? `## ${title}\n\n\`\`\`json\n${JSON.stringify(bodyOf(answer).data, null, 2)}\n\`\`\``
      : `## ${title}\n\n(not available to this token${answer ? `: ${String(bodyOf(answer).message)}` : ""})`;
  const text = [
    `# ${String(data.job_ref ?? "Job")} (${uuid})`,
    `## Details\n\n\`\`\`json\n${JSON.stringify(data, null, 2)}\n\`\`\``,
    section("Case notes", notes),
    section("Timeline (audit trail, newest first)", audit),
  ].join("\n\n");
  return { contents: [{ uri, mimeType: "text/markdown", text }] };
}

/** The API's cap on a JSON body (src/http/body.ts): a case note's 50,000 characters fit with room. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

const rpcError = (status: 400 | 405 | 413, code: number, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });

async function handle(c: AppContext): Promise<Response> {
  const ctx = c.var.ctx;
  if (!ctx.hasCredentials) throw new ApiError("UNAUTHORIZED", "Missing bearer token: send Authorization: Bearer <token>");
  // Every change made through a tool records that it came through MCP (audit_events.via): the
  // caller carries the channel from the moment it is resolved.
  ctx.via = "mcp";
  const caller = await ctx.principal();
  await limitCaller(c, caller.tokenId);
  if (c.req.method !== "POST") {
    // No server-initiated stream and no session to end: the transport allows answering 405.
    return rpcError(405, -32000, "Method not allowed: this server is stateless (POST only, no SSE stream, no sessions)", {
      Allow: "POST",
    });
  }
  // Read here, capped as the API caps a JSON body, so that a batch is refused before any of it runs.
  const bytes = c.req.raw.body ? await readLimited(c.req.raw.body, MAX_MESSAGE_BYTES) : new Uint8Array();
  if (bytes === null) return rpcError(413, -32000, "Request body too large: one JSON-RPC message of at most 1 MiB");
  let parsedBody: unknown;
  try {
    parsedBody = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return rpcError(400, ErrorCode.ParseError, "Parse error: the body must be one JSON-RPC message");
  }
  // One message per POST: JSON-RPC batches left the protocol in 2025-06-18, and a batch would run
  // many tool calls under one request's rate-limit count.
  if (Array.isArray(parsedBody)) {
    return rpcError(400, ErrorCode.InvalidRequest, "Invalid request: one JSON-RPC message per POST (no batches)");
  }
  const server = serverFor(c, caller);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    return await transport.handleRequest(c.req.raw, { parsedBody });
  } finally {
    await server.close();
  }
}

export function mcpRoutes(app: OpenAPIHono<AppEnv>) {
  app.on(["GET", "POST", "DELETE"], "/mcp", handle);
}
