/**
 * Mints an API token against the local database (its SQLite file, opened directly) and prints it
 * (and nothing else, on stdout; stderr stays quiet):
 *   npm run --silent token -- --role <admin|manager|staff|agent|contractor> [--name N] [--expires-days D] [--permissions a,b]
 * Uses the seeded user of that role (or the one named --name, created if missing).
 */
import { parseArgs } from "node:util";
import { ROLES, type Role } from "../src/auth/permissions";
import { generateToken, hashToken } from "../src/auth/tokens";
import { ensureDevVars } from "./lib/local";
import { openLocalD1 } from "./lib/local-db";
import { seedIfEmpty } from "./seed";

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    name: { type: "string" },
    "expires-days": { type: "string" },
    permissions: { type: "string" },
  },
});

const role = values.role as Role | undefined;
if (!role || !ROLES.includes(role)) {
  console.error(`usage: npm run --silent token -- --role <${ROLES.join("|")}> [--name N] [--expires-days D] [--permissions p1,p2]`);
  process.exit(2);
}

const vars = ensureDevVars();
// The SQLite file itself (no wrangler boot): well under a second once migrated and seeded.
const local = await openLocalD1();
try {
  const db = local.asD1();
  await seedIfEmpty(db, vars.ENCRYPTION_KEYS ?? "");
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
  const days = values["expires-days"] ? Number(values["expires-days"]) : undefined;
  const expiresAt = days ? new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z") : null;
  const permissions = values.permissions ? JSON.stringify(values.permissions.split(",").map((p) => p.trim())) : null;
  await db
    .prepare("INSERT INTO api_tokens (uuid, user_id, name, token_hash, permissions, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(crypto.randomUUID(), user.id, `cli ${new Date().toISOString()}`, await hashToken(token), permissions, expiresAt)
    .run();
  process.stdout.write(`${token}\n`);
} finally {
  local.close();
}
