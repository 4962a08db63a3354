/**
 * The local D1 database (the SQLite file wrangler dev persists under .wrangler/state) opened
 * directly with node:sqlite, for scripts that must be quick and quiet (`npm run token`,
 * `npm run dev`): no Miniflare boot, no platform proxy. Migrations still go through wrangler,
 * only when one is missing. Exposes the slice of the D1 API the scripts use.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { migrateLocal } from "./local";

const ROOT = path.resolve(import.meta.dirname, "../..");
const D1_DIR = path.join(ROOT, ".wrangler/state/v3/d1/miniflare-D1DatabaseObject");

type Value = string | number | boolean | null | undefined;
type SqlValue = string | number | bigint | null | Uint8Array;
interface Sync {
  prepare(sql: string): {
    get(...args: SqlValue[]): unknown;
    all(...args: SqlValue[]): unknown[];
    run(...args: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  };
  exec(sql: string): void;
  close(): void;
}

// D1 stores booleans as 0/1 and undefined as NULL; node:sqlite accepts neither.
const toSql = (v: Value): SqlValue => (v === undefined ? null : typeof v === "boolean" ? (v ? 1 : 0) : v);

class Statement {
  constructor(
    private readonly db: Sync,
    private readonly sql: string,
    private readonly args: SqlValue[] = [],
  ) {}
  bind(...args: Value[]) {
    return new Statement(this.db, this.sql, args.map(toSql));
  }
  async first<T>(): Promise<T | null> {
    return (this.db.prepare(this.sql).get(...this.args) as T | undefined) ?? null;
  }
  async all<T>(): Promise<{ results: T[] }> {
    return { results: this.db.prepare(this.sql).all(...this.args) as T[] };
  }
  async run() {
    return this.runSync();
  }
  runSync() {
    const r = this.db.prepare(this.sql).run(...this.args);
    return { success: true, meta: { changes: Number(r.changes), last_row_id: Number(r.lastInsertRowid) } };
  }
}

export class LocalD1 {
  constructor(private readonly db: Sync) {}
  prepare(sql: string) {
    return new Statement(this.db, sql);
  }
  /** All or nothing, as D1's batch. */
  async batch(statements: Statement[]) {
    this.db.exec("BEGIN");
    try {
      const results = statements.map((s) => s.runSync());
      this.db.exec("COMMIT");
      return results;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }
  close() {
    this.db.close();
  }
  /** For code typed against the Workers binding (seedIfEmpty): the subset above is what it calls. */
  asD1(): D1Database {
    return this as unknown as D1Database;
  }
}

/** The newest SQLite file of the local D1 state (one binding: one database). */
function databaseFile(): string | undefined {
  if (!existsSync(D1_DIR)) return undefined;
  return readdirSync(D1_DIR)
    .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
    .map((f) => path.join(D1_DIR, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function pendingMigrations(db: Sync): boolean {
  const files = readdirSync(path.join(ROOT, "migrations")).filter((f) => f.endsWith(".sql"));
  let applied: Set<string>;
  try {
    applied = new Set((db.prepare("SELECT name FROM d1_migrations").all() as { name: string }[]).map((r) => r.name));
  } catch {
    return true; // no migrations table yet
  }
  return files.some((f) => !applied.has(f));
}

async function open(file: string): Promise<Sync> {
  // node:sqlite announces itself as experimental on stderr; the scripts promise a quiet stderr.
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning).includes("SQLite")) (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(file) as unknown as Sync;
    // wrangler dev may hold the same file: wait for its locks instead of failing.
    db.exec("PRAGMA busy_timeout = 5000");
    return db;
  } finally {
    process.emitWarning = emit;
  }
}

/** Opens the local database, applying migrations first (through wrangler) only when one is missing. */
export async function openLocalD1(): Promise<LocalD1> {
  let file = databaseFile();
  if (file) {
    const db = await open(file);
    if (!pendingMigrations(db)) return new LocalD1(db);
    db.close();
  }
  migrateLocal();
  file = databaseFile();
  if (!file) throw new Error(`wrangler applied the migrations but no database appeared under ${D1_DIR}`);
  return new LocalD1(await open(file));
}
