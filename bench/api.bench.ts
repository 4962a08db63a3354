/**
 * API throughput on the generated estate (`npm run gen:estate -- --tokens 96` first): `wrangler dev`
 * on the worktree's local D1 (the database `npm run dev` serves), autocannon with concurrent
 * connections, many callers as in production: each request under the next of the estate's admin
 * tokens and from the next of BENCH_ADDRESSES client addresses (`cf-connecting-ip`), with every
 * rate limit on (the production path), their limits raised so the run is not all 429s. Every case
 * reports requests/s, p50 and p99, and its throughput as a ratio to `GET /` (the Worker without D1)
 * measured in the same run; a JSON summary goes to bench/out/.
 *   npm run bench:api            BENCH_SECONDS=8 BENCH_CONNECTIONS=20 BENCH_PORT=8820 BENCH_CASES=list,create
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import autocannon from "autocannon";
import { migrateLocal } from "../scripts/lib/local";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const PORT = Number(process.env.BENCH_PORT ?? 8820);
const WARMUP_SECONDS = 1;
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 250);
/** Per 60 s window, every policy: far above what the run sends per token or address, yet enforced. */
const BENCH_LIMIT = 1_000_000;
const base = `http://127.0.0.1:${PORT}`;

const tokenFile = "bench/out/estate-tokens.txt";
if (!existsSync(tokenFile)) {
  console.error("No estate: run `npm run gen:estate` first (it writes the admin tokens the benchmark uses).");
  process.exit(2);
}
const tokens = readFileSync(tokenFile, "utf8").split("\n").filter(Boolean);
// Client addresses in private space (a /24 of documentation addresses holds too few).
const addresses = Array.from({ length: ADDRESSES }, (_, i) => `10.77.${i >> 8}.${i & 255}`);

// The estate's schema brought up to date (a migration added since `gen:estate` ran), as npm run dev does.
migrateLocal();

// Ids the cases need, read from the estate before the server starts.
const dir = ".wrangler/state/v3/d1/miniflare-D1DatabaseObject";
const file = readdirSync(dir)
  .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
  .map((f) => join(dir, f))
  .find((f) => {
    const db = new DatabaseSync(f, { readOnly: true });
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").get();
    db.close();
    return has;
  });
if (!file) throw new Error("no local D1 with jobs");
const db = new DatabaseSync(file, { readOnly: true });
const one = <T>(sql: string) => db.prepare(sql).get() as T;
const jobCount = one<{ n: number }>("SELECT count(*) AS n FROM jobs").n;
const withPhotos = one<{ id: number; uuid: string }>("SELECT id, uuid FROM jobs WHERE photos_count > 0 ORDER BY id DESC LIMIT 1");
const withNotes = one<{ uuid: string }>(
  "SELECT j.uuid FROM jobs j WHERE EXISTS (SELECT 1 FROM case_notes n WHERE n.job_id = j.id) ORDER BY j.id DESC LIMIT 1",
);
const withAmendment = one<{ uuid: string }>(
  "SELECT j.uuid FROM jobs j JOIN amendment_requests a ON a.job_id = j.id ORDER BY j.id DESC LIMIT 1",
);
db.close();

// wrangler.toml with every [[ratelimits]] limit raised (paths made absolute: the copy lives in bench/out).
const config = resolve("bench/out/wrangler.bench.toml");
mkdirSync("bench/out", { recursive: true });
writeFileSync(
  config,
  readFileSync("wrangler.toml", "utf8")
    .replace(/simple = \{ limit = \d+,/g, `simple = { limit = ${BENCH_LIMIT},`)
    .replace(
      /^(main|directory|migrations_dir|image|image_build_context) = "([^"]+)"$/gm,
      (_, k: string, p: string) => `${k} = ${JSON.stringify(resolve(p))}`,
    ),
);
const limitVars = ["RATE_LIMIT_PER_TOKEN", "RATE_LIMIT_PER_ADDRESS", "RATE_LIMIT_UNVERIFIED"].flatMap((v) => [
  "--var",
  `${v}:${BENCH_LIMIT}`,
]);

const child: ChildProcess = spawn(
  "wrangler",
  [
    "dev",
    "--config",
    config,
    "--persist-to",
    resolve(".wrangler/state"),
    // The secrets npm run dev wrote (a config elsewhere would look for them beside itself).
    "--env-file",
    resolve(".dev.vars"),
    "--port",
    String(PORT),
    "--inspector-port",
    String(PORT + 1),
    "--ip",
    "127.0.0.1",
    "--log-level",
    "error",
    "--var",
    "MEDIA_SERVICE:process",
    ...limitVars,
  ],
  { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true" }, detached: true },
);
const stop = () => {
  try {
    if (child.pid) process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
};
process.on("SIGINT", () => {
  stop();
  process.exit(130);
});

interface Row {
  case: string;
  target?: number;
  rps: number;
  p50: number;
  p99: number;
  ratio: number;
  requests: number;
  non2xx: number;
  errors: number;
}

try {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  // A CSRF token per API token, for the writes.
  const csrf = await Promise.all(
    tokens.map(async (t) => {
      const res = await fetch(`${base}/api/security/csrf-token`, {
        headers: { Authorization: `Bearer ${t}`, "cf-connecting-ip": "10.78.0.1" },
      });
      return ((await res.json()) as { csrf_token: string }).csrf_token;
    }),
  );
  const anyJob = withNotes.uuid;
  const createBody = JSON.stringify({
    action: "create",
    job_title: "Bench boiler",
    job_description: "Created by the API benchmark",
    priority_id: 2,
    status_id: 1,
    job_type_id: 3,
    address_id: 1,
    private_contact_name: "Bench Person",
  });
  // `target`: issue 11's throughput floor for the case (× the no-D1 floor), where it sets one.
  const cases: { name: string; path: string; method?: "GET" | "POST"; body?: string; target?: number }[] = [
    { name: "GET / (floor, no D1)", path: "/" },
    { name: "GET csrf-token (token check only)", path: "/api/security/csrf-token", target: 0.7 },
    { name: "jobs list, 50, no filter", path: "/api/jobs/manage?action=list&limit=50", target: 0.55 },
    { name: "jobs list, status_id + priority_id", path: "/api/jobs/manage?action=list&status_id=1&priority_id=2", target: 0.4 },
    { name: "jobs list, search=boiler (1 in 5)", path: "/api/jobs/manage?action=list&search=boiler", target: 0.3 },
    { name: "one job (action=get)", path: `/api/jobs/manage?action=get&uuid=${anyJob}`, target: 0.6 },
    { name: "sla-status", path: "/api/jobs/sla-status", target: 0.4 },
    { name: "case-note list", path: `/api/jobs/case-notes?action=list&job_uuid=${withNotes.uuid}` },
    { name: "photos list", path: `/api/jobs/photos?action=list&job_id=${withPhotos.id}` },
    { name: "amendments list", path: `/api/jobs/amend-request?job_uuid=${withAmendment.uuid}` },
    { name: "audit list", path: `/api/jobs/audit?job_uuid=${anyJob}` },
    { name: "toggle-pin", path: "/api/jobs/toggle-pin", method: "POST", body: JSON.stringify({ job_uuid: anyJob }) },
    { name: "create", path: "/api/jobs/manage", method: "POST", body: createBody, target: 0.4 },
  ];
  // BENCH_CASES=list,create runs the floor and the cases whose names contain one of the words.
  const only = (process.env.BENCH_CASES ?? "").split(",").filter(Boolean);
  const chosen = cases.filter((c, i) => i === 0 || only.length === 0 || only.some((w) => c.name.includes(w)));
  let next = 0;
  let nextAddress = 0;
  const rows: Row[] = [];
  for (const c of chosen) {
    const run = (duration: number) =>
      autocannon({
        url: `${base}${c.path}`,
        connections: CONNECTIONS,
        duration,
        method: c.method ?? "GET",
        body: c.body,
        requests: [
          {
            // Each request under the next token (and its CSRF token) from the next address, round robin.
            setupRequest: (req) => {
              const i = next++ % tokens.length;
              req.headers = {
                ...req.headers,
                Authorization: `Bearer ${tokens[i]}`,
                "cf-connecting-ip": addresses[nextAddress++ % addresses.length] ?? "",
                ...(c.method === "POST" ? { "Content-Type": "application/json", "X-CSRF-Token": csrf[i] ?? "" } : {}),
              };
              return req;
            },
          },
        ],
      });
    // A second unmeasured first: the case's code paths compiled and its rows cached, as in a
    // serving isolate, so p99 is the steady state's and not the first requests'.
    const warm = await run(WARMUP_SECONDS);
    const result = await run(SECONDS);
    result.non2xx += warm.non2xx;
    result.errors += warm.errors;
    const floor = rows[0]?.rps ?? result.requests.average;
    rows.push({
      case: c.name,
      target: c.target,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      ratio: result.requests.average / floor,
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    });
    const r = rows[rows.length - 1];
    if (r) console.error(`  ${r.case}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}`);
  }

  console.log(
    `\nAPI throughput on ${jobCount} jobs: ${CONNECTIONS} connections, ${tokens.length} admin tokens, ${ADDRESSES} addresses, rate limits on, ${SECONDS} s per case (local wrangler dev)\n`,
  );
  // Every case: p99 within 3× its p50 and no non-2xx answer; some also a throughput floor.
  const verdict = (r: Row) => {
    const missed = [
      ...(r.target !== undefined && r.ratio < r.target ? [`× floor < ${r.target}`] : []),
      ...(r.p99 > 3 * r.p50 ? ["p99 > 3× p50"] : []),
      ...(r.non2xx + r.errors > 0 ? ["non-2xx"] : []),
    ];
    return missed.length === 0 ? `met${r.target !== undefined ? ` (≥ ${r.target})` : ""}` : `MISSED: ${missed.join(", ")}`;
  };
  console.log(
    `| case | req/s | × floor | p50 ms | p99 ms | p99/p50 | non-2xx | targets |\n| --- | --- | --- | --- | --- | --- | --- | --- |`,
  );
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.rps.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.p50} | ${r.p99} | ${(r.p99 / Math.max(1, r.p50)).toFixed(1)} | ${r.non2xx + r.errors} | ${verdict(r)} |`,
    );
  }
  const missed = rows.filter((r) => verdict(r).startsWith("MISSED"));
  console.log(
    `\nTargets: ${rows.length - missed.length} of ${rows.length} cases met${missed.length ? `; missed: ${missed.map((r) => r.case).join("; ")}` : ""}`,
  );
  mkdirSync("bench/out", { recursive: true });
  const out = `bench/out/api-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(
    out,
    JSON.stringify(
      {
        jobs: jobCount,
        connections: CONNECTIONS,
        seconds: SECONDS,
        tokens: tokens.length,
        addresses: ADDRESSES,
        at: new Date().toISOString(),
        rows,
      },
      null,
      2,
    ),
  );
  console.log(`\nJSON summary: ${out}`);
  if (rows.some((r) => r.non2xx + r.errors > 0)) process.exitCode = 1;
} finally {
  stop();
}
