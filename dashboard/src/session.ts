/** The signed-in session: the API client, cached reference lists, and what the API has refused. */
import { Api, ApiError } from "./api";
import { Live } from "./live";
import type { Read } from "./types";

const TOKEN_KEY = "propops.token";
const DENIED_KEY = "propops.denied";
/** The reference lists cached for the session. */
type ReferenceList = "statuses" | "priorities" | "types" | "file-types" | "payment-statuses" | "time-ranges";
/** The directories a picker searches by name (never a raw id in front of a person). */
export type DirectoryKind = "contractors" | "agents" | "staff" | "tenants" | "addresses";
export interface Named {
  id: number;
  name: string;
}

export class Session {
  readonly api: Api;
  /** The live event stream (started by main.ts once signed in; quiet when the API has none). */
  readonly live: Live;
  /** Controls the API answered 403 for: hidden for the rest of the session. */
  private denied: Set<string>;
  private lists = new Map<string, Promise<unknown[]>>();

  constructor(token: string) {
    this.api = new Api(token);
    this.live = new Live(this.api);
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
    this.live.stop();
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
  /** Names seen for each directory's ids (from directory pages and job reads), for sentences and filters. */
  readonly names = new Map<DirectoryKind, Map<number, string>>();

  remember(kind: DirectoryKind, id: number | null | undefined, name: string | null | undefined) {
    if (id === null || id === undefined || !name) return;
    const m = this.names.get(kind) ?? new Map<number, string>();
    this.names.set(kind, m);
    m.set(id, name);
  }

  /**
   * One page of a directory matching the start of a name (addresses: the reference's address
   * search), as id and name; remembered for naming ids later. A refusal answers an empty list.
   */
  async directory(kind: DirectoryKind, search = "", limit = 50): Promise<Named[]> {
    const key = `${kind}?${search.toLowerCase()}`;
    let p = this.lists.get(key) as Promise<Named[]> | undefined;
    if (!p) {
      const query: Record<string, string | number> = { action: "list", limit };
      if (search) query.search = search;
      if (kind === "contractors" || kind === "agents" || kind === "staff") query.active = "true";
      p = this.api
        .get<{ data: { ID: number; name?: string; full_address?: string; line1?: string; postcode?: string }[] }>(
          `/api/jobs/${kind}`,
          query,
        )
        .then((r) =>
          r.data.map((d) => {
            const name = d.name ?? d.full_address ?? [d.line1, d.postcode].filter(Boolean).join(", ");
            this.remember(kind, d.ID, name);
            return { id: d.ID, name };
          }),
        );
      p.catch(() => this.lists.delete(key));
      this.lists.set(key, p);
    }
    return p.catch(() => []);
  }

  private side: Promise<"managing" | "contractor"> | undefined;
  /**
   * Which side the token is on, for what to offer (the API still decides every request): the
   * staff directory is the agency's, and a contractor's contractor directory holds only itself.
   */
  sideOf(): Promise<"managing" | "contractor"> {
    this.side ??= Promise.all([
      this.api.get<{ count: number }>("/api/jobs/staff", { action: "list", limit: 1 }).then(
        () => true,
        () => false,
      ),
      this.directory("contractors", "", 2),
    ]).then(([staff, contractors]) => (!staff && contractors.length <= 1 ? "contractor" : "managing"));
    return this.side;
  }

  statuses = () => this.list("statuses");
  priorities = () => this.list("priorities");
  types = () => this.list("types");
  fileTypes = () => this.list("file-types");
  paymentStatuses = () => this.list("payment-statuses");
  timeRanges = () => this.list("time-ranges");
}
