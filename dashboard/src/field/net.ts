/**
 * The field mode's client of the public API: the bearer token on every request, the CSRF token
 * (GET /api/security/csrf-token) on writes, an `Idempotency-Key` on every queued write, and the
 * refusal's whole body kept (a refused transition names the job's current status).
 */
import { ApiError, type Json, jsonOf, requestBody } from "../api";
import type { CsrfToken } from "../types";

/** A refusal with the API's error body, or status 0 when the request never reached the API. */
export class FieldError extends ApiError {
  constructor(
    status: number,
    message: string,
    code: string,
    fieldErrors: { field: string; message: string }[],
    readonly body: Record<string, unknown> = {},
  ) {
    super(status, message, code, fieldErrors);
  }
  /** Worth sending again later as it is: no signal, the server down or busy, the key still in flight. */
  get transient() {
    return (
      this.status === 0 ||
      this.status >= 500 ||
      this.status === 429 ||
      (this.code === "CONFLICT" && this.message.includes("still in progress"))
    );
  }
  /** The API applied this keyed request earlier but lost its answer: done, never repeated. */
  get appliedEarlier() {
    return this.code === "CONFLICT" && this.fieldErrors.some((f) => f.field === "Idempotency-Key");
  }
}

export const offlineError = () => new FieldError(0, "No connection: it will be sent when the phone is back online", "", []);

export class FieldApi {
  private csrf: { token: string; expires: number } | undefined;
  onUnauthorized: (message: string) => void = () => {};

  constructor(readonly token: string) {}

  async get<T>(path: string, query: Record<string, string | number> = {}): Promise<T> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    return this.send<T>("GET", qs ? `${path}?${qs}` : path);
  }

  /** A write; `key` makes a resend of the same request a replay of the first answer. */
  async post<T>(path: string, body: Json | FormData, key?: string): Promise<T> {
    const extra: Record<string, string> = key ? { "Idempotency-Key": key } : {};
    try {
      return await this.send<T>("POST", path, body, { ...extra, "X-CSRF-Token": await this.csrfToken() });
    } catch (err) {
      if (!(err instanceof FieldError) || err.code !== "CSRF_INVALID") throw err;
      this.csrf = undefined;
      return this.send<T>("POST", path, body, { ...extra, "X-CSRF-Token": await this.csrfToken() });
    }
  }

  async csrfToken(): Promise<string> {
    if (this.csrf && this.csrf.expires - 60_000 > Date.now()) return this.csrf.token;
    const res = await this.send<CsrfToken>("GET", "/api/security/csrf-token");
    this.csrf = { token: res.csrf_token, expires: Date.parse(res.expires_at) || Date.now() + 3_600_000 };
    return res.csrf_token;
  }

  async blob(path: string): Promise<Blob> {
    const res = await this.fetch(path, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!res.ok) this.parse(res.status, await res.text());
    return res.blob();
  }

  private async send<T>(method: "GET" | "POST", path: string, body?: Json | FormData, extra: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, ...extra };
    const res = await this.fetch(path, { method, headers, body: requestBody(body, headers) });
    return this.parse<T>(res.status, await res.text().catch(() => ""));
  }

  private async fetch(path: string, init: RequestInit) {
    if (!navigator.onLine) throw offlineError();
    try {
      return await fetch(path, { ...init, credentials: "omit", cache: "no-store" });
    } catch {
      throw offlineError();
    }
  }

  /** The API's envelope → the answer, or a FieldError carrying the whole error body. */
  parse<T>(status: number, text: string): T {
    const json = jsonOf(text);
    if (status >= 200 && status < 300 && json && typeof json === "object") return json as T;
    const body = (json && typeof json === "object" ? json : {}) as Json;
    const message = typeof body.message === "string" ? body.message : `The server answered ${status}`;
    const errors = Array.isArray(body.errors) ? (body.errors as { field: string; message: string }[]) : [];
    if (status === 401) this.onUnauthorized(message);
    throw new FieldError(status, message, typeof body.code === "string" ? body.code : "", errors, body);
  }
}
