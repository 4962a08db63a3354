/** The signed-in session: the API client, cached reference lists, and what the API has refused. */
import { Api, ApiError } from "./api";
import type { Read } from "./types";

const TOKEN_KEY = "propops.token";
const DENIED_KEY = "propops.denied";
/** The reference lists cached for the session. */
type ReferenceList = "statuses" | "priorities" | "types" | "file-types";

export class Session {
  readonly api: Api;
  /** Controls the API answered 403 for: hidden for the rest of the session. */
  private denied: Set<string>;
  private lists = new Map<string, Promise<unknown[]>>();

  constructor(token: string) {
    this.api = new Api(token);
    let stored: unknown = [];
    try {
      stored = JSON.parse(sessionStorage.getItem(DENIED_KEY) ?? "[]");
    } catch {
      stored = [];
    }
    this.denied = new Set(Array.isArray(stored) ? stored.filter((x): x is string => typeof x === "string") : []);
  }

  static restore(): Session | undefined {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? new Session(token) : undefined;
  }

  /** Checks the token with the one endpoint any valid token may call, then keeps it for this tab. */
  static async signIn(token: string): Promise<Session> {
    const session = new Session(token.trim());
    await session.api.get("/api/security/csrf-token");
    sessionStorage.setItem(TOKEN_KEY, token.trim());
    sessionStorage.removeItem(DENIED_KEY);
    return session;
  }

  signOut() {
    this.api.releaseBlobs();
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(DENIED_KEY);
  }

  allowed(control: string) {
    return !this.denied.has(control);
  }

  /** Remembers a 403 for a control so it is not offered again; other errors are left to the caller. */
  noteRefusal(control: string, err: unknown) {
    if (err instanceof ApiError && err.forbidden) {
      this.denied.add(control);
      sessionStorage.setItem(DENIED_KEY, JSON.stringify([...this.denied]));
    }
  }

  private list<P extends ReferenceList>(name: P): Promise<Read<P>["data"]> {
    const path = `/api/jobs/${name}`;
    let p = this.lists.get(path);
    if (!p) {
      p = this.api.get<Read<ReferenceList>>(path, { action: "list" }).then((r) => r.data);
      p.catch(() => this.lists.delete(path));
      this.lists.set(path, p);
    }
    return p as Promise<Read<P>["data"]>;
  }
  statuses = () => this.list("statuses");
  priorities = () => this.list("priorities");
  types = () => this.list("types");
  fileTypes = () => this.list("file-types");
}
