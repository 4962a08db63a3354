/**
 * Proof under load, with a key rotation while the API serves (issue 12).
 *   npm run proof:load [-- --seconds 60 --clients 50]        (or PROOF_SECONDS / PROOF_CLIENTS)
 *
 * Starts its own local API (`wrangler dev --local`, fresh state in a temp dir, the e2e harness),
 * seeds reference rows, users of every kind (admin, manager, staff, contractor: one token per
 * client) and jobs whose private fields are sealed under key k1, then runs N concurrent clients
 * for S seconds doing a realistic mix against the real API: create (Idempotency-Key, some retried
 * to check the replay), update, get, list with filters and search, case notes, sla-status, pins,
 * amendment requests and decisions, CSRF tokens, deletes. Part-way through, the API is restarted on
 * the same state with the ring {active: k2, keys: {k1, k2}} and an admin client calls
 * POST /api/admin/rotate-keys until it reports completion while the load goes on.
 *
 * Afterwards it checks: no 5xx (and no status a client did not expect); every acknowledged write
 * readable with what was written (private fields decrypted, for a caller allowed to see them);
 * counts adding up (jobs by filter, notes and amendments per job, pins per user, SLA counters); no
 * duplicate from an idempotent retry; no value left on k1 in the raw D1 database; every stored
 * ciphertext opening (with our own implementation of the scheme) to the acknowledged value; and no
 * private marker in clear in any file of the local state (D1 database and WAL, R2, Durable
 * Objects), with a self-check that the scan does find a marker stored in clear (job titles).
 * Prints a summary, writes it as JSON (bench/out/proof-load.json) and exits 1 on any failure.
 */
import { createHash, hkdfSync, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { cliArgs } from "./lib/cli.ts";
import { type LocalApi, ROOT, startLocalApi } from "./lib/local-api.ts";

// ---------------------------------------------------------------------------------------------
// The field encryption scheme (src/crypto/fields.ts), written again here on purpose: seeding with
// it and opening the stored values with it checks the Worker's values are what the scheme says.

const HKDF_SALT = "propops-field-encryption-v1";
type Ring = Record<string, Buffer>;
interface FieldCtx {
  table: string;
  column: string;
  rowUuid: string;
}

function fieldKey(master: Buffer, ctx: FieldCtx): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", master, HKDF_SALT, `${ctx.table}.${ctx.column}.${ctx.rowUuid}`, 32));
}

function seal(ring: Ring, kid: string, ctx: FieldCtx, text: string): string {
  const master = ring[kid];
  if (!master) throw new Error(`no key ${kid}`);
  const nonce = randomBytes(24);
  const sealed = xsalsa20poly1305(fieldKey(master, ctx), nonce).encrypt(new TextEncoder().encode(text));
  return `v1.${kid}.${Buffer.concat([nonce, sealed]).toString("base64url")}`;
}

function open(ring: Ring, ctx: FieldCtx, stored: string): string {
  const [version, kid = "", body = ""] = stored.split(".");
  const master = ring[kid];
  if (version !== "v1" || !master) throw new Error(`not a v1 value under a known key: ${stored.slice(0, 12)}…`);
  const bytes = Buffer.from(body, "base64url");
  return new TextDecoder().decode(xsalsa20poly1305(fieldKey(master, ctx), bytes.subarray(0, 24)).decrypt(bytes.subarray(24)));
}

/** The encrypted columns, by table (src/domain/encrypted-columns.ts). */
const ENCRYPTED: Record<string, string[]> = {
  jobs: ["access_details", "private_contact_name", "private_contact_email"],
  tenants: ["email", "phone"],
  case_notes: ["message", "message_text", "from_email"],
  webhook_subscriptions: ["secret"],
};

// ---------------------------------------------------------------------------------------------
// The model: what the clients were told was written.

const OPEN_STATUSES = new Set([1, 2, 3, 4, 5]);
const UPDATE_STATUSES = [1, 3, 4, 6, 7]; // never 9 (archived: further updates would be 403 by design)
const CONTRACTORS = [20, 21, 22];

interface JobFields {
  job_title: string;
  status_id: number;
  priority_id: number;
  contractor_id: number | null;
  contractor_budget: number;
  access_details: string;
  private_contact_name: string;
  private_contact_email: string;
}

interface JobModel {
  uuid: string;
  id: number;
  /** The client that created it (the only one that updates or deletes it); null for seeded jobs. */
  owner: number | null;
  createdBy: number;
  /** Scratch jobs are never shared with other clients (no contractor, no pins): their owner deletes them. */
  scratch: boolean;
  deleted: boolean;
  fields: JobFields;
  /** Every private value ever sent for this job (a read racing an update may see any of them). */
  sentPrivate: Set<string>;
  /** Bumped when an update starts: a contractor's 404 while it moved is a race, not a bug. */
  moves: number;
  updating: number;
  /** Acknowledged creates, updates and deletes of this job. */
  acks: number;
  notes: Map<string, string>;
  amendments: Map<string, "pending" | "rejected">;
  /** Title marker searches must find exactly once (idempotent retries must not duplicate). */
  idempotentRetried: boolean;
}

type Role = "admin" | "manager" | "staff" | "contractor";

interface Client {
  index: number;
  userId: number;
  role: Role;
  contractorId: number | null;
  token: string;
  csrf: string;
  own: JobModel[];
  pins: Set<string>;
  pinToggles: number;
  n: number;
}

interface Failure {
  what: string;
  detail: string;
}

export interface ProofOptions {
  seconds: number;
  clients: number;
  /** Where the JSON summary goes; null: nowhere. */
  out?: string | null;
  log?: (line: string) => void;
}

export interface ProofSummary {
  passed: boolean;
  failures: Failure[];
  seconds: number;
  clients: number;
  requests: number;
  statuses: Record<string, number>;
  byOperation: Record<string, Record<string, number>>;
  requestsPerSecond: number;
  writes: { acknowledged: number; verified: number; lost: number; byKind: Record<string, number> };
  counts: { checked: number; mismatched: number };
  idempotency: { replays: number; replaysVerified: number; concurrentDuplicates: number; duplicateJobs: number };
  contractorScoping: { listsChecked: number; foreignReadsRefused: number };
  rotation: {
    restartSeconds: number;
    rounds: number;
    rotated: number;
    completeAfterSeconds: number | null;
    valuesOnOldKey: number;
    valuesOnNewKey: number;
    valuesOpened: number;
    oldKeyCiphertextsInFiles: number;
  };
  scan: { files: number; bytes: number; d1Bytes: { sqlite: number; wal: number }; plaintextHits: number; selfCheckHits: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runProofLoad(opts: ProofOptions): Promise<ProofSummary> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const runId = randomBytes(5).toString("hex");
  const SECRET = `pvt${runId}`; // in every private value: must never be found in clear
  const PUBLIC = `pub${runId}`; // in every job title (stored in clear): the scan's self-check
  const failures: Failure[] = [];
  const fail = (what: string, detail: string) => {
    if (failures.length < 200) failures.push({ what, detail });
    else if (failures.length === 200) failures.push({ what: "more", detail: "further failures not listed" });
  };

  const ring: Ring = { k1: randomBytes(32), k2: randomBytes(32) };
  const ringJson = (active: string, ids: string[]) =>
    JSON.stringify({ active, keys: Object.fromEntries(ids.map((id) => [id, ring[id]?.toString("base64")])) });

  // --- Seed: reference rows, users and tokens, seeded jobs and tenants sealed under k1. --------
  const sql: string[] = [];
  for (let a = 1; a <= 5; a++) {
    sql.push(
      `INSERT INTO addresses (id, line1, town, postcode, search_text) VALUES (${a}, '${a} Load Street', 'Proof Town', 'PL${a} 1AA', '${a} load street proof town pl${a} 1aa')`,
    );
  }
  for (const id of [10, 11])
    sql.push(`INSERT INTO agents (id, uuid, name, email) VALUES (${id}, '${randomUUID()}', 'Agent_${id}', 'agent${id}@example.test')`);
  for (const id of CONTRACTORS) {
    sql.push(
      `INSERT INTO contractors (id, uuid, name, email) VALUES (${id}, '${randomUUID()}', 'Contractor_${id}', 'contractor${id}@example.test')`,
    );
  }
  const tenantValues = new Map<number, { uuid: string; email: string; phone: string }>();
  for (let t = 1; t <= 3; t++) {
    const uuid = randomUUID();
    const email = `${SECRET}-tenant${t}@example.test`;
    const phone = `07700 ${SECRET} ${t}`;
    tenantValues.set(t, { uuid, email, phone });
    sql.push(
      `INSERT INTO tenants (id, uuid, name, email, phone) VALUES (${t}, '${uuid}', 'Tenant_${t}', '${seal(ring, "k1", { table: "tenants", column: "email", rowUuid: uuid }, email)}', '${seal(ring, "k1", { table: "tenants", column: "phone", rowUuid: uuid }, phone)}')`,
    );
  }
  const newToken = (userId: number) => {
    const uuid = randomUUID();
    const token = `pp_${uuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`;
    sql.push(
      `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ('${uuid}', ${userId}, 'proof-load', '${createHash("sha256").update(token).digest("hex")}')`,
    );
    return token;
  };
  const addUser = (id: number, role: Role, contractorId: number | null) =>
    sql.push(
      `INSERT INTO users (id, uuid, name, email, role, contractor_id) VALUES (${id}, '${randomUUID()}', 'Load_${role}_${id}', 'load${id}@example.test', '${role}', ${contractorId ?? "NULL"})`,
    );
  const ROTATOR_ID = 100;
  addUser(ROTATOR_ID, "admin", null);
  const rotatorToken = newToken(ROTATOR_ID);
  const clients: Client[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const k = i % 10;
    const role: Role = k === 0 ? "admin" : k === 1 ? "manager" : k >= 8 ? "contractor" : "staff";
    const contractorId = role === "contractor" ? (k === 8 ? 20 : 21) : null;
    const userId = 101 + i;
    addUser(userId, role, contractorId);
    clients.push({
      index: i,
      userId,
      role,
      contractorId,
      token: newToken(userId),
      csrf: "",
      own: [],
      pins: new Set(),
      pinToggles: 0,
      n: 0,
    });
  }

  const jobs = new Map<string, JobModel>();
  /** Shared jobs: any client may read, note, pin or amend them; never deleted. */
  const pool: JobModel[] = [];
  const SEEDED = 24;
  const nowSec = Math.floor(Date.now() / 1000);
  const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  for (let j = 1; j <= SEEDED; j++) {
    const uuid = randomUUID();
    const fields: JobFields = {
      job_title: `Seeded ${PUBLIC}-s${j}`,
      status_id: j % 3 === 0 ? 4 : 1,
      priority_id: (j % 4) + 1,
      contractor_id: j % 4 === 3 ? null : (CONTRACTORS[j % 3] ?? null),
      contractor_budget: 100 + j,
      access_details: `Key safe ${SECRET}-sa${j}`,
      private_contact_name: `Contact ${SECRET}-sn${j}`,
      private_contact_email: `${SECRET}-se${j}@example.test`,
    };
    const enc = (column: keyof JobFields) => seal(ring, "k1", { table: "jobs", column, rowUuid: uuid }, String(fields[column]));
    const created = nowSec - j * 3600;
    const hours = { 1: 336, 2: 72, 3: 24, 4: 4 }[fields.priority_id] ?? 72;
    sql.push(
      `INSERT INTO jobs (id, uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, agent_id, contractor_id, created_by, contractor_budget, vat_percentage, access_details, private_contact_name, private_contact_email, sla_started_at, sla_deadline, created_at, updated_at) VALUES (${j}, '${uuid}', 'SEED-${j}', '${fields.job_title}', 'Seeded job for the load proof', ${fields.status_id}, ${fields.priority_id}, ${(j % 10) + 1}, ${(j % 5) + 1}, 10, ${fields.contractor_id ?? "NULL"}, ${ROTATOR_ID}, ${fields.contractor_budget}, 20.0, '${enc("access_details")}', '${enc("private_contact_name")}', '${enc("private_contact_email")}', '${iso(created)}', '${iso(created + hours * 3600)}', '${iso(created)}', '${iso(created)}')`,
      `INSERT INTO job_tenants (job_id, tenant_id) VALUES (${j}, ${(j % 3) + 1})`,
    );
    const model: JobModel = {
      uuid,
      id: j,
      owner: null,
      createdBy: ROTATOR_ID,
      scratch: false,
      deleted: false,
      fields,
      sentPrivate: new Set([fields.access_details, fields.private_contact_name, fields.private_contact_email]),
      moves: 0,
      updating: 0,
      acks: 0,
      notes: new Map(),
      amendments: new Map(),
      idempotentRetried: false,
    };
    jobs.set(uuid, model);
    pool.push(model);
  }
  /** Seeded jobs no client updates, by contractor: stable visibility for contractor pins and refusals. */
  const stableFor = (contractorId: number | null) => pool.filter((j) => j.owner === null && j.fields.contractor_id === contractorId);

  log(`proof:load ${opts.clients} clients, ${opts.seconds} s, run ${runId}: starting a local API…`);
  const startedAt = Date.now();
  const api: LocalApi = await startLocalApi({
    sql,
    encryptionKeys: ringJson("k1", ["k1"]),
    // Every client is 127.0.0.1: raised (not switched off) so the per-address limit does not cap the run.
    rateLimits: { perAddress: 1_000_000, perToken: 100_000, unverified: 10_000 },
    vars: { TRANSCODER_URL: "http://127.0.0.1:9" },
  });
  log(`API up at ${api.url} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  try {
    // --- Requests --------------------------------------------------------------------------------
    const statuses = new Map<string, number>();
    const byOperation = new Map<string, Map<string, number>>();
    let requests = 0;
    let inFlight = 0;
    let gate: Promise<void> | null = null;

    interface Answer {
      status: number;
      body: Record<string, unknown>;
      headers: Headers;
    }

    async function call(
      client: { token: string; csrf: string },
      op: string,
      method: string,
      pathname: string,
      init: { query?: Record<string, string | number>; body?: Record<string, unknown>; form?: boolean; idempotencyKey?: string } = {},
    ): Promise<Answer> {
      const url = new URL(pathname, api.url);
      for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, String(v));
      const headers: Record<string, string> = { Authorization: `Bearer ${client.token}` };
      if (method !== "GET") headers["X-CSRF-Token"] = client.csrf;
      if (init.idempotencyKey) headers["Idempotency-Key"] = init.idempotencyKey;
      let body: string | undefined;
      if (init.body) {
        if (init.form) {
          headers["Content-Type"] = "application/x-www-form-urlencoded";
          body = new URLSearchParams(
            Object.entries(init.body)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => [k, v === null ? "" : String(v)]),
          ).toString();
        } else {
          headers["Content-Type"] = "application/json";
          body = JSON.stringify(init.body);
        }
      }
      inFlight++;
      requests++;
      let status = 0;
      try {
        const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
        status = res.status;
        const text = await res.text();
        let json: Record<string, unknown> = {};
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          json = { unparsed: text.slice(0, 200) };
        }
        if (status >= 500) fail(`5xx on ${op}`, `${method} ${url.pathname}${url.search} → ${status} ${text.slice(0, 300)}`);
        return { status, body: json, headers: res.headers };
      } catch (err) {
        fail(`network error on ${op}`, `${method} ${url.pathname}: ${err instanceof Error ? err.message : String(err)}`);
        return { status: 0, body: {}, headers: new Headers() };
      } finally {
        inFlight--;
        const key = String(status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        const perOp = byOperation.get(op) ?? new Map<string, number>();
        perOp.set(key, (perOp.get(key) ?? 0) + 1);
        byOperation.set(op, perOp);
      }
    }

    const unexpected = (op: string, res: Answer, detail = "") => {
      if (res.status >= 500 || res.status === 0) return; // already a failure
      fail(`unexpected ${res.status} on ${op}`, `${detail} ${JSON.stringify(res.body).slice(0, 300)}`);
    };

    const rnd = (n: number) => Math.floor(Math.random() * n);
    const pick = <T>(xs: readonly T[]): T | undefined => xs[rnd(xs.length)];
    const money = () => Math.round((50 + Math.random() * 900) * 100) / 100;

    const writes = { acknowledged: 0, byKind: new Map<string, number>() };
    const ack = (kind: string) => {
      writes.acknowledged++;
      writes.byKind.set(kind, (writes.byKind.get(kind) ?? 0) + 1);
    };
    const idem = { replays: 0, replaysVerified: 0, concurrentDuplicates: 0 };
    const scoping = { listsChecked: 0, foreignReadsRefused: 0 };

    async function refreshCsrf(client: Client | { token: string; csrf: string }) {
      const res = await call(client, "csrf-token", "GET", "/api/security/csrf-token");
      if (res.status === 200 && typeof res.body.csrf_token === "string") client.csrf = res.body.csrf_token;
      else unexpected("csrf-token", res);
    }

    // --- Operations ----------------------------------------------------------------------------

    function newJobFields(c: Client, scratch: boolean): JobFields & Record<string, unknown> {
      const n = ++c.n;
      // "z" ends the tag, so searching one tag (a substring search) never finds a longer one.
      const tag = `c${c.index}-${n}z`;
      return {
        job_title: `Load ${PUBLIC}-${tag}`,
        // Created Open: the lifecycle (src/domain/lifecycle.ts) admits no other initial status for staff.
        status_id: 1,
        priority_id: 1 + rnd(4),
        contractor_id: scratch ? null : (pick(CONTRACTORS) ?? 20),
        contractor_budget: money(),
        access_details: `Key safe ${SECRET}-a${tag}`,
        private_contact_name: `Contact ${SECRET}-n${tag}`,
        private_contact_email: `${SECRET}-e${tag}@example.test`,
      };
    }

    async function createJob(c: Client) {
      const scratch = rnd(6) === 0;
      const f = newJobFields(c, scratch);
      const body = {
        action: "create",
        ...f,
        contractor_id: f.contractor_id ?? undefined,
        job_description: "Load proof job",
        job_type_id: 1 + rnd(10),
        address_id: 1 + rnd(5),
        agent_id: pick([10, 11]),
        vat_percentage: 20,
        // Above any contractor total the proof sends (≤ £950 + VAT, amendments ≤ £1 100): the budget
        // rule (its own suite tests it) refuses nothing here.
        job_total_budget: 5000 + money(),
        date_works_start_date: "2026-12-01",
        date_works_end_date: "2026-12-31",
        works_order_ref: `WO-${c.index}-${c.n}`,
        tenants_ids: rnd(2) ? [1 + rnd(3)] : undefined,
      };
      const key = `create-${runId}-${c.index}-${c.n}`;
      const form = rnd(2) === 0 && body.tenants_ids === undefined;
      const mode = rnd(20) === 0 ? "concurrent" : rnd(5) === 0 ? "replay" : "once";
      const send = () => call(c, "job create", "POST", "/api/jobs/manage", { body, form, idempotencyKey: key });
      let res: Answer;
      let uuid: string | undefined;
      if (mode === "concurrent") {
        const [a, b] = await Promise.all([send(), send()]);
        const fresh = [a, b].filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") !== "true");
        const others = [a, b].filter((r) => !fresh.includes(r));
        if (fresh.length !== 1) fail("idempotent concurrent create", `expected one fresh 201, got ${a.status}/${b.status}`);
        for (const o of others) {
          if (o.status === 409 || (o.status === 201 && o.body.job_uuid === fresh[0]?.body.job_uuid)) idem.concurrentDuplicates++;
          else unexpected("job create (concurrent duplicate)", o);
        }
        res = fresh[0] ?? a;
      } else {
        res = await send();
      }
      if (res.status !== 201) return unexpected("job create", res);
      uuid = String(res.body.job_uuid);
      if (mode === "replay") {
        idem.replays++;
        const again = await send();
        if (again.status === 201 && again.headers.get("idempotent-replayed") === "true" && again.body.job_uuid === uuid)
          idem.replaysVerified++;
        else fail("idempotent replay", `create replay answered ${again.status} ${JSON.stringify(again.body).slice(0, 200)}`);
      }
      ack("job create");
      const model: JobModel = {
        uuid,
        id: Number(res.body.job_id),
        owner: c.index,
        createdBy: c.userId,
        scratch,
        deleted: false,
        fields: { ...f, job_title: f.job_title },
        sentPrivate: new Set([f.access_details, f.private_contact_name, f.private_contact_email]),
        moves: 0,
        updating: 0,
        acks: 0,
        notes: new Map(),
        amendments: new Map(),
        idempotentRetried: mode !== "once",
      };
      model.acks = 1;
      jobs.set(uuid, model);
      c.own.push(model);
      if (!scratch) pool.push(model);
    }

    async function updateJob(c: Client) {
      const job = pick(c.own.filter((j) => !j.deleted));
      if (!job) return createJob(c);
      const n = ++c.n;
      const tag = `c${c.index}-u${n}z`;
      const change: Partial<JobFields> = {};
      if (rnd(2)) change.job_title = `Load ${PUBLIC}-${tag}`;
      if (rnd(2)) change.contractor_budget = money();
      // Status changes follow the lifecycle, whose own suites walk them; the proof changes fields only.
      if (rnd(3) === 0) change.priority_id = 1 + rnd(4);
      if (!job.scratch && rnd(4) === 0) change.contractor_id = pick([...CONTRACTORS, null]) ?? null;
      if (rnd(2)) change.private_contact_name = `Contact ${SECRET}-n${tag}`;
      if (rnd(2)) change.private_contact_email = `${SECRET}-e${tag}@example.test`;
      if (rnd(2)) change.access_details = `Key safe ${SECRET}-a${tag}`;
      if (Object.keys(change).length === 0) change.contractor_budget = money();
      for (const k of ["private_contact_name", "private_contact_email", "access_details"] as const) {
        const v = change[k];
        if (v) job.sentPrivate.add(v);
      }
      job.moves++;
      job.updating++;
      const res = await call(c, "job update", "POST", "/api/jobs/manage", {
        body: { action: "update", uuid: job.uuid, ...change, contractor_id: change.contractor_id === null ? "" : change.contractor_id },
        form: rnd(2) === 0,
      });
      job.updating--;
      if (res.status !== 200) return unexpected("job update", res, job.uuid);
      Object.assign(job.fields, change);
      job.acks++;
      ack("job update");
      // Read your own write: this client is the job's only writer.
      if (rnd(3) === 0) await getJob(c, job);
    }

    /** Compares a job as read with the model (only for a caller allowed to see private fields). */
    function compareJob(job: JobModel, data: Record<string, unknown>, what: string, privateVisible: boolean) {
      const f = job.fields;
      const diffs: string[] = [];
      const eq = (k: string, want: unknown) => {
        const got = data[k];
        const same = typeof want === "number" && typeof got === "number" ? Math.abs(want - got) < 0.005 : got === want;
        if (!same) diffs.push(`${k}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      };
      eq("job_title", f.job_title);
      eq("status_id", f.status_id);
      eq("priority_id", f.priority_id);
      eq("contractor_id", f.contractor_id);
      eq("contractor_budget", f.contractor_budget);
      eq("access_details", f.access_details);
      eq("private_contact_name", privateVisible ? f.private_contact_name : null);
      eq("private_contact_email", privateVisible ? f.private_contact_email : null);
      if (diffs.length > 0) fail(what, `${job.uuid}: ${diffs.join("; ")}`);
      return diffs.length === 0;
    }

    async function getJob(c: Client, job: JobModel) {
      const moves = job.moves;
      const res = await call(c, "job get", "GET", "/api/jobs/manage", { query: { action: "get", uuid: job.uuid } });
      if (c.role === "contractor") {
        const mine = job.fields.contractor_id === c.contractorId;
        if (res.status === 404) {
          if (!mine) scoping.foreignReadsRefused++;
          else if (moves === job.moves && job.updating === 0) fail("contractor read of own job", `${job.uuid} answered 404`);
          return;
        }
        if (res.status !== 200) return unexpected("job get", res);
        const data = res.body.data as Record<string, unknown>;
        if (data.contractor_id !== c.contractorId)
          fail("contractor scoping", `contractor ${c.contractorId} read ${job.uuid} of ${data.contractor_id}`);
        if (data.private_contact_name !== null || data.private_contact_email !== null) {
          fail("contractor sees private contact", `${job.uuid}: ${String(data.private_contact_name)}`);
        }
        if (!job.sentPrivate.has(String(data.access_details)))
          fail("access details", `${job.uuid}: unknown value ${String(data.access_details)}`);
        return;
      }
      if (res.status !== 200) return unexpected("job get", res, job.uuid);
      const data = res.body.data as Record<string, unknown>;
      if (job.owner === c.index || (job.owner === null && job.updating === 0)) compareJob(job, data, "read your writes", true);
      else {
        for (const k of ["private_contact_name", "private_contact_email", "access_details"]) {
          if (!job.sentPrivate.has(String(data[k]))) fail("private field decrypts to a value sent", `${job.uuid} ${k}: ${String(data[k])}`);
        }
      }
    }

    async function listJobs(c: Client) {
      const query: Record<string, string | number> = { action: "list", limit: 20 };
      const filter = rnd(6);
      const own = pick(c.own.filter((j) => !j.deleted));
      if (filter === 0) query.status_id = pick(UPDATE_STATUSES) ?? 1;
      if (filter === 1) query.contractor_id = pick(CONTRACTORS) ?? 20;
      if (filter === 2) query.priority_id = 1 + rnd(4);
      if (filter === 3 && own) query.search = own.fields.job_title.split(" ").at(-1) ?? "";
      if (filter === 4) query.pinned = "true";
      if (filter === 5) query.offset = rnd(40);
      const res = await call(c, "job list", "GET", "/api/jobs/manage", { query });
      if (res.status !== 200) return unexpected("job list", res, JSON.stringify(query));
      const rows = res.body.data as Record<string, unknown>[];
      if (typeof res.body.count !== "number" || res.body.count < rows.length)
        fail("list count", `count ${String(res.body.count)} < ${rows.length} rows`);
      for (const row of rows) {
        if (query.status_id !== undefined && row.status_id !== query.status_id)
          fail("list filter", `status_id ${query.status_id} listed ${String(row.status_id)}`);
        if (query.contractor_id !== undefined && row.contractor_id !== query.contractor_id) {
          fail("list filter", `contractor_id ${query.contractor_id} listed ${String(row.contractor_id)}`);
        }
        if (query.priority_id !== undefined && row.priority_id !== query.priority_id)
          fail("list filter", `priority_id ${query.priority_id} listed ${String(row.priority_id)}`);
        if (c.role === "contractor" && row.contractor_id !== c.contractorId)
          fail("contractor scoping", `list of ${c.contractorId} shows ${String(row.uuid)}`);
        if ("private_contact_name" in row) fail("list shows private contact", String(row.uuid));
      }
      if (c.role === "contractor") scoping.listsChecked++;
      if (query.search && own && own.updating === 0 && !rows.some((r) => r.uuid === own.uuid)) {
        fail("search", `${query.search} did not find ${own.uuid}`);
      }
      return rows;
    }

    /** A job for notes, pins and amendments: contractors take one of theirs, others any shared job. */
    function sharedJob(c: Client): JobModel | undefined {
      if (c.role !== "contractor") return pick(pool);
      return pick(pool.filter((j) => j.fields.contractor_id === c.contractorId));
    }

    /**
     * A 404 a contractor may rightly get: an update started while the request ran (`moves` is the
     * job's update count when it started), one is still running, or the job is no longer theirs.
     */
    function mayHaveLostSight(c: Client, job: JobModel, moves: number): boolean {
      return c.role === "contractor" && (moves !== job.moves || job.updating > 0 || job.fields.contractor_id !== c.contractorId);
    }

    async function addNote(c: Client) {
      const job = sharedJob(c);
      if (!job) return;
      const moves = job.moves;
      const message = `Attended site ${SECRET}-note-c${c.index}-${++c.n}; all fine.`;
      const key = `note-${runId}-${c.index}-${c.n}`;
      const send = () =>
        call(c, "note create", "POST", "/api/jobs/case-notes", {
          body: { job_uuid: job.uuid, message },
          form: rnd(2) === 0,
          idempotencyKey: key,
        });
      const res = await send();
      if (res.status === 404 && mayHaveLostSight(c, job, moves)) return;
      if (res.status !== 201) return unexpected("note create", res, job.uuid);
      const uuid = String(res.body.note_uuid);
      if (rnd(6) === 0) {
        idem.replays++;
        const again = await send();
        if (again.status === 201 && again.headers.get("idempotent-replayed") === "true" && again.body.note_uuid === uuid)
          idem.replaysVerified++;
        else fail("idempotent replay", `note replay answered ${again.status}`);
      }
      job.notes.set(uuid, message);
      ack("case note");
    }

    async function listNotes(c: Client) {
      const job = sharedJob(c);
      if (!job) return;
      const moves = job.moves;
      const known = new Map(job.notes); // acknowledged before this request: must all be listed
      const res = await call(c, "note list", "GET", "/api/jobs/case-notes", { query: { action: "list", job_uuid: job.uuid } });
      if (res.status === 404 && mayHaveLostSight(c, job, moves)) return;
      if (res.status !== 200) return unexpected("note list", res, job.uuid);
      const listed = new Map((res.body.data as { uuid: string; message: string }[]).map((n) => [n.uuid, n.message]));
      for (const [uuid, message] of known) {
        if (listed.get(uuid) !== message)
          fail("note readable", `${job.uuid} note ${uuid}: ${listed.has(uuid) ? `message ${listed.get(uuid)}` : "missing"}`);
      }
      if (Number(res.body.count) < known.size) fail("note count", `${job.uuid}: ${String(res.body.count)} < ${known.size} acknowledged`);
    }

    async function togglePin(c: Client) {
      // Contractors pin only seeded jobs of theirs (never reassigned): a pin on a job reassigned away would vanish from their list.
      const job = c.role === "contractor" ? pick(stableFor(c.contractorId)) : pick(pool);
      if (!job) return;
      const res = await call(c, "toggle-pin", "POST", "/api/jobs/toggle-pin", { body: { job_uuid: job.uuid } });
      if (res.status !== 200) return unexpected("toggle-pin", res, job.uuid);
      const want = !c.pins.has(job.uuid);
      if (res.body.is_pinned !== want) fail("pin state", `${job.uuid}: toggled to ${String(res.body.is_pinned)}, expected ${want}`);
      if (res.body.is_pinned) c.pins.add(job.uuid);
      else c.pins.delete(job.uuid);
      c.pinToggles++;
      ack("pin toggle");
    }

    async function contractorForeignRead(c: Client) {
      // A job assigned to another contractor (or none), never reassigned: every read must be 404.
      const job = pick([...stableFor(22), ...stableFor(null), ...stableFor(c.contractorId === 20 ? 21 : 20)]);
      if (!job) return;
      const op = rnd(3);
      const res =
        op === 0
          ? await call(c, "job get", "GET", "/api/jobs/manage", { query: { action: "get", uuid: job.uuid } })
          : op === 1
            ? await call(c, "note list", "GET", "/api/jobs/case-notes", { query: { action: "list", job_uuid: job.uuid } })
            : await call(c, "toggle-pin", "POST", "/api/jobs/toggle-pin", { body: { job_uuid: job.uuid } });
      if (res.status === 404) scoping.foreignReadsRefused++;
      else
        fail(
          "contractor scoping",
          `contractor ${c.contractorId} on ${job.uuid} (contractor ${job.fields.contractor_id}) answered ${res.status}`,
        );
    }

    async function amend(c: Client) {
      const job = sharedJob(c);
      if (!job) return;
      const moves = job.moves;
      // A value no one else sends (cents from the client and counter): never "already the current value".
      const value = (1000 + c.index + (++c.n % 1000) / 1000).toFixed(2);
      const res = await call(c, "amendment submit", "POST", "/api/jobs/amend-request", {
        body: { job_uuid: job.uuid, field_name: "contractor_budget", requested_value: value, reason: `Materials ${c.n}` },
      });
      if (res.status === 404 && mayHaveLostSight(c, job, moves)) return;
      if (res.status === 400 && String(res.body.message).includes("already the field's current value")) return;
      if (res.status !== 201) return unexpected("amendment submit", res, job.uuid);
      job.amendments.set(String(res.body.uuid), "pending");
      ack("amendment request");
    }

    async function decideAmendment(c: Client) {
      if (c.role !== "admin" && c.role !== "manager") return amend(c); // deciding is management's (403 otherwise)
      const job = pick(pool.filter((j) => j.amendments.size > 0));
      if (!job) return;
      const res = await call(c, "amendment list", "GET", "/api/jobs/amend-request", { query: { job_uuid: job.uuid, status: "pending" } });
      if (res.status !== 200) return unexpected("amendment list", res, job.uuid);
      const pending = (res.body.data as { uuid: string; status: string }[]).filter((a) => a.status === "pending");
      if (pending.length > 1) fail("amendments", `${job.uuid}: ${pending.length} pending on one field`);
      const target = pending[0];
      if (!target) return;
      // Rejected, never approved: an approval would change the job under its owner's updates.
      const decided = await call(c, "amendment decide", "PATCH", "/api/jobs/amend-request", {
        body: { uuid: target.uuid, status: "rejected" },
      });
      if (decided.status === 409) return; // superseded or decided meanwhile
      if (decided.status !== 200) return unexpected("amendment decide", decided, target.uuid);
      if (!job.amendments.has(target.uuid)) return;
      job.amendments.set(target.uuid, "rejected");
      ack("amendment decision");
    }

    async function slaStatus(c: Client) {
      const query: Record<string, string | number> = rnd(2) ? { contractor_id: pick(CONTRACTORS) ?? 20 } : {};
      const res = await call(c, "sla-status", "GET", "/api/jobs/sla-status", { query });
      if (res.status !== 200) return unexpected("sla-status", res);
      const d = res.body.data as Record<string, number>;
      if (![d.jobs_within_sla, d.jobs_overdue, d.jobs_breached].every((n) => Number.isInteger(n) && (n ?? -1) >= 0)) {
        fail("sla-status", JSON.stringify(d).slice(0, 200));
      }
    }

    async function deleteScratch(c: Client) {
      const job = c.own.find((j) => j.scratch && !j.deleted);
      if (!job) return createJob(c);
      const res = await call(c, "job delete", "POST", "/api/jobs/manage", { body: { action: "delete", uuid: job.uuid } });
      if (res.status !== 200) return unexpected("job delete", res, job.uuid);
      job.deleted = true;
      job.acks++;
      ack("job delete");
      const gone = await call(c, "job get", "GET", "/api/jobs/manage", { query: { action: "get", uuid: job.uuid } });
      if (gone.status !== 404) fail("deleted job still readable", `${job.uuid}: ${gone.status}`);
    }

    type Op = [number, (c: Client) => Promise<unknown>];
    const managingOps: Op[] = [
      [14, createJob],
      [12, updateJob],
      [14, (c) => (pick(pool) ? getJob(c, pick(pool) as JobModel) : Promise.resolve())],
      [14, listJobs],
      [12, addNote],
      [8, listNotes],
      [4, slaStatus],
      [6, togglePin],
      [5, amend],
      [3, decideAmendment],
      [3, refreshCsrf],
      [3, deleteScratch],
    ];
    const contractorOps: Op[] = [
      [
        20,
        async (c) => {
          const rows = await listJobs(c);
          const row = rows ? pick(rows) : undefined;
          const job = row ? jobs.get(String(row.uuid)) : undefined;
          if (job) await getJob(c, job);
        },
      ],
      [15, addNote],
      [12, listNotes],
      [10, contractorForeignRead],
      [8, togglePin],
      [10, amend],
      [5, slaStatus],
      [3, refreshCsrf],
    ];
    const choose = (ops: Op[]) => {
      let r = Math.random() * ops.reduce((s, [w]) => s + w, 0);
      for (const [w, fn] of ops) {
        r -= w;
        if (r < 0) return fn;
      }
      return (ops[0] as Op)[1];
    };

    // --- The run: phase 1 on k1, restart on {k2 active, k1}, phase 2 with rotation ------------
    await Promise.all(clients.map(refreshCsrf));
    const rotator = { token: rotatorToken, csrf: "" };
    await refreshCsrf(rotator);

    let loadMs = 0;
    let stopping = false;
    const clientLoop = async (c: Client) => {
      const ops = c.role === "contractor" ? contractorOps : managingOps;
      while (!stopping) {
        if (gate) await gate;
        if (stopping) break;
        try {
          await choose(ops)(c);
        } catch (err) {
          fail("client crashed", err instanceof Error ? (err.stack ?? err.message) : String(err));
        }
      }
    };
    const phase1Ms = Math.round(opts.seconds * 400);
    const phase2Ms = opts.seconds * 1000 - phase1Ms;
    const rotation = { restartSeconds: 0, rounds: 0, rotated: 0, completeAfterSeconds: null as number | null };

    const loops = clients.map(clientLoop);
    let t0 = Date.now();
    await sleep(phase1Ms);
    loadMs += Date.now() - t0;

    // A new secret reaches a Worker by a redeploy, which drains requests in flight; here the clients
    // pause, the requests in flight finish, and wrangler dev restarts on the same local state.
    let release = () => {};
    gate = new Promise<void>((r) => {
      release = r;
    });
    while (inFlight > 0) await sleep(20);
    const writesBeforeRestart = writes.acknowledged;
    const restartStarted = Date.now();
    log(`phase 1 done: ${requests} requests, ${writesBeforeRestart} writes acknowledged; restarting on {active: k2, keys: {k1, k2}}…`);
    if (!api.restart) throw new Error("harness cannot restart");
    await api.restart({ encryptionKeys: ringJson("k2", ["k1", "k2"]) });
    rotation.restartSeconds = (Date.now() - restartStarted) / 1000;
    log(`restarted in ${rotation.restartSeconds.toFixed(1)} s; rotating under load…`);
    gate = null;
    release();

    t0 = Date.now();
    const rotationLoop = (async () => {
      const started = Date.now();
      let stoppedAt = 0;
      while (!stopping || rotation.completeAfterSeconds === null) {
        // Once the load has stopped, nothing writes old-key values any more: rotation must finish
        // within two minutes, or the proof fails (it never loops for ever).
        if (stopping && !stoppedAt) stoppedAt = Date.now();
        if (stoppedAt && Date.now() - stoppedAt > 120_000) return;
        const res = await call(rotator, "rotate-keys", "POST", "/api/admin/rotate-keys", { body: { limit: 100 } });
        if (res.status !== 200) {
          unexpected("rotate-keys", res);
          if (Date.now() - started > 120_000) return;
          await sleep(200);
          continue;
        }
        rotation.rounds++;
        rotation.rotated += Number(res.body.rotated);
        if (res.body.active_key_id !== "k2") fail("rotation", `active key ${String(res.body.active_key_id)}`);
        if (res.body.complete === true) {
          rotation.completeAfterSeconds = (Date.now() - started) / 1000;
          return;
        }
      }
    })();
    await sleep(phase2Ms);
    loadMs += Date.now() - t0;
    stopping = true;
    await Promise.all(loops);
    await rotationLoop;
    if (rotation.completeAfterSeconds === null) fail("rotation", "rotate-keys never reported complete");
    const loadRequests = requests;
    log(`load done: ${loadRequests} requests in ${(loadMs / 1000).toFixed(1)} s of load; verifying…`);

    // --- Verification through the API ---------------------------------------------------------
    const verified = { writes: 0 };
    const counts = { checked: 0, mismatched: 0 };
    const checkCount = (what: string, got: unknown, want: number) => {
      counts.checked++;
      if (got !== want) {
        counts.mismatched++;
        fail("count", `${what}: API says ${JSON.stringify(got)}, acknowledged writes say ${want}`);
      }
    };
    const admins = clients.filter((c) => c.role === "admin");
    const adminFor = (i: number) => admins[i % admins.length] ?? rotator;
    const inParallel = async <T>(items: T[], width: number, fn: (item: T, i: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: width }, async () => {
          for (let i = next++; i < items.length; i = next++) await fn(items[i] as T, i);
        }),
      );
    };

    const live = [...jobs.values()].filter((j) => !j.deleted);
    const deleted = [...jobs.values()].filter((j) => j.deleted);
    await inParallel(live, 12, async (job, i) => {
      const who = adminFor(i);
      const res = await call(who, "verify job", "GET", "/api/jobs/manage", { query: { action: "get", uuid: job.uuid } });
      if (res.status !== 200) return fail("acknowledged job lost", `${job.uuid}: ${res.status}`);
      // The job's creates and updates are verified when its final state is exactly what the last acknowledged ones wrote.
      if (compareJob(job, res.body.data as Record<string, unknown>, "acknowledged job values", true)) verified.writes += job.acks;
      const notes = await call(who, "verify notes", "GET", "/api/jobs/case-notes", {
        query: { action: "list", job_uuid: job.uuid, limit: 500 },
      });
      if (notes.status !== 200) return fail("notes lost", `${job.uuid}: ${notes.status}`);
      checkCount(`notes of ${job.uuid}`, notes.body.count, job.notes.size);
      const listed = new Map((notes.body.data as { uuid: string; message: string }[]).map((n) => [n.uuid, n.message]));
      for (const [uuid, message] of job.notes) {
        if (listed.get(uuid) === message) verified.writes++;
        else fail("acknowledged note lost", `${job.uuid} note ${uuid}: ${listed.get(uuid) ?? "missing"}`);
      }
      if (job.amendments.size > 0) {
        const am = await call(who, "verify amendments", "GET", "/api/jobs/amend-request", { query: { job_uuid: job.uuid, limit: 200 } });
        if (am.status !== 200) return fail("amendments lost", `${job.uuid}: ${am.status}`);
        checkCount(`amendment requests of ${job.uuid}`, am.body.count, job.amendments.size);
        const got = new Map((am.body.data as { uuid: string; status: string }[]).map((a) => [a.uuid, a.status]));
        const pendingNow = [...got.values()].filter((s) => s === "pending").length;
        if (pendingNow > 1) fail("amendments", `${job.uuid}: ${pendingNow} pending requests on one field`);
        for (const [uuid, status] of job.amendments) {
          const now = got.get(uuid);
          if (!now) fail("acknowledged amendment lost", `${job.uuid}: ${uuid}`);
          else if (status === "rejected" && now !== "rejected") fail("amendment decision lost", `${uuid}: ${now}`);
          else verified.writes += status === "rejected" ? 2 : 1;
        }
      }
      if (job.idempotentRetried) {
        const found = await call(who, "verify search", "GET", "/api/jobs/manage", {
          query: { action: "list", search: job.fields.job_title.split(" ").at(-1) ?? "", limit: 5 },
        });
        const n = (found.body.data as unknown[] | undefined)?.length;
        checkCount(`jobs titled ${job.fields.job_title} (idempotent retry)`, n, 1);
      }
    });
    await inParallel(deleted, 8, async (job, i) => {
      const res = await call(adminFor(i), "verify job", "GET", "/api/jobs/manage", { query: { action: "get", uuid: job.uuid } });
      if (res.status === 404) verified.writes += job.acks;
      else fail("deleted job readable", `${job.uuid}: ${res.status}`);
    });

    // Jobs by filter: `count` is exact below offset + 500, so ask from just below the expected number.
    const admin = adminFor(0);
    type Who = { token: string; csrf: string };
    type Body = Record<string, unknown>;
    /** A check of a count the API answers at `path` (`label` names it in failures) against the model's `want`. */
    const countCheck =
      (
        label: string,
        path: string,
        base: (want: number) => Record<string, string | number>,
        counted: (body: Body, what: string) => unknown,
      ) =>
      async (what: string, query: Record<string, string | number>, want: number, who: Who = admin) => {
        const res = await call(who, `verify ${label}`, "GET", path, { query: { ...base(want), ...query } });
        if (res.status !== 200) return fail(label, `${what}: ${res.status}`);
        checkCount(what, counted(res.body, what), want);
      };
    const listCount = countCheck(
      "count",
      "/api/jobs/manage",
      (want) => ({ action: "list", limit: 1, offset: Math.max(0, want - 100) }),
      (body, what) => {
        if (body.count_capped === true) fail("count", `${what}: capped`);
        return body.count;
      },
    );
    await listCount("jobs (seeded + created − deleted)", {}, live.length);
    for (const id of CONTRACTORS)
      await listCount(`jobs of contractor ${id}`, { contractor_id: id }, live.filter((j) => j.fields.contractor_id === id).length);
    for (const id of UPDATE_STATUSES)
      await listCount(`jobs in status ${id}`, { status_id: id }, live.filter((j) => j.fields.status_id === id).length);
    for (const id of [1, 2, 3, 4])
      await listCount(`jobs of priority ${id}`, { priority_id: id }, live.filter((j) => j.fields.priority_id === id).length);
    for (const c of clients.filter((x) => x.role !== "contractor").slice(0, 5)) {
      await listCount(`jobs created by user ${c.userId}`, { created_by: c.userId }, c.own.filter((j) => !j.deleted).length);
    }
    for (const c of clients.filter((x) => x.role === "contractor").slice(0, 2)) {
      await listCount(`jobs contractor user ${c.userId} sees`, {}, live.filter((j) => j.fields.contractor_id === c.contractorId).length, c);
    }
    // Pins, per user, through the pinned filter.
    await inParallel(clients, 8, async (c) => {
      const res = await call(c, "verify pins", "GET", "/api/jobs/manage", { query: { action: "list", pinned: "true", limit: 200 } });
      if (res.status !== 200) return fail("pins", `${c.userId}: ${res.status}`);
      checkCount(`pins of user ${c.userId}`, res.body.count, c.pins.size);
      const listed = new Set((res.body.data as { uuid: string }[]).map((r) => r.uuid));
      const missing = [...c.pins].filter((uuid) => !listed.has(uuid));
      if (missing.length > 0) fail("pin lost", `${c.userId}: ${missing.join(", ")}`);
      // Each toggle was checked against the model as it answered; the final set confirms them all.
      else if (res.body.count === c.pins.size) verified.writes += c.pinToggles;
    });
    // SLA counters (trigger-kept) against the model: every job here has a priority with SLA hours.
    const measured = (jobsIn: JobModel[]) => jobsIn.filter((j) => OPEN_STATUSES.has(j.fields.status_id)).length;
    const sla = countCheck(
      "sla-status",
      "/api/jobs/sla-status",
      () => ({}),
      (body) => {
        const d = body.data as Record<string, number>;
        return (d.jobs_within_sla ?? 0) + (d.jobs_overdue ?? 0) + (d.jobs_breached ?? 0);
      },
    );
    await sla("jobs the SLA measures", {}, measured(live));
    for (const id of CONTRACTORS)
      await sla(
        `SLA-measured jobs of contractor ${id}`,
        { contractor_id: id },
        measured(live.filter((j) => j.fields.contractor_id === id)),
      );
    for (const id of [1, 2, 3, 4])
      await sla(`SLA-measured jobs of priority ${id}`, { priority_id: id }, measured(live.filter((j) => j.fields.priority_id === id)));
    const contractorClient = clients.find((c) => c.role === "contractor");
    if (contractorClient) {
      await sla(
        `SLA-measured jobs contractor ${contractorClient.contractorId} sees`,
        {},
        measured(live.filter((j) => j.fields.contractor_id === contractorClient.contractorId)),
        contractorClient,
      );
    }

    // --- The raw local state: no k1 value, ciphertexts open to what was written, no plaintext -----
    const d1Dir = path.join(api.persist, "v3/d1/miniflare-D1DatabaseObject");
    const d1File = readdirSync(d1Dir)
      .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
      .map((f) => path.join(d1Dir, f))
      .find((f) => {
        const db = new DatabaseSync(f, { readOnly: true });
        try {
          return db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").get() !== undefined;
        } finally {
          db.close();
        }
      });
    const rawFigures = { valuesOnOldKey: 0, valuesOnNewKey: 0, valuesOpened: 0 };
    if (!d1File) fail("raw database", `no D1 database with a jobs table under ${d1Dir}`);
    else {
      const db = new DatabaseSync(d1File, { readOnly: true });
      try {
        const tables = (
          db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
            .all() as {
            name: string;
          }[]
        ).map((t) => t.name);
        for (const table of tables) {
          let columns: { name: string }[];
          try {
            columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[];
          } catch {
            continue; // virtual tables (FTS) whose module is not loaded here; their shadow tables are scanned
          }
          for (const { name } of columns) {
            const row = db
              .prepare(
                `SELECT sum(CAST("${name}" AS TEXT) LIKE 'v1.k1.%') AS old, sum(CAST("${name}" AS TEXT) LIKE 'v1.k2.%') AS new FROM "${table}"`,
              )
              .get() as { old: number | null; new: number | null };
            rawFigures.valuesOnOldKey += row.old ?? 0;
            rawFigures.valuesOnNewKey += row.new ?? 0;
            if (row.old) fail("value left on the old key", `${table}.${name}: ${row.old} rows on k1`);
          }
        }
        for (const [table, cols] of Object.entries(ENCRYPTED)) {
          for (const col of cols) {
            const row = db
              .prepare(`SELECT count(*) AS n FROM "${table}" WHERE "${col}" IS NOT NULL AND "${col}" NOT LIKE 'v1.k2.%'`)
              .get() as { n: number };
            if (row.n > 0) fail("encrypted column not on the active key", `${table}.${col}: ${row.n} values`);
          }
        }
        // Open the stored ciphertexts with the ring (our implementation) and compare with what was acknowledged.
        const jobRow = db.prepare("SELECT access_details, private_contact_name, private_contact_email FROM jobs WHERE uuid = ?");
        for (const job of live) {
          const r = jobRow.get(job.uuid) as Record<string, string> | undefined;
          if (!r) continue; // already reported through the API
          for (const col of ["access_details", "private_contact_name", "private_contact_email"] as const) {
            try {
              const plain = open(ring, { table: "jobs", column: col, rowUuid: job.uuid }, String(r[col]));
              if (plain === job.fields[col]) rawFigures.valuesOpened++;
              else fail("stored ciphertext", `jobs.${col} of ${job.uuid} opens to ${plain}, acknowledged ${job.fields[col]}`);
            } catch (err) {
              fail("stored ciphertext", `jobs.${col} of ${job.uuid}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
        }
        const noteRow = db.prepare("SELECT message_text FROM case_notes WHERE uuid = ?");
        for (const job of live) {
          for (const [uuid, message] of job.notes) {
            const r = noteRow.get(uuid) as { message_text: string } | undefined;
            if (!r) continue;
            try {
              const plain = open(ring, { table: "case_notes", column: "message_text", rowUuid: uuid }, r.message_text);
              if (plain === message) rawFigures.valuesOpened++;
              else fail("stored ciphertext", `case_notes.message_text of ${uuid} opens to ${plain}`);
            } catch (err) {
              fail("stored ciphertext", `case_notes.message_text of ${uuid}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
        }
        for (const [id, t] of tenantValues) {
          const r = db.prepare("SELECT email, phone FROM tenants WHERE id = ?").get(id) as { email: string; phone: string };
          const email = open(ring, { table: "tenants", column: "email", rowUuid: t.uuid }, r.email);
          const phone = open(ring, { table: "tenants", column: "phone", rowUuid: t.uuid }, r.phone);
          if (email === t.email && phone === t.phone) rawFigures.valuesOpened += 2;
          else fail("stored ciphertext", `tenant ${id} opens to ${email} / ${phone}`);
        }
      } finally {
        db.close();
      }
    }

    // Every file of the local state, byte for byte (D1 database, its WAL and shm, R2 blobs, Durable Objects).
    const scan = { files: 0, bytes: 0, d1Bytes: { sqlite: 0, wal: 0 }, plaintextHits: 0, selfCheckHits: 0 };
    let oldKeyCiphertextsInFiles = 0;
    const count = (haystack: Buffer, needle: Buffer) => {
      let n = 0;
      for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) n++;
      return n;
    };
    const secretBytes = Buffer.from(SECRET);
    const publicBytes = Buffer.from(PUBLIC);
    const oldKeyBytes = Buffer.from("v1.k1.");
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : [],
      );
    let d1SelfCheck = 0;
    for (const file of walk(api.persist)) {
      const bytes = readFileSync(file);
      scan.files++;
      scan.bytes += bytes.length;
      if (d1File && file === d1File) scan.d1Bytes.sqlite = bytes.length;
      if (d1File && file === `${d1File}-wal`) scan.d1Bytes.wal = bytes.length;
      const hits = count(bytes, secretBytes);
      if (hits > 0) {
        scan.plaintextHits += hits;
        const at = bytes.indexOf(secretBytes);
        fail(
          "private value in clear on disk",
          `${path.relative(api.persist, file)}: ${hits} hits, e.g. …${bytes
            .subarray(Math.max(0, at - 60), at + 60)
            .toString("latin1")
            .replace(/[^\x20-\x7e]/g, ".")}…`,
        );
      }
      const selfHits = count(bytes, publicBytes);
      scan.selfCheckHits += selfHits;
      if (d1File && file.startsWith(d1File)) d1SelfCheck += selfHits;
      oldKeyCiphertextsInFiles += count(bytes, oldKeyBytes);
    }
    // The scan must be able to fail: titles carry a marker in clear, so reading nothing finds nothing and fails here.
    if (d1SelfCheck === 0) fail("scan self-check", "no job-title marker found in the D1 files: the scan read nothing useful");
    if (scan.d1Bytes.sqlite === 0) fail("scan", "the D1 database file was not scanned");

    const wallSeconds = (Date.now() - startedAt) / 1000;
    await api.stop();

    const lost = writes.acknowledged - verified.writes;
    if (lost !== 0) fail("writes", `${writes.acknowledged} acknowledged, ${verified.writes} verified`);
    const summary: ProofSummary = {
      passed: failures.length === 0,
      failures,
      seconds: opts.seconds,
      clients: opts.clients,
      requests: loadRequests,
      statuses: Object.fromEntries([...statuses].sort()),
      byOperation: Object.fromEntries([...byOperation].sort().map(([op, m]) => [op, Object.fromEntries([...m].sort())])),
      requestsPerSecond: Math.round((loadRequests / (loadMs / 1000)) * 10) / 10,
      writes: { acknowledged: writes.acknowledged, verified: verified.writes, lost, byKind: Object.fromEntries(writes.byKind) },
      counts,
      idempotency: { ...idem, duplicateJobs: failures.filter((f) => f.detail.includes("(idempotent retry)")).length },
      contractorScoping: scoping,
      rotation: { ...rotation, ...rawFigures, oldKeyCiphertextsInFiles },
      scan,
    };

    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    log(
      [
        "",
        `proof:load ${summary.passed ? "PASSED" : "FAILED"} (${opts.clients} clients, ${opts.seconds} s of load, ${wallSeconds.toFixed(0)} s wall)`,
        `  requests during load: ${loadRequests} (${summary.requestsPerSecond} req/s); all requests by status: ${JSON.stringify(summary.statuses)}`,
        `  writes acknowledged: ${writes.acknowledged} ${JSON.stringify(summary.writes.byKind)}; verified: ${verified.writes}; lost: ${lost}`,
        `  counts checked: ${counts.checked}, mismatched: ${counts.mismatched}`,
        `  idempotency: ${idem.replaysVerified}/${idem.replays} replays answered the first answer, ${idem.concurrentDuplicates} concurrent duplicates absorbed`,
        `  contractor scoping: ${scoping.listsChecked} lists checked, ${scoping.foreignReadsRefused} foreign reads refused (404)`,
        `  rotation: restart ${rotation.restartSeconds.toFixed(1)} s, ${rotation.rounds} rotate-keys calls, ${rotation.rotated} values re-encrypted, complete after ${rotation.completeAfterSeconds?.toFixed(1) ?? "never"} s under load`,
        `  raw D1: ${rawFigures.valuesOnOldKey} values on k1, ${rawFigures.valuesOnNewKey} on k2, ${rawFigures.valuesOpened} opened to the acknowledged value; ${oldKeyCiphertextsInFiles} stale k1 ciphertexts remain in free pages / WAL history`,
        `  scanned ${scan.files} files, ${kib(scan.bytes)} (D1 ${kib(scan.d1Bytes.sqlite)} + WAL ${kib(scan.d1Bytes.wal)}): ${scan.plaintextHits} private markers in clear; self-check found ${scan.selfCheckHits} title markers`,
        ...failures.slice(0, 30).map((f) => `  ✘ ${f.what}: ${f.detail}`),
      ].join("\n"),
    );
    if (opts.out !== null) {
      const out = opts.out ?? path.join(ROOT, "bench/out/proof-load.json");
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), ...summary }, null, 2)}\n`);
      log(`  summary: ${path.relative(ROOT, out)}`);
    }
    return summary;
  } finally {
    // Whatever fails above (a throw, a refused restart), the API goes: its pipes would keep this
    // process, and so the test runner waiting on it, alive for ever.
    await api.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = cliArgs(
    "npm run proof:load [-- --seconds 60] [--clients 50]: the proof under load against its own wrangler dev (defaults: $PROOF_SECONDS or 60 s, $PROOF_CLIENTS or 50 clients)",
    { seconds: { type: "string" }, clients: { type: "string" } },
  );
  const seconds = Number(values.seconds ?? process.env.PROOF_SECONDS ?? 60);
  const clients = Number(values.clients ?? process.env.PROOF_CLIENTS ?? 50);
  if (!(seconds >= 2) || !Number.isInteger(clients) || clients < 10) throw new Error("--seconds ≥ 2 and --clients ≥ 10 (an integer)");
  const summary = await runProofLoad({ seconds, clients });
  process.exit(summary.passed ? 0 : 1);
}
