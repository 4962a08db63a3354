/**
 * `npm run gen:estate [-- --jobs 100000] [--tokens 48]`: replaces the local D1 data (the database
 * `npm run dev` serves) with a generated estate: jobs over thousands of addresses, agents and
 * contractors, with notes, photo and document rows, amendments, recalls and audit events
 * (scripts/lib/estate.ts). Reference data and migrations stay. Stop `npm run dev` first.
 *
 * Speed: the rows are written by SQL straight into the sqlite file (node:sqlite), not batched
 * through wrangler. Encrypted columns hold real ciphertexts under the .dev.vars key: each value's
 * key is derived per row uuid (src/crypto/fields.ts), so Node derives and seals them here with
 * the same HKDF info and XSalsa20-Poly1305 (node:crypto hkdfSync + @noble/ciphers), which the
 * Worker then decrypts like any value it wrote itself.
 * Prints admin tokens (one per line) into bench/out/estate-tokens.txt for the API benchmark.
 */
import { createHash, hkdfSync, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { cliArgs, usageError } from "./lib/cli.ts";
import { BULK_SUSPENDED_TRIGGERS, ESTATE_FIXUPS, ESTATE_TABLES, estateSize, estateStatements } from "./lib/estate";
import { ensureDevVars, migrateLocal } from "./lib/local";

const USAGE = `
Replaces the local D1 data (npm run dev's database) with a generated estate. Stop npm run dev first.

  npm run gen:estate [-- --jobs 100000] [--tokens 48] [--dir PATH]
      --jobs N      jobs to generate (default 100000)
      --tokens N    admin tokens to mint into bench/out/estate-tokens.txt (default 48)
      --dir PATH    a D1 state folder holding an already migrated database (default: npm run dev's, migrated first)
`;
const { values } = cliArgs(USAGE, { jobs: { type: "string" }, tokens: { type: "string" }, dir: { type: "string" } });
const jobsWanted = Number(values.jobs ?? 100_000);
const tokenCount = Number(values.tokens ?? 48);
if (!(Number.isInteger(jobsWanted) && jobsWanted > 0) || !(Number.isInteger(tokenCount) && tokenCount > 0))
  usageError("--jobs and --tokens must be positive whole numbers", USAGE);
const started = Date.now();
const progress = (step: string) => process.stdout.write(`\r\x1b[K[${((Date.now() - started) / 1000).toFixed(1)} s] ${step}`);

const vars = ensureDevVars();
if (!values.dir) {
  progress("applying migrations");
  migrateLocal();
}

/** The local D1 file: the one sqlite file under the D1 state directory that has a jobs table. */
function localD1File(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  for (const f of files) {
    const db = new DatabaseSync(join(dir, f), { readOnly: true });
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").get();
    db.close();
    if (has) return join(dir, f);
  }
  throw new Error(`no D1 database with a jobs table under ${dir}; run npm run db:migrate first`);
}

const file = localD1File(values.dir ?? ".wrangler/state/v3/d1/miniflare-D1DatabaseObject");
const db = new DatabaseSync(file);
db.exec("PRAGMA busy_timeout = 5000");

// ── field encryption, as src/crypto/fields.ts does it ───────────────────────────────────────────
const ring = JSON.parse(vars.ENCRYPTION_KEYS ?? "{}") as { active: string; keys: Record<string, string> };
const master = Buffer.from(ring.keys[ring.active] ?? "", "base64");
if (master.length !== 32) throw new Error("ENCRYPTION_KEYS in .dev.vars has no 32-byte active key");
const salt = Buffer.from("propops-field-encryption-v1");
const seal = (table: string, column: string, rowUuid: string, plaintext: string) => {
  const key = new Uint8Array(hkdfSync("sha256", master, salt, `${table}.${column}.${rowUuid}`, 32));
  const nonce = randomBytes(24);
  const sealed = xsalsa20poly1305(key, nonce).encrypt(new TextEncoder().encode(plaintext));
  return `v1.${ring.active}.${Buffer.concat([nonce, sealed]).toString("base64url")}`;
};

// ── rows ────────────────────────────────────────────────────────────────────────────────────────
const size = estateSize(jobsWanted);
db.exec("BEGIN");
try {
  progress("wiping old data");
  for (const t of ESTATE_TABLES) db.exec(`DELETE FROM ${t}`);
  db.exec("DELETE FROM sqlite_sequence");
  db.exec("INSERT INTO jobs_search(jobs_search) VALUES ('delete-all')");
  const statements = estateStatements(size, Date.now());
  const triggers = db
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (${BULK_SUSPENDED_TRIGGERS.map(() => "?").join(", ")})`,
    )
    .all(...BULK_SUSPENDED_TRIGGERS) as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
  statements.forEach((sql, i) => {
    progress(`rows: statement ${i + 1}/${statements.length} (${sql.trim().split(/\s+/).slice(0, 3).join(" ")})`);
    db.exec(sql);
  });
  progress("counters");
  for (const sql of ESTATE_FIXUPS) db.exec(sql);
  for (const t of triggers) db.exec(t.sql);

  const each = <T>(label: string, rows: T[], fn: (row: T) => void) => {
    rows.forEach((row, i) => {
      if (i % 5000 === 0) progress(`sealing ${label}: ${i}/${rows.length}`);
      fn(row);
    });
  };
  const jobRows = db.prepare("SELECT id, uuid FROM jobs").all() as { id: number; uuid: string }[];
  const updJob = db.prepare("UPDATE jobs SET access_details = ?, private_contact_name = ?, private_contact_email = ? WHERE id = ?");
  each("jobs", jobRows, ({ id, uuid }) => {
    const withContact = id % 2 === 0;
    updJob.run(
      seal("jobs", "access_details", uuid, `Key safe code ${1000 + (id % 9000)}; ring the bell twice.`),
      withContact ? seal("jobs", "private_contact_name", uuid, `Tenant_${String(id % 2000).padStart(4, "0")}`) : null,
      withContact ? seal("jobs", "private_contact_email", uuid, `tenant${id % 2000}@example.com`) : null,
      id,
    );
  });
  const noteRows = db.prepare("SELECT id, uuid, job_id FROM case_notes").all() as { id: number; uuid: string; job_id: number }[];
  const updNote = db.prepare("UPDATE case_notes SET message = ?, message_text = ? WHERE id = ?");
  each("case notes", noteRows, ({ id, uuid, job_id }) => {
    const text = `Spoke to the tenant about job ${job_id}; access arranged for next week. Note ${id}.`;
    updNote.run(seal("case_notes", "message", uuid, text), seal("case_notes", "message_text", uuid, text), id);
  });
  const tenantRows = db.prepare("SELECT id, uuid FROM tenants").all() as { id: number; uuid: string }[];
  const updTenant = db.prepare("UPDATE tenants SET email = ?, phone = ? WHERE id = ?");
  each("tenants", tenantRows, ({ id, uuid }) => {
    updTenant.run(
      seal("tenants", "email", uuid, `tenant${id}@example.com`),
      seal("tenants", "phone", uuid, `07700 ${String(900000 + id).slice(-6)}`),
      id,
    );
  });

  // Tokens of the admin (user 1): the API limits per token, so a load test spreads over many.
  progress("tokens");
  const admin = db.prepare("SELECT uuid FROM users WHERE id = 1").get() as { uuid: string };
  const insToken = db.prepare("INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES (?, 1, ?, ?)");
  const tokens = Array.from({ length: tokenCount }, (_, i) => {
    const token = `pp_${admin.uuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`;
    insToken.run(crypto.randomUUID(), `estate-${i + 1}`, createHash("sha256").update(token).digest("hex"));
    return token;
  });
  db.exec("COMMIT");
  mkdirSync("bench/out", { recursive: true });
  writeFileSync("bench/out/estate-tokens.txt", `${tokens.join("\n")}\n`);
} catch (e) {
  db.exec("ROLLBACK");
  throw e;
}
// No ANALYZE: the test's D1 (test/suites/budgets/rows-read.test.ts) has no statistics either, so both plan alike.
db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const counts = Object.fromEntries(
  ["jobs", "addresses", "agents", "contractors", "case_notes", "photos", "documents", "amendment_requests", "recalls", "audit_events"].map(
    (t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n],
  ),
);
db.close();
progress(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
console.log(
  Object.entries(counts)
    .map(([t, n]) => `${t} ${n}`)
    .join(", "),
);
console.log(`${tokenCount} admin tokens in bench/out/estate-tokens.txt; database ${file}`);
