// Byte helpers: thin names over @noble/ciphers' utilities, Hono's base64 codecs and Web Crypto,
// so callers read the same everywhere. Only the strict base64url check and the purpose-bound
// HMAC are our own.
import { bytesToHex as hex, randomBytes as random, utf8ToBytes } from "@noble/ciphers/utils.js";
import { decodeBase64, encodeBase64Url } from "hono/utils/encode";

export const utf8 = (s: string): Uint8Array => utf8ToBytes(s);
export const fromUtf8 = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(b);
export const randomBytes = (n: number): Uint8Array => random(n);
export const bytesToHex = (bytes: Uint8Array): string => hex(bytes);
export const toBase64Url = (bytes: Uint8Array): string => encodeBase64Url(bytes.slice().buffer).replace(/=+$/, "");

/** base64url without padding; anything else (padding, +, /, spaces) is refused. */
export function fromBase64Url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error("not base64url");
  return decodeBase64(s.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (s.length % 4)) % 4));
}

export const fromBase64 = (s: string): Uint8Array => fromBase64Url(s.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""));

/** Constant-time comparison of two byte strings (Web Crypto's, in workerd). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}

/** HMAC-SHA256 of `message` under a key derived from `secret` for one purpose. */
export async function hmac(secret: string, purpose: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", utf8(`${purpose}\0${secret}`), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(message)));
}
