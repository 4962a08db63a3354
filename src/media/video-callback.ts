import { TranscodeCallback } from "@propops/media-core/contract";
import { fromBase64Url, hmac, timingSafeEqual, toBase64Url } from "../crypto/bytes";
import { MAX_TTL_SECONDS } from "./signed-urls";

export const CALLBACK_PATH = "/internal/media/video-callback";
const PURPOSE = "transcode-callback";
/** The transcoder's result is a few hundred bytes; anything near this is not one. */
export const MAX_CALLBACK_BYTES = 64 * 1024;

export interface CallbackTarget {
  jobUuid: string;
  photoUuid: string;
  attempt: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const message = (t: CallbackTarget, exp: number) => `POST\n${t.jobUuid}\n${t.photoUuid}\n${t.attempt}\n${exp}`;

/** A callback URL on this Worker (env.PUBLIC_URL) for one attempt of one video, valid `ttlSeconds`. */
export async function signCallbackUrl(
  env: Pick<Env, "SIGNING_SECRET" | "PUBLIC_URL">,
  target: CallbackTarget,
  ttlSeconds: number,
  now = Date.now(),
): Promise<string> {
  const ttl = Math.max(1, Math.min(MAX_TTL_SECONDS, Math.floor(ttlSeconds)));
  const exp = Math.floor(now / 1000) + ttl;
  const sig = toBase64Url(await hmac(env.SIGNING_SECRET, PURPOSE, message(target, exp)));
  const url = new URL(CALLBACK_PATH, env.PUBLIC_URL);
  url.search = new URLSearchParams({
    job: target.jobUuid,
    photo: target.photoUuid,
    attempt: String(target.attempt),
    exp: String(exp),
    sig,
  }).toString();
  return url.toString();
}

export type CallbackVerdict = { verdict: "ok"; target: CallbackTarget } | { verdict: "invalid" | "expired" };

/** Checks a callback URL's query; expiry is checked after the signature, which is compared in constant time. */
export async function verifyCallbackUrl(secret: string, query: URLSearchParams, now = Date.now()): Promise<CallbackVerdict> {
  const [job, photo, attempt, exp, sig] = ["job", "photo", "attempt", "exp", "sig"].map((k) => query.get(k) ?? "");
  if (!UUID.test(job ?? "") || !UUID.test(photo ?? "") || !/^\d{1,6}$/.test(attempt ?? "") || !/^\d{1,12}$/.test(exp ?? "")) {
    return { verdict: "invalid" };
  }
  const target: CallbackTarget = { jobUuid: job ?? "", photoUuid: photo ?? "", attempt: Number(attempt) };
  let given: Uint8Array;
  try {
    given = fromBase64Url(sig ?? "");
  } catch {
    return { verdict: "invalid" };
  }
  const expected = await hmac(secret, PURPOSE, message(target, Number(exp)));
  if (!timingSafeEqual(given, expected)) return { verdict: "invalid" };
  if (Number(exp) * 1000 < now) return { verdict: "expired" };
  return { verdict: "ok", target };
}

/** The transcoder's result: the shared wire format (contract.ts). */
export const CallbackBody = TranscodeCallback;
export type CallbackBody = TranscodeCallback;
