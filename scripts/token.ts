/**
 * API tokens of the local database (its SQLite file, opened directly; no wrangler boot):
 *   npm run --silent token -- [create] --role R [--name USER] [--label L] [--expires-days D] [--permissions a,b]
 *   npm run --silent token -- list [--role R] [--name USER] [--all]
 *   npm run --silent token -- revoke <token uuid>
 * `create` (the default) prints the new token and nothing else on stdout, for `TOKEN=$(…)`. It uses
 * the seeded user of that role (or the one named --name, created if missing). A deployed API has
 * the same operations over HTTP: GET/POST /api/security/tokens.
 */
import { effectivePermissions, PERMISSIONS, ROLES, type Role } from "../src/auth/permissions";
import { generateToken, hashToken } from "../src/auth/tokens";
import { toIsoSeconds } from "../src/domain/time";
import { cliArgs, usageError } from "./lib/cli.ts";
import { ensureDevVars } from "./lib/local";
import { openLocalD1 } from "./lib/local-db";
import { seedIfEmpty } from "./seed";

const USAGE = `
API tokens of the local database (npm run dev's).

  npm run --silent token -- [create] --role <${ROLES.join("|")}> [options]
      Mints a token for the seeded user of that role (or the user --name, created if missing)
      and prints it alone on stdout.
      --name USER          the user's name (default: the first active user of the role)
      --label TEXT         what the token is for, shown by list (default: "cli <time>")
      --expires-days D     expires after D days (default: never)
      --permissions a,b    narrow it to these permissions (default: all of the role's)

  npm run --silent token -- list [--role R] [--name USER] [--all]
      The tokens (never their secrets): uuid, user, label, created, last used, expiry, permissions.
      --all also lists revoked and expired ones.

  npm run --silent token -- revoke <token uuid>
      Revokes a token at once.

Permissions: ${PERMISSIONS.join(", ")}
`;

const { values, positionals } = cliArgs(
  USAGE,
  {
    role: { type: "string" },
    name: { type: "string" },
    label: { type: "string" },
    "expires-days": { type: "string" },
    permissions: { type: "string" },
    all: { type: "boolean" },
  },
  { positionals: true },
);
const [command = "create", ...rest] = positionals;
if (!["create", "list", "revoke"].includes(command)) usageError(`unknown command "${command}"`, USAGE);
const role = values.role as Role | undefined;
if (role !== undefined && !ROLES.includes(role)) usageError(`--role must be one of ${ROLES.join(", ")}`, USAGE);
const days = values["expires-days"] === undefined ? undefined : Number(values["expires-days"]);
if (days !== undefined && !(Number.isInteger(days) && days >= 1))
  usageError("--expires-days must be a whole number of days, at least 1", USAGE);
const narrowed = values.permissions?.split(",").map((p) => p.trim());
const unknown = narrowed?.filter((p) => !(PERMISSIONS as readonly string[]).includes(p)) ?? [];
if (unknown.length > 0) usageError(`unknown permission(s): ${unknown.join(", ")}`, USAGE);

const vars = ensureDevVars();
const local = await openLocalD1();
try {
  const db = local.asD1();
  await seedIfEmpty(db, vars.ENCRYPTION_KEYS ?? "");
  if (command === "create") await create(db);
  else if (command === "list") await list(db);
  else await revoke(db, rest[0]);
} finally {
  local.close();
}

async function create(db: D1Database) {
  if (!role) usageError("create needs --role", USAGE);
  let user = values.name
    ? await db
        .prepare("SELECT id, uuid FROM users WHERE name = ? AND role = ?")
        .bind(values.name, role)
        .first<{ id: number; uuid: string }>()
    : await db
        .prepare("SELECT id, uuid FROM users WHERE role = ? AND disabled_at IS NULL ORDER BY id LIMIT 1")
        .bind(role)
        .first<{ id: number; uuid: string }>();
  if (!user) {
    const name = values.name ?? `${role[0]?.toUpperCase()}${role.slice(1)}_cli`;
    const contractor =
      role === "contractor" ? await db.prepare("SELECT id FROM contractors ORDER BY id LIMIT 1").first<{ id: number }>() : null;
    user = await db
      .prepare("INSERT INTO users (uuid, name, email, role, contractor_id) VALUES (?, ?, ?, ?, ?) RETURNING id, uuid")
      .bind(crypto.randomUUID(), name, `${name.toLowerCase()}.${Date.now()}@propops.example.com`, role, contractor?.id ?? null)
      .first<{ id: number; uuid: string }>();
  }
  if (!user) throw new Error("could not find or create the user");
  const token = generateToken(user.uuid);
  const expiresAt = days ? toIsoSeconds(Date.now() + days * 86_400_000) : null;
  await db
    .prepare("INSERT INTO api_tokens (uuid, user_id, name, token_hash, permissions, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(
      crypto.randomUUID(),
      user.id,
      values.label ?? `cli ${toIsoSeconds(Date.now())}`,
      await hashToken(token),
      narrowed ? JSON.stringify(narrowed) : null,
      expiresAt,
    )
    .run();
  process.stdout.write(`${token}\n`);
}

interface Row {
  uuid: string;
  label: string;
  user: string;
  role: Role;
  permissions: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

async function list(db: D1Database) {
  const where = ["1 = 1"];
  const binds: string[] = [];
  if (role) where.push("u.role = ?") && binds.push(role);
  if (values.name) where.push("u.name = ?") && binds.push(values.name);
  if (!values.all)
    where.push("t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)") && binds.push(toIsoSeconds(Date.now()));
  const { results } = await db
    .prepare(
      `SELECT t.uuid, t.name AS label, u.name AS user, u.role, t.permissions, t.created_at, t.last_used_at, t.expires_at, t.revoked_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ${where.join(" AND ")} ORDER BY t.id DESC`,
    )
    .bind(...binds)
    .all<Row>();
  if (results.length === 0) {
    console.log("No tokens.");
    return;
  }
  for (const r of results) {
    const perms = r.permissions ? [...effectivePermissions(r.role, r.permissions)].join(",") : `all of ${r.role}'s`;
    const state = r.revoked_at ? `revoked ${r.revoked_at}` : r.expires_at ? `expires ${r.expires_at}` : "no expiry";
    console.log(
      `${r.uuid}  ${r.user} (${r.role})  "${r.label}"  created ${r.created_at}  last used ${r.last_used_at ?? "never"}  ${state}  permissions: ${perms}`,
    );
  }
}

async function revoke(db: D1Database, uuid: string | undefined) {
  if (!uuid) usageError("revoke needs the token's uuid (npm run --silent token -- list)", USAGE);
  const row = await db
    .prepare("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE uuid = ? RETURNING revoked_at")
    .bind(toIsoSeconds(Date.now()), uuid.trim().toLowerCase())
    .first<{ revoked_at: string }>();
  if (!row) {
    console.error(`No token ${uuid}.`);
    process.exit(1);
  }
  console.log(`Revoked ${uuid} (at ${row.revoked_at}).`);
}
