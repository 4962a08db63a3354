import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { fromBase64, fromBase64Url, fromUtf8, randomBytes, toBase64Url, utf8 } from "./bytes";

/**
 * Field encryption at rest: XSalsa20-Poly1305, a fresh 24-byte nonce per value, stored as
 * `v1.<key-id>.<base64url(nonce ‖ ciphertext)>`. XSalsa20-Poly1305 has no associated data, so
 * each value's key is derived (HKDF-SHA256) from the ring key with "<table>.<column>.<row uuid>"
 * as info: a ciphertext copied into another column or row fails to decrypt.
 */

const VERSION = "v1";
const HKDF_SALT = utf8("propops-field-encryption-v1");
const NONCE_BYTES = 24;

export class DecryptionError extends Error {}

export interface KeyRing {
  active: string;
  keys: Map<string, CryptoKey>;
}

/** Where a value lives: the derivation context of its key. */
export interface FieldContext {
  table: string;
  column: string;
  rowUuid: string;
}

let cached: { source: string; ring: Promise<KeyRing> } | undefined;

/** Parses the ENCRYPTION_KEYS secret: {"active":"k1","keys":{"k1":"<base64 of 32 bytes>"}}. */
export function loadKeyRing(secret: string): Promise<KeyRing> {
  if (cached?.source === secret) return cached.ring;
  const ring = parseKeyRing(secret);
  cached = { source: secret, ring };
  return ring;
}

async function parseKeyRing(secret: string): Promise<KeyRing> {
  let json: { active?: unknown; keys?: unknown };
  try {
    json = JSON.parse(secret);
  } catch {
    throw new Error("ENCRYPTION_KEYS is not valid JSON");
  }
  if (typeof json.active !== "string" || typeof json.keys !== "object" || json.keys === null) {
    throw new Error('ENCRYPTION_KEYS must look like {"active":"k1","keys":{"k1":"<base64 32 bytes>"}}');
  }
  const keys = new Map<string, CryptoKey>();
  for (const [id, b64] of Object.entries(json.keys as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`ENCRYPTION_KEYS: bad key id "${id}"`);
    const raw = typeof b64 === "string" ? fromBase64(b64) : new Uint8Array();
    if (raw.length !== 32) throw new Error(`ENCRYPTION_KEYS: key "${id}" must be 32 bytes`);
    keys.set(id, await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]));
  }
  if (!keys.has(json.active)) throw new Error(`ENCRYPTION_KEYS: active key "${json.active}" is not in the ring`);
  return { active: json.active, keys };
}

async function deriveKey(master: CryptoKey, ctx: FieldContext): Promise<Uint8Array> {
  const info = utf8(`${ctx.table}.${ctx.column}.${ctx.rowUuid}`);
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: HKDF_SALT, info }, master, 256);
  return new Uint8Array(bits);
}

export class FieldCipher {
  constructor(private readonly ring: KeyRing) {}

  get activeKeyId() {
    return this.ring.active;
  }

  async encrypt(ctx: FieldContext, plaintext: string): Promise<string> {
    const master = this.ring.keys.get(this.ring.active);
    if (!master) throw new Error("active key missing");
    const key = await deriveKey(master, ctx);
    const nonce = randomBytes(NONCE_BYTES);
    const sealed = xsalsa20poly1305(key, nonce).encrypt(utf8(plaintext));
    const out = new Uint8Array(NONCE_BYTES + sealed.length);
    out.set(nonce);
    out.set(sealed, NONCE_BYTES);
    return `${VERSION}.${this.ring.active}.${toBase64Url(out)}`;
  }

  async decrypt(ctx: FieldContext, stored: string): Promise<string> {
    const parts = stored.split(".");
    if (parts.length !== 3 || parts[0] !== VERSION) throw new DecryptionError(`${ctx.table}.${ctx.column}: not an encrypted value`);
    const master = this.ring.keys.get(parts[1] ?? "");
    if (!master) throw new DecryptionError(`${ctx.table}.${ctx.column}: unknown key id "${parts[1]}"`);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64Url(parts[2] ?? "");
    } catch {
      throw new DecryptionError(`${ctx.table}.${ctx.column}: malformed ciphertext`);
    }
    if (bytes.length < NONCE_BYTES + 16) throw new DecryptionError(`${ctx.table}.${ctx.column}: truncated ciphertext`);
    const key = await deriveKey(master, ctx);
    try {
      return fromUtf8(xsalsa20poly1305(key, bytes.subarray(0, NONCE_BYTES)).decrypt(bytes.subarray(NONCE_BYTES)));
    } catch {
      // Wrong row/column/key, or tampered: never hand back the ciphertext instead.
      throw new DecryptionError(`${ctx.table}.${ctx.column}: value does not decrypt`);
    }
  }

  /** null/undefined pass through, so optional columns need no special casing. */
  async encryptOptional(ctx: FieldContext, plaintext: string | null | undefined) {
    return plaintext == null ? null : this.encrypt(ctx, plaintext);
  }

  async decryptOptional(ctx: FieldContext, stored: string | null | undefined) {
    return stored == null ? null : this.decrypt(ctx, stored);
  }

  /** The key id a stored value was sealed with (for rotation). */
  static keyIdOf(stored: string): string | undefined {
    const parts = stored.split(".");
    return parts.length === 3 && parts[0] === VERSION ? parts[1] : undefined;
  }
}

export async function fieldCipher(env: { ENCRYPTION_KEYS: string }) {
  return new FieldCipher(await loadKeyRing(env.ENCRYPTION_KEYS));
}
