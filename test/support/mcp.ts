import { exports } from "cloudflare:workers";

/**
 * A JSON-RPC call to /mcp through the Worker's own fetch, as an MCP client over Streamable HTTP
 * sends it (Accept: JSON and SSE; the protocol version header after initialize).
 */

let nextId = 1;

export interface McpAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON-RPC answers and assert on them
  body: any;
}

export async function mcpPost(token: string | undefined, message: unknown, headers: Record<string, string> = {}): Promise<McpAnswer> {
  const h = new Headers({
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
    ...headers,
  });
  if (token !== undefined) h.set("Authorization", `Bearer ${token}`);
  const res = await exports.default.fetch(
    new Request("https://propops.test/mcp", {
      method: "POST",
      headers: h,
      body: typeof message === "string" ? message : JSON.stringify(message),
    }),
  );
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** A request with a fresh id (or the one given): its answer, the JSON-RPC result or error inside. */
export async function rpc(token: string, method: string, params: Record<string, unknown> = {}, id: number | string = nextId++) {
  return mcpPost(token, { jsonrpc: "2.0", id, method, params });
}

// biome-ignore lint/suspicious/noExplicitAny: tool results are arbitrary JSON
export type ToolResult = { isError: boolean; _meta: Record<string, any>; content: { type: string; text: string }[] };

/** tools/call: the tool's result (throws on a JSON-RPC error, which a tool refusal is not). */
export async function callTool(token: string, name: string, args: Record<string, unknown> = {}, id?: number | string): Promise<ToolResult> {
  const res = await rpc(token, "tools/call", { name, arguments: args }, id);
  if (res.status !== 200 || !res.body.result) throw new Error(`tools/call ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.result;
}

export async function toolNames(token: string): Promise<string[]> {
  const res = await rpc(token, "tools/list");
  if (res.status !== 200 || !res.body.result) throw new Error(`tools/list: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.result.tools.map((t: { name: string }) => t.name);
}
