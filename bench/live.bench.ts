/**
 * Live events under load (issue 21): `wrangler dev` on a fresh local state (scripts/lib/local-api.ts),
 * CLIENTS WebSocket clients over TOKENS tokens of several roles (admins, managers, staff, agents and
 * contractors of three firms), each opened as a browser does (POST /api/live for a ticket, then
 * GET /api/live?ticket=…&after=…), while a writer adds RATE case notes a second for SECONDS seconds
 * to jobs of every firm and none. Half-way, every fifth client is dropped and reconnects with the
 * last id it saw. Checked: every client received every event it may see and none it may not, in
 * id order, none missing or doubled across its reconnect. Reported: delivery latency p50/p99 from
 * the write's answer to the client's receipt, as a ratio to the 1 s target; JSON in bench/out/.
 *   npm run bench:live [-- --quick] [-- --seconds 30 --clients 500 --rate 50 --tokens 20]
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cliArgs } from "../scripts/lib/cli.ts";
import { sleep, startLocalApi } from "../scripts/lib/local-api.ts";

const USAGE = `
npm run bench:live [-- --quick] [-- --seconds N --clients N --rate N --tokens N]

  --seconds  how long the writer writes (default 30; --quick: 6)
  --clients  WebSocket clients (default 500; --quick: 100)
  --rate     case notes written per second (default 50)
  --tokens   API tokens the clients share, of several roles (default 20)
  --quick    a short run for a quick look
`;
const { values } = cliArgs(USAGE, {
  seconds: { type: "string" },
  clients: { type: "string" },
  rate: { type: "string" },
  tokens: { type: "string" },
  quick: { type: "boolean", default: false },
});
const num = (v: string | undefined, d: number) => {
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`not a positive integer: ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const SECONDS = num(values.seconds, values.quick ? 6 : 30);
const CLIENTS = num(values.clients, values.quick ? 100 : 500);
const RATE = num(values.rate, 50);
const TOKENS = num(values.tokens, 20);
const FIRMS = [1, 2, 3];
const TARGET_P99_MS = 1000;

// Tokens: roles in turn, contractors spread over the firms.
const ROLES = ["admin", "manager", "staff", "agent", "contractor", "contractor"] as const;
type Who = { token: string; role: (typeof ROLES)[number]; contractorId: number | null; csrf?: string };
const users: Who[] = Array.from({ length: TOKENS }, (_, i) => {
  const role = ROLES[i % ROLES.length] as Who["role"];
  const contractorId = role === "contractor" ? (FIRMS[i % FIRMS.length] as number) : null;
  const uuid = randomUUID();
  return { token: `pp_${uuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`, role, contractorId, uuid };
}) as (Who & { uuid: string })[];
const sql = [
  ...FIRMS.map(
    (id) => `INSERT INTO contractors (id, uuid, name, email) VALUES (${id}, '${randomUUID()}', 'Firm ${id}', 'firm${id}@example.test')`,
  ),
  ...(users as (Who & { uuid: string })[]).flatMap((u, i) => [
    `INSERT INTO users (uuid, name, email, role, contractor_id) VALUES ('${u.uuid}', 'Bench ${i}', 'bench${i}@example.test', '${u.role}', ${u.contractorId ?? "NULL"})`,
    `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ('${randomUUID()}', (SELECT id FROM users WHERE uuid = '${u.uuid}'), 'bench', '${createHash("sha256").update(u.token).digest("hex")}')`,
  ]),
];

console.log(`live bench: ${CLIENTS} clients over ${TOKENS} tokens, ${RATE} writes/s for ${SECONDS} s`);
const api = await startLocalApi({ sql, rateLimits: { perToken: 1_000_000, perAddress: 1_000_000, unverified: 1_000_000 } });
const base = api.url;
let exitCode = 0;

try {
  const call = async (method: string, path: string, token: string, body?: unknown, csrf?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body ? { "Content-Type": "application/json" } : {}),
        ...(csrf ? { "X-CSRF-Token": csrf } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const csrf = async (token: string) => (await call("GET", "/api/security/csrf-token", token)).csrf_token as string;
  for (const u of users) u.csrf = await csrf(u.token);
  const writer = { token: api.token, csrf: await csrf(api.token) };

  // Jobs of every firm and of none.
  const jobs: { uuid: string; contractorId: number | null }[] = [];
  for (const contractorId of [...FIRMS, null, ...FIRMS, null]) {
    const res = await call(
      "POST",
      "/api/jobs/manage",
      writer.token,
      {
        action: "create",
        job_title: `Bench job ${jobs.length + 1}`,
        job_description: "Live bench",
        priority_id: 1,
        status_id: 1,
        job_type_id: 1,
        address_id: 9001,
        ...(contractorId ? { contractor_id: contractorId } : {}),
      },
      writer.csrf,
    );
    jobs.push({ uuid: res.job_uuid as string, contractorId });
  }
  const ownerOf = new Map(jobs.map((j) => [j.uuid, j.contractorId]));

  // The clients.
  type Received = { id: number; type: string; job: string; note: string | undefined; at: number; replayed: boolean };
  interface Client {
    who: Who;
    ws: WebSocket;
    got: Received[];
    reconnected: boolean;
    connectedAt: number;
  }
  /** A ticket, then the socket; `newest`: the newest event id when the ticket was issued. Retried twice. */
  let openFailures = 0;
  const connect = async (who: Who, after?: number): Promise<{ ws: WebSocket; newest: number }> => {
    for (let attempt = 1; ; attempt++) {
      const t = await call("POST", "/api/live", who.token, undefined, who.csrf);
      const q = `ticket=${encodeURIComponent(t.ticket as string)}&after=${after ?? (t.after as number)}`;
      const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/live?${q}`);
      const opened = await new Promise<boolean>((resolve) => {
        ws.addEventListener("open", () => resolve(true), { once: true });
        ws.addEventListener("error", () => resolve(false), { once: true });
      });
      if (opened) return { ws, newest: t.after as number };
      openFailures++;
      if (attempt >= 3) throw new Error("a WebSocket failed to open three times");
      await sleep(200);
    }
  };
  const listen = (c: Client, ws: WebSocket, replayUntil: number) => {
    ws.addEventListener("message", (e) => {
      const m = JSON.parse(String(e.data)) as { kind: string; id: number; type: string; job_uuid: string; data: { note_uuid?: string } };
      if (m.kind !== "event") return;
      c.got.push({ id: m.id, type: m.type, job: m.job_uuid, note: m.data.note_uuid, at: performance.now(), replayed: m.id <= replayUntil });
    });
  };
  const clients: Client[] = [];
  const started = performance.now();
  for (let i = 0; i < CLIENTS; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, CLIENTS - i) }, async (_, k) => {
        const who = users[(i + k) % users.length] as Who;
        const { ws } = await connect(who);
        const c: Client = { who, ws, got: [], reconnected: false, connectedAt: performance.now() };
        listen(c, ws, 0);
        clients.push(c);
      }),
    );
  }
  console.log(`${clients.length} clients connected in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // The writer: RATE notes a second, each answer's time kept by its note uuid.
  const answeredAt = new Map<string, number>();
  const sentAt = new Map<string, number>();
  const writeMs: number[] = [];
  const writes: { note: string; job: string }[] = [];
  let failures = 0;
  const inFlight: Promise<void>[] = [];
  const total = RATE * SECONDS;
  const t0 = performance.now();
  let reconnecting: Promise<void> | undefined;
  for (let n = 0; n < total; n++) {
    const due = t0 + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const job = jobs[n % jobs.length] as { uuid: string };
    const sent = performance.now();
    inFlight.push(
      call(
        "POST",
        "/api/jobs/case-notes",
        writer.token,
        { action: "create", job_uuid: job.uuid, message: `Bench note ${n}` },
        writer.csrf,
      ).then(
        (res) => {
          answeredAt.set(res.note_uuid as string, performance.now());
          sentAt.set(res.note_uuid as string, sent);
          writeMs.push(performance.now() - sent);
          writes.push({ note: res.note_uuid as string, job: job.uuid });
        },
        (err) => {
          failures++;
          console.error(String(err));
        },
      ),
    );
    // Half-way: every fifth client dropped, then back with the last id it saw.
    if (n === Math.floor(total / 2)) {
      const dropped = clients.filter((_, i) => i % 5 === 0);
      for (const c of dropped) c.ws.close();
      reconnecting = (async () => {
        // (a failure here is reported after the writes: the promise is awaited below)
        await sleep(500);
        for (let i = 0; i < dropped.length; i += 20) {
          await Promise.all(
            dropped.slice(i, i + 20).map(async (c) => {
              const last = c.got.at(-1)?.id ?? 0;
              const { ws, newest } = await connect(c.who, last);
              c.ws = ws;
              c.reconnected = true;
              // Events up to the newest at reconnecting are replays (their latency is not delivery latency).
              listen(c, ws, newest);
            }),
          );
        }
      })();
    }
  }
  await Promise.all(inFlight);
  await reconnecting;
  await sleep(2000); // the last events in flight
  const elapsed = (performance.now() - t0) / 1000;
  for (const c of clients) c.ws.close();

  // Check every client against what it may see.
  const noteJob = new Map(writes.map((w) => [w.note, w.job]));
  const writtenInOrder = [...writes];
  let missing = 0;
  let extra = 0;
  let forbidden = 0;
  let disordered = 0;
  let doubled = 0;
  const latencies: number[] = [];
  /** From the write's request (before its answer): what a person who made the change sees, never negative. */
  const fromRequest: number[] = [];
  let beforeAnswer = 0;
  /** Per second of the run (by the write's answer): the worst latency, to see where a tail comes from. */
  const worstBySecond: number[] = [];
  for (const c of clients) {
    const sees = (job: string) => c.who.role !== "contractor" || ownerOf.get(job) === c.who.contractorId;
    const ids = c.got.map((g) => g.id);
    for (let i = 1; i < ids.length; i++) if ((ids[i] as number) <= (ids[i - 1] as number)) disordered++;
    doubled += ids.length - new Set(ids).size;
    const notes = new Set(c.got.map((g) => g.note));
    for (const g of c.got) {
      if (!sees(g.job)) forbidden++;
      else if (g.type !== "note.added" || !g.note || !noteJob.has(g.note)) extra++;
      const answered = g.note ? answeredAt.get(g.note) : undefined;
      if (answered !== undefined && !g.replayed) {
        const ms = Math.max(0, g.at - answered);
        if (g.at < answered) beforeAnswer++;
        fromRequest.push(g.at - (sentAt.get(g.note as string) ?? answered));
        latencies.push(ms);
        const sec = Math.floor((answered - t0) / 1000);
        worstBySecond[sec] = Math.max(worstBySecond[sec] ?? 0, Math.round(ms));
        for (let k = 0; k < sec; k++) worstBySecond[k] ??= 0;
      }
    }
    for (const w of writtenInOrder) if (sees(w.job) && !notes.has(w.note)) missing++;
  }
  const pctOf = (xs: number[], p: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  };
  latencies.sort((a, b) => a - b);
  const p50 = pctOf(latencies, 50);
  const p99 = pctOf(latencies, 99);
  const received = clients.reduce((s, c) => s + c.got.length, 0);
  const summary = {
    clients: clients.length,
    tokens: TOKENS,
    roles: Object.fromEntries(ROLES.map((r) => [r, users.filter((u) => u.role === r).length])),
    writes: writes.length,
    write_failures: failures,
    writes_per_s: Number((writes.length / elapsed).toFixed(1)),
    reconnected: clients.filter((c) => c.reconnected).length,
    open_failures_retried: openFailures,
    messages_received: received,
    messages_per_s: Math.round(received / elapsed),
    missing,
    extra,
    forbidden,
    out_of_order: disordered,
    duplicates: doubled,
    latency_ms: { p50: Math.round(p50), p99: Math.round(p99), max: Math.round(latencies.at(-1) ?? Number.NaN), samples: latencies.length },
    // Most events reach the clients before the writer has read its own answer (counted as 0 above).
    received_before_the_answer: Number((beforeAnswer / Math.max(1, latencies.length)).toFixed(3)),
    from_request_ms: { p50: Math.round(pctOf(fromRequest, 50)), p99: Math.round(pctOf(fromRequest, 99)) },
    write_answer_ms: { p50: Math.round(pctOf(writeMs, 50)), p99: Math.round(pctOf(writeMs, 99)) },
    p99_vs_target: Number((p99 / TARGET_P99_MS).toFixed(3)),
    worst_ms_by_second: worstBySecond,
  };
  console.log(JSON.stringify(summary, null, 2));
  mkdirSync("bench/out", { recursive: true });
  writeFileSync(`bench/out/live-${Date.now()}.json`, JSON.stringify(summary, null, 2));
  const ok = failures === 0 && missing === 0 && extra === 0 && forbidden === 0 && disordered === 0 && doubled === 0;
  console.log(
    ok
      ? `OK: every client got every event it may see and none it may not, in order; p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (${summary.p99_vs_target}× the 1 s target)`
      : "FAILED: see the counts above",
  );
  if (!ok) exitCode = 1;
} catch (err) {
  console.error(err);
  console.error(api.logs.tail());
  exitCode = 1;
} finally {
  await api.stop();
}
process.exit(exitCode);
