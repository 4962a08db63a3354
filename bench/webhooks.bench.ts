/**
 * Webhook delivery latency, locally: from the moment a write's answer arrives at the client to the
 * moment a receiver (a Node http server on loopback verifying with `standardwebhooks`, as an
 * integrator writes one) has the event. Each sample is one job update whose `job.updated` event is
 * awaited before the next (so queueing behind earlier deliveries is not measured). The path: the
 * request's relay (waitUntil after the answer) → the webhook queue → the consumer's signed POST.
 *
 * Runs `wrangler dev` once per `max_batch_timeout` of the propops-webhooks consumer (default: the
 * value in wrangler.toml, then 0) and prints p50/p99 for each and their ratio; a JSON summary goes
 * to bench/out/webhooks.json.
 *   npm run bench:webhooks            BENCH_SAMPLES=40 BENCH_BATCH_TIMEOUTS=1,0
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { Webhook } from "standardwebhooks";
import { cliArgs } from "../scripts/lib/cli.ts";
import { freePort, startLocalApi } from "../scripts/lib/local-api.ts";

cliArgs(
  "npm run bench:webhooks: webhook delivery latency (write answered → receiver has the event), p50/p99 per max_batch_timeout of the webhook queue (BENCH_SAMPLES, BENCH_BATCH_TIMEOUTS=1,0)",
  {},
);

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const configured = Number(
  /queue = "propops-webhooks"\nmax_batch_size = \d+\nmax_batch_timeout = (\d+)/.exec(readFileSync("wrangler.toml", "utf8"))?.[1] ?? 1,
);
const TIMEOUTS = (process.env.BENCH_BATCH_TIMEOUTS ?? `${configured === 0 ? 1 : configured},0`).split(",").map(Number);

/** wrangler.toml with the webhook consumer's max_batch_timeout set (the other queues untouched). */
const CONSUMER = /(\[\[queues\.consumers\]\]\nqueue = "propops-webhooks"\nmax_batch_size = \d+\nmax_batch_timeout = )\d+/;
const withBatchTimeout = (seconds: number) => (toml: string) => {
  assert.match(toml, CONSUMER, "wrangler.toml: the propops-webhooks consumer's max_batch_timeout");
  return toml.replace(CONSUMER, (_, head: string) => `${head}${seconds}`);
};

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;

async function run(batchTimeout: number) {
  let secret = "";
  const waiting = new Map<string, (at: number) => void>();
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const at = performance.now();
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]));
    const event = new Webhook(secret).verify(body, headers) as { type: string; data: { job_uuid: string; sequence: number } };
    res.writeHead(204).end();
    waiting.get(`${event.type}:${event.data.job_uuid}:${event.data.sequence}`)?.(at);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const api = await startLocalApi({ role: "admin", vars: { WEBHOOKS_ALLOW_LOOPBACK: "true" }, editConfig: withBatchTimeout(batchTimeout) });
  try {
    const headers = { Authorization: `Bearer ${api.token}`, "Content-Type": "application/json" };
    const csrf = ((await (await fetch(`${api.url}/api/security/csrf-token`, { headers })).json()) as { csrf_token: string }).csrf_token;
    const post = async (path: string, body: Record<string, unknown>) => {
      const res = await fetch(`${api.url}${path}`, {
        method: "POST",
        headers: { ...headers, "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      assert.ok(res.ok, JSON.stringify(json));
      return json;
    };
    const sub = await post("/api/admin/webhooks", {
      action: "create",
      url: `http://127.0.0.1:${port}/hooks`,
      event_types: ["job.updated"],
    });
    secret = String(sub.secret);
    const job = await post("/api/jobs/manage", {
      action: "create",
      job_title: "Latency probe",
      job_description: "Webhook latency benchmark",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
    });
    const uuid = String(job.job_uuid);
    const samples: number[] = [];
    // sequence 1 is the job's creation; each update is the next.
    for (let i = 0; i < SAMPLES + 2; i++) {
      const received = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no delivery within 30 s (sample ${i})`)), 30_000);
        waiting.set(`job.updated:${uuid}:${i + 2}`, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      await post("/api/jobs/manage", { action: "update", uuid, job_title: `Latency probe ${i}` });
      const answered = performance.now();
      const at = await received;
      // The first two warm the isolate, the relay and the consumer.
      if (i >= 2) samples.push(at - answered);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    return {
      batchTimeout,
      samples: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
    };
  } finally {
    await api.stop();
    await new Promise((r) => server.close(r));
  }
}

const results = [];
for (const t of TIMEOUTS) {
  const r = await run(t);
  results.push(r);
  console.log(
    `max_batch_timeout = ${t}: ${r.samples} deliveries, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms`,
  );
}
const [first, ...rest] = results;
for (const r of rest) {
  if (first)
    console.log(
      `max_batch_timeout ${r.batchTimeout} vs ${first.batchTimeout}: p50 ×${(r.p50 / first.p50).toFixed(3)}, p99 ×${(r.p99 / first.p99).toFixed(3)}`,
    );
}
mkdirSync("bench/out", { recursive: true });
writeFileSync("bench/out/webhooks.json", JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
process.exit(0);
