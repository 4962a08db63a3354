/**
 * Re-encrypts every private field under the active key of ENCRYPTION_KEYS.
 *   Local database (keys from .dev.vars):  npm run rotate-keys
 *   A deployed API (admin token):          npm run rotate-keys -- --url https://api.example.com --token pp_…
 * Before running: add the new key to the ring and make it active; keep the old keys until this
 * reports completion.
 */
import { FieldCipher, loadKeyRing } from "../src/crypto/fields";
import { rotateEncryptedFields } from "../src/crypto/rotate";
import { ENCRYPTED_COLUMNS } from "../src/domain/encrypted-columns";
import { cliArgs, usageError } from "./lib/cli.ts";
import { ensureDevVars, localBindings, migrateLocal } from "./lib/local";

const USAGE = `
Re-encrypts every private field under the active key of ENCRYPTION_KEYS.

  npm run rotate-keys                                   the local database (keys from .dev.vars)
  npm run rotate-keys -- --url https://api… --token pp_…  a deployed API (an admin token)

First add the new key to the ring and make it active; keep the old keys until this reports completion.
`;
const { values } = cliArgs(USAGE, { url: { type: "string" }, token: { type: "string" } });

if (values.url) {
  if (!values.token) usageError("--token (an admin API token) is required with --url", USAGE);
  const headers = { Authorization: `Bearer ${values.token}` };
  const csrf = (await (await fetch(new URL("/api/security/csrf-token", values.url), { headers })).json()) as { csrf_token?: string };
  if (!csrf.csrf_token) throw new Error("could not get a CSRF token (is the token valid?)");
  let total = 0;
  for (;;) {
    const res = await fetch(new URL("/api/admin/rotate-keys", values.url), {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json", "X-CSRF-Token": csrf.csrf_token },
      body: JSON.stringify({ limit: 500 }),
    });
    const body = (await res.json()) as { success: boolean; rotated?: number; complete?: boolean; message: string };
    if (!body.success) throw new Error(`rotation failed: ${res.status} ${body.message}`);
    total += body.rotated ?? 0;
    if (body.complete) break;
  }
  console.log(`Rotated ${total} values; every encrypted field now uses the active key.`);
} else {
  const vars = ensureDevVars();
  migrateLocal();
  const proxy = await localBindings();
  try {
    const cipher = new FieldCipher(await loadKeyRing(vars.ENCRYPTION_KEYS ?? ""));
    let total = 0;
    for (;;) {
      const { rotated, complete } = await rotateEncryptedFields(proxy.env.DB, cipher, ENCRYPTED_COLUMNS);
      total += rotated;
      if (complete) break;
    }
    console.log(`Rotated ${total} values to key "${cipher.activeKeyId}".`);
  } finally {
    await proxy.dispose();
  }
}
