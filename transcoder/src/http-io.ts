// HTTP I/O for jobs: size-limited source download, output upload (PUT), result callback (POST).
import { open, readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import type { Config } from "./config.ts";
import { errorMessage, JobError } from "./errors.ts";
import type { JobSlots } from "./jobs.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * GET `url` into `dest`, stopping as soon as more than `maxBytes` have been read
 * (a lying or missing Content-Length does not matter). Returns the byte count.
 */
export async function downloadToFile(url: string, dest: string, maxBytes: number, signal: AbortSignal): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: "follow" });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw new JobError(`source download failed: ${errorMessage(e)}`, true);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new JobError(`source download failed: HTTP ${res.status}`, retryableStatus(res.status));
  }
  const tooLarge = (n: number | string): JobError =>
    new JobError(`source too large: ${n} bytes exceeds the ${maxBytes}-byte limit (MAX_SOURCE_BYTES)`, false);
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(declared);
  }
  if (!res.body) throw new JobError("source download failed: empty response body", true);
  const fh = await open(dest, "w");
  let total = 0;
  try {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes}`);
      await fh.write(chunk);
    }
  } catch (e) {
    if (e instanceof JobError) throw e;
    if (signal.aborted) throw signal.reason;
    throw new JobError(`source download interrupted: ${errorMessage(e)}`, true);
  } finally {
    await fh.close();
  }
  return total;
}

/** PUT a file to a (presigned) URL, retrying network errors and 5xx. Any final failure is retryable. */
export async function uploadFile(url: string, file: string, contentType: string, attempts: number, signal: AbortSignal): Promise<void> {
  const body = await readFile(file);
  let last = "";
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(250 * 2 ** (i - 1));
    try {
      const res = await fetch(url, {
        method: "PUT",
        body,
        headers: { "content-type": contentType },
        signal,
      });
      await res.body?.cancel().catch(() => {});
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      if (!retryableStatus(res.status)) break;
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      last = errorMessage(e);
    }
  }
  throw new JobError(`upload failed: ${last}`, true);
}

export interface CallbackOutcome {
  delivered: boolean;
  status?: number;
  attempts: number;
  error?: string;
}

/**
 * POST the result JSON to the Worker. Network errors and 5xx are retried with exponential
 * backoff (base, 2×base, 4×base …); a 4xx answer is final. Never throws.
 */
export async function postCallback(
  url: string,
  payload: unknown,
  opts: { attempts: number; baseDelayMs: number; timeoutMs?: number },
): Promise<CallbackOutcome> {
  const body = JSON.stringify(payload);
  let lastError = "";
  let lastStatus: number | undefined;
  for (let i = 0; i < opts.attempts; i++) {
    if (i > 0) await sleep(opts.baseDelayMs * 2 ** (i - 1));
    try {
      const res = await fetch(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
      await res.body?.cancel().catch(() => {});
      lastStatus = res.status;
      if (res.ok) return { delivered: true, status: res.status, attempts: i + 1 };
      lastError = `HTTP ${res.status}`;
      if (res.status < 500) return { delivered: false, status: res.status, attempts: i + 1, error: lastError };
    } catch (e) {
      lastError = errorMessage(e);
    }
  }
  return { delivered: false, status: lastStatus, attempts: opts.attempts, error: lastError };
}

/* The route types every route module shares (here, not in server.ts, which imports the routes). */

export interface RouteContext {
  config: Config;
  slots: JobSlots;
  /** Aborted when the server shuts down; running jobs kill ffmpeg and clean up. */
  shutdownSignal: AbortSignal;
  ffmpegVersion: string | null;
}

export interface RouteRequest {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  /** Raw body (empty for GET/HEAD), at most MAX_BODY_BYTES. */
  body: Buffer;
}

export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (ctx: RouteContext, req: RouteRequest) => RouteResult | Promise<RouteResult>;

/** The request's JSON body as `validate` accepts it, or the 400 answer that says why not. */
export function jsonBody<T>(
  req: RouteRequest,
  validate: (body: unknown) => { ok: true; value: T } | { ok: false; error: string },
): { ok: true; value: T } | { ok: false; answer: RouteResult } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString("utf8"));
  } catch {
    return { ok: false, answer: { status: 400, body: { error: "body is not valid JSON" } } };
  }
  const v = validate(parsed);
  return v.ok ? v : { ok: false, answer: { status: 400, body: { error: v.error } } };
}
