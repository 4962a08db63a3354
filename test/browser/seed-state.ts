/**
 * Seeds a fresh local state directory for the browser tests (run with tsx by dashboard.test.ts):
 * the demo data of `npm run seed` (its base dozen jobs only, `week: false`: the tests count them), plus API tokens minted for the seeded manager, staff member and contractor.
 *   tsx test/browser/seed-state.ts <persist dir>     (ENCRYPTION_KEYS in the environment)
 * Prints {"manager": "<token>", "staff": "<token>", "contractor": "<token>"} on its last line.
 */
import path from "node:path";
import { getPlatformProxy } from "wrangler";
import { seedIfEmpty } from "../../scripts/seed";
import { generateToken, hashToken } from "../../src/auth/tokens";

const persist = process.argv[2];
if (!persist) throw new Error("usage: tsx test/browser/seed-state.ts <persist dir>");
const root = path.resolve(import.meta.dirname, "../..");
// wrangler dev --persist-to DIR keeps its data in DIR/v3, where getPlatformProxy must look too.
const proxy = await getPlatformProxy<Env>({ configPath: path.join(root, "wrangler.toml"), persist: { path: path.join(persist, "v3") } });
try {
  const db = proxy.env.DB;
  if (!(await seedIfEmpty(db, process.env.ENCRYPTION_KEYS ?? "", { week: false }))) throw new Error("the state directory is not fresh");
  const tokens: Record<string, string> = {};
  for (const role of ["manager", "staff", "contractor"] as const) {
    const user = await db
      .prepare("SELECT id, uuid FROM users WHERE role = ? ORDER BY id LIMIT 1")
      .bind(role)
      .first<{ id: number; uuid: string }>();
    if (!user) throw new Error(`the seed has no ${role}`);
    const token = generateToken(user.uuid);
    await db
      .prepare("INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES (?, ?, ?, ?)")
      .bind(crypto.randomUUID(), user.id, "browser tests", await hashToken(token))
      .run();
    tokens[role] = token;
  }
  console.log(JSON.stringify(tokens));
} finally {
  await proxy.dispose();
}
