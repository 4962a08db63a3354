/**
 * The dashboard's only way to the server: the public API, as any client calls it. A bearer token
 * (kept in sessionStorage by main.ts, never in a URL) on every request; a CSRF token from
 * GET /api/security/csrf-token on every write (X-CSRF-Token header, fetched once and renewed
 * before it expires or when the API says it is no longer valid).
 */

import type { CsrfToken, ErrorBody } from "./types";

/** A request the API refused (or that never reached it: status 0). */
/** The multipart body of an upload: `action=upload`, the job, the target's own fields, then the file. */
export function uploadBody(jobId: number, fields: Record<string, string>, file: File): FormData {
  const fd = new FormData();
  fd.append("action", "upload");
  fd.append("job_id", String(jobId));
  for (const [name, value] of Object.entries(fields)) fd.append(name, value);
  fd.append("file", file, file.name);
  return fd;
}

/** A request's body: FormData as it is (the browser writes its boundary), anything else as JSON (its Content-Type set in `headers`). */
export function requestBody(body: Json | FormData | undefined, headers: Record<string, string>): BodyInit | undefined {
  if (body instanceof FormData) return body;
  if (!body) return undefined;
  headers["Content-Type"] = "application/json";
  return JSON.stringify(body);
}

/** The JSON an answer carries, or undefined when it is not JSON (a proxy's HTML page, an empty body). */
export function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "",
    readonly fieldErrors: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
  get forbidden() {
    return this.status === 403 && this.code !== "CSRF_INVALID";
  }
  /** Someone else changed the job since it was read (If-Match no longer current). */
  get conflict() {
    return this.status === 412 || this.code === "PRECONDITION_FAILED";
  }
}

export type Json = Record<string, unknown>;
type Method = "GET" | "POST" | "PATCH" | "DELETE" | "PUT";

export class Api {
  private csrf: { token: string; expires: number } | undefined;
  private blobs = new Map<string, Promise<string>>();
  /** Called when the API rejects the token itself (401): the session is over. */
  onUnauthorized: (message: string) => void = () => {};

  constructor(readonly token: string) {}

  async get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v));
    const qs = params.toString();
    return this.send<T>("GET", qs ? `${path}?${qs}` : path);
  }

  /** A read with the ETag the API sent (a job's version, for If-Match on the edit that follows). */
  async getWithEtag<T>(path: string, query: Record<string, string>): Promise<{ body: T; etag: string | undefined }> {
    const res = await this.fetch(`${path}?${new URLSearchParams(query)}`, { method: "GET", headers: this.headers() });
    const body = this.parse<T>(res.status, await res.text());
    return { body, etag: res.headers.get("ETag") ?? undefined };
  }

  /** `extra` headers: If-Match on a job edit (412 PRECONDITION_FAILED when someone changed it first). */
  async write<T>(method: Exclude<Method, "GET">, path: string, body: Json | FormData, extra: Record<string, string> = {}): Promise<T> {
    try {
      return await this.send<T>(method, path, body, await this.csrfToken(), extra);
    } catch (err) {
      // An expired or rotated CSRF token: fetch a new one and try once more.
      if (err instanceof ApiError && err.code === "CSRF_INVALID") {
        this.csrf = undefined;
        return this.send<T>(method, path, body, await this.csrfToken(), extra);
      }
      throw err;
    }
  }

  /** A multipart upload through XMLHttpRequest, the one browser API that reports upload progress. */
  async upload<T>(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
    const csrf = await this.csrfToken();
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => {
        try {
          resolve(this.parse<T>(xhr.status, xhr.responseText));
        } catch (err) {
          reject(err);
        }
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "The upload could not reach the server; check the connection and retry")));
      xhr.send(form);
    });
  }

  /**
   * Media answers only with the bearer token, which <img> and <video> cannot send: fetch the bytes
   * and hand the element an object URL. Cached per path for the page's life.
   */
  blobUrl(path: string): Promise<string> {
    let url = this.blobs.get(path);
    if (!url) {
      url = this.fetchBlob(path).then((b) => URL.createObjectURL(b));
      url.catch(() => this.blobs.delete(path));
      this.blobs.set(path, url);
    }
    return url;
  }

  async fetchBlob(path: string): Promise<Blob> {
    const res = await this.fetch(path, { headers: this.headers() });
    if (!res.ok) this.parse(res.status, await res.text());
    return res.blob();
  }

  /** Releases every object URL (sign out, or leaving a job page). */
  releaseBlobs() {
    for (const p of this.blobs.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {});
    this.blobs.clear();
  }

  private headers(extra: Record<string, string> = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  private async csrfToken(): Promise<string> {
    // Renewed a minute before it lapses so a slow form never sends a stale one.
    if (this.csrf && this.csrf.expires - 60_000 > Date.now()) return this.csrf.token;
    const res = await this.send<CsrfToken>("GET", "/api/security/csrf-token");
    this.csrf = { token: res.csrf_token, expires: Date.parse(res.expires_at) || Date.now() + 3_600_000 };
    return res.csrf_token;
  }

  private async send<T>(
    method: Method,
    path: string,
    body?: Json | FormData,
    csrf?: string,
    extra: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = this.headers({ ...(csrf ? { "X-CSRF-Token": csrf } : {}), ...extra });
    const res = await this.fetch(path, { method, headers, body: requestBody(body, headers) });
    return this.parse<T>(res.status, await res.text());
  }

  private async fetch(path: string, init: RequestInit) {
    try {
      return await fetch(path, { ...init, credentials: "omit", cache: "no-store" });
    } catch {
      throw new ApiError(0, "The server could not be reached; check the connection and retry");
    }
  }

  private parse<T>(status: number, text: string): T {
    const json = jsonOf(text);
    if (status >= 200 && status < 300 && json && typeof json === "object") return json as T;
    const body = (json ?? {}) as Partial<ErrorBody>;
    const message = typeof body.message === "string" ? body.message : `The server answered ${status}`;
    const err = new ApiError(status, message, body.code ?? "", body.errors ?? []);
    if (status === 401) this.onUnauthorized(message);
    throw err;
  }
}
