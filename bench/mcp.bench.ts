/**
 * A tool call's latency against the same operation over REST, measured in the same run, as a
 * ratio (target ≤ 1.3×): `wrangler dev` on a fresh local state (scripts/lib/local-api.ts) with a
 * seeded job, autocannon with a few connections, each case alternating REST and MCP rounds so
 * the machine's drift falls on both. The MCP side is a tools/call POST as the SDK's client sends
 * it (JSON-RPC body, Accept JSON + SSE, protocol version header); writes carry a fresh request id
 * (and REST an Idempotency-Key, as the tool call derives one) so every call is a real change.
 *   npm run bench:mcp            BENCH_SECONDS=5 BENCH_CONNECTIONS=4 BENCH_ROUNDS=2
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { startLocalApi } from "../scripts/lib/local-api.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TARGET = 1.3;

const JOB = randomUUID();
const api = await startLocalApi({
  role: "admin",
  vars: { TRANSCODER_URL: "http://127.0.0.1:9" },
  rateLimits: { perToken: 1_000_000, perAddress: 1_000_000, unverified: 1_000_000 },
  sql: [
    `INSERT INTO jobs (uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, vat_percentage, sla_started_at)
     VALUES ('${JOB}', 'JOB-BENCH', 'Boiler Service - Unit 001', 'Annual service.', 1, 2, 3, 9001, 20, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))`,
  ],
});
const stop = () => api.stop();
process.once("SIGINT", () => void stop().finally(() => process.exit(130)));

try {
  const auth = { Authorization: `Bearer ${api.token}` };
  const csrf = ((await (await fetch(`${api.url}/api/security/csrf-token`, { headers: auth })).json()) as { csrf_token: string }).csrf_token;
  const mcpHeaders = {
    ...auth,
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
  };
  let seq = 0;
  const toolCall = (name: string, args: Record<string, unknown>) => () =>
    JSON.stringify({ jsonrpc: "2.0", id: `bench-${++seq}-${randomUUID()}`, method: "tools/call", params: { name, arguments: args } });

  interface Side {
    method: "GET" | "POST";
    path: string;
    headers: Record<string, string>;
    body?: () => string;
    /** Headers that must differ per request (an Idempotency-Key). */
    fresh?: () => Record<string, string>;
  }
  const cases: { name: string; rest: Side; mcp: Side }[] = [
    {
      name: "get a job",
      rest: { method: "GET", path: `/api/jobs/manage?action=get&uuid=${JOB}`, headers: auth },
      mcp: { method: "POST", path: "/mcp", headers: mcpHeaders, body: toolCall("listOrGetJobs_get", { uuid: JOB }) },
    },
    {
      name: "list jobs",
      rest: { method: "GET", path: "/api/jobs/manage?action=list&limit=20", headers: auth },
      mcp: { method: "POST", path: "/mcp", headers: mcpHeaders, body: toolCall("listOrGetJobs_list", { limit: 20 }) },
    },
    {
      name: "toggle a pin (write)",
      rest: {
        method: "POST",
        path: "/api/jobs/toggle-pin",
        headers: { ...auth, "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: () => JSON.stringify({ job_uuid: JOB }),
        fresh: () => ({ "Idempotency-Key": randomUUID() }),
      },
      mcp: { method: "POST", path: "/mcp", headers: mcpHeaders, body: toolCall("toggleJobPin", { job_uuid: JOB }) },
    },
  ];

  const measure = async (side: Side, duration: number) => {
    let bad = 0;
    const result = await autocannon({
      url: `${api.url}${side.path}`,
      connections: CONNECTIONS,
      duration,
      method: side.method,
      requests: [
        {
          setupRequest: (req) => {
            req.headers = { ...req.headers, ...side.headers, ...(side.fresh?.() ?? {}) };
            if (side.body) req.body = side.body();
            return req;
          },
          onResponse: (status, body) => {
            // A tool error is a 200 with isError: count it as the failure it is.
            if (status >= 400 || (side.path === "/mcp" && body.includes('"isError":true'))) bad++;
          },
        },
      ],
    });
    return {
      p50: result.latency.p50,
      mean: result.latency.average,
      p99: result.latency.p99,
      rps: result.requests.average,
      bad: bad + result.non2xx + result.errors,
    };
  };

  const rows: { case: string; rest: number; mcp: number; restP99: number; mcpP99: number; ratio: number; bad: number }[] = [];
  for (const c of cases) {
    // Warm both paths (compiled code, cached token) before measuring.
    await measure(c.rest, 1);
    await measure(c.mcp, 1);
    const rest: number[] = [];
    const mcp: number[] = [];
    const p99 = { rest: 0, mcp: 0 };
    let bad = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await measure(c.rest, SECONDS);
      const m = await measure(c.mcp, SECONDS);
      rest.push(r.mean);
      mcp.push(m.mean);
      p99.rest = Math.max(p99.rest, r.p99);
      p99.mcp = Math.max(p99.mcp, m.p99);
      bad += r.bad + m.bad;
      console.error(`  ${c.name} round ${round + 1}: REST mean ${r.mean.toFixed(2)} ms, MCP mean ${m.mean.toFixed(2)} ms`);
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    rows.push({ case: c.name, rest: avg(rest), mcp: avg(mcp), restP99: p99.rest, mcpP99: p99.mcp, ratio: avg(mcp) / avg(rest), bad });
  }

  console.log(
    `\nMCP tool call vs REST, same run: ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s per side per case (local wrangler dev)\n`,
  );
  console.log(
    "| case | REST mean ms | MCP mean ms | MCP / REST | REST p99 | MCP p99 | failed | target ≤ 1.3× |\n| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.rest.toFixed(2)} | ${r.mcp.toFixed(2)} | ${r.ratio.toFixed(2)}× | ${r.restP99} | ${r.mcpP99} | ${r.bad} | ${r.ratio <= TARGET && r.bad === 0 ? "met" : "MISSED"} |`,
    );
  }
  mkdirSync("bench/out", { recursive: true });
  const out = `bench/out/mcp-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(out, JSON.stringify({ connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, target: TARGET, rows }, null, 2));
  console.log(`\nSummary: ${out}`);
  if (rows.some((r) => r.bad > 0)) process.exitCode = 1;
} finally {
  await stop();
}
