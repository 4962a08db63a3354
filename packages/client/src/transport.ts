/**
 * The `fetch` the generated client calls: what every request of the API needs, done once here.
 * - the bearer token on every request;
 * - writes (POST, PUT, PATCH, DELETE): a CSRF token fetched from GET /api/security/csrf-token,
 *   cached, refreshed before it expires and once more when the API answers CSRF_INVALID; and an
 *   `Idempotency-Key` per logical write (the caller's own, or a new UUID), the same on every retry
 *   of that write, so a retry after a lost answer replays it instead of repeating it;
 * - retries with exponential backoff and jitter on 429 and 5xx (and on a network failure, and
 *   on 409 "still in progress" for a keyed write), honouring `Retry-After`;
 * - a non-2xx answer after the retries throws a `PropOpsError` (code, message, errors, request_id).
 */
import { PropOpsError } from "./errors.js";

export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 disables them). */
  retries: number;
  /** The first backoff (default 250 ms), doubled per retry, with jitter. */
  baseDelayMs: number;
  /** The longest wait between attempts (default 30 s). A `Retry-After` beyond it is not waited for: the error is thrown. */
  maxDelayMs: number;
}

export interface TransportOptions {
  baseUrl: string;
  token: string;
  fetch?: (request: Request) => Promise<Response>;
  retry?: Partial<RetryOptions>;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const RETRIED = new Set([429, 500, 502, 503, 504]);
/** Refresh a CSRF token this long before it expires (a request may wait in a retry meanwhile). */
const CSRF_MARGIN_MS = 5 * 60_000;

export function createTransport(opts: TransportOptions): { fetch: (request: Request) => Promise<Response>; csrfToken(): Promise<string> } {
  const send = opts.fetch ?? ((request: Request) => globalThis.fetch(request));
  const retry: RetryOptions = { retries: 3, baseDelayMs: 250, maxDelayMs: 30_000, ...opts.retry };
  const base = opts.baseUrl.replace(/\/+$/, "");
  let csrf: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchCsrf(): Promise<string> {
    const res = await attempts(
      () => new Request(`${base}/api/security/csrf-token`, { headers: { Authorization: `Bearer ${opts.token}` } }),
    );
    if (!res.ok) throw await PropOpsError.from(res);
    const body = (await res.json()) as { csrf_token: string; expires_at: string };
    csrf = { token: body.csrf_token, expiresAt: Date.parse(body.expires_at) || Date.now() + 3_600_000 };
    return body.csrf_token;
  }

  /** The cached CSRF token, or a new one (one request for any number of concurrent callers). */
  function csrfToken(fresh = false): Promise<string> {
    if (!fresh && csrf && csrf.expiresAt - CSRF_MARGIN_MS > Date.now()) return Promise.resolve(csrf.token);
    pending ??= fetchCsrf().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  /** Sends the request built by `make` until it succeeds, fails for good, or the retries run out. */
  async function attempts(make: () => Request, keyed = false): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const request = make();
      let res: Response;
      try {
        res = await send(request);
      } catch (err) {
        // A network failure: the request may or may not have landed, so only a read or a keyed write is sent again.
        if (attempt >= retry.retries || request.signal.aborted || (WRITES.has(request.method) && !keyed)) throw err;
        await sleep(backoff(attempt), request.signal);
        continue;
      }
      const again = RETRIED.has(res.status) || (keyed && res.status === 409 && (await inProgress(res)));
      if (!again || attempt >= retry.retries) return res;
      const wait = retryAfter(res.headers.get("Retry-After")) ?? backoff(attempt);
      if (wait > retry.maxDelayMs) return res;
      await res.body?.cancel().catch(() => {});
      await sleep(wait, request.signal);
    }
  }

  const backoff = (attempt: number) => {
    const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  };

  async function transportFetch(input: Request): Promise<Response> {
    const write = WRITES.has(input.method);
    // Read once: each attempt sends the same bytes (a multipart body keeps its boundary in the headers).
    const body = input.body ? await input.arrayBuffer() : undefined;
    const headers = new Headers(input.headers);
    headers.set("Authorization", `Bearer ${opts.token}`);
    if (write && !headers.has("Idempotency-Key")) headers.set("Idempotency-Key", crypto.randomUUID());
    const make = () => new Request(input.url, { method: input.method, headers, body, signal: input.signal, redirect: input.redirect });

    if (write && !headers.has("X-CSRF-Token")) headers.set("X-CSRF-Token", await csrfToken());
    let res = await attempts(make, write);
    if (write && res.status === 403) {
      const refused = await PropOpsError.from(res.clone());
      if (refused.code === "CSRF_INVALID") {
        // Expired or rotated (a new API token, a new signing secret): one fresh token, one more try.
        headers.set("X-CSRF-Token", await csrfToken(true));
        res = await attempts(make, write);
      }
    }
    // 304 answers a conditional download: not an error.
    if (!res.ok && res.status !== 304) throw await PropOpsError.from(res);
    return res;
  }

  return { fetch: transportFetch, csrfToken: () => csrfToken() };
}

/** The 409 the API answers while the first request under the same Idempotency-Key still runs. */
async function inProgress(res: Response): Promise<boolean> {
  const err = await PropOpsError.from(res.clone());
  return err.code === "CONFLICT" && err.errors.length === 0 && /Idempotency-Key is still in progress/.test(err.message);
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
