/**
 * The live client (issue 21's live events contract): a single-use ticket from POST /api/live
 * (bearer token and CSRF token; the bearer token never goes in a URL), then a WebSocket to
 * GET /api/live?ticket=…&after=<last id seen>. Events arrive in id order; after a reconnect the
 * server replays from the last id, and ids already seen are dropped, so views see no gap and no
 * duplicate. Without WebSockets it polls GET /api/live/events by id. When the API has no live
 * endpoint (404) it stops quietly: the dashboard works as before, on reload.
 */
import { type Api, ApiError } from "./api";

export interface LiveEvent {
  kind: "event";
  id: number;
  type: string;
  job_uuid: string | null;
  at: string;
  data: Record<string, unknown>;
}
export interface Viewer {
  user_id: number;
  name: string;
}
export interface Presence {
  kind: "presence";
  job_uuid: string;
  viewers: Viewer[];
}
/** The server no longer holds every event after ours: views reload everything. */
export interface Reset {
  kind: "reset";
  after: number;
}
export type LiveState = "off" | "connecting" | "live" | "polling" | "unavailable";

const PING_MS = 25_000;
const POLL_MS = 3_000;
const MAX_RETRY_MS = 30_000;

export class Live {
  private ws: WebSocket | undefined;
  private after = -1;
  private running = false;
  private retryMs = 1_000;
  private timer = 0;
  private ping = 0;
  private viewingJob: string | null = null;
  private events = new Set<(e: LiveEvent | Reset) => void>();
  private presence = new Set<(p: Presence) => void>();
  private states = new Set<(s: LiveState) => void>();
  state: LiveState = "off";
  /** Our own user id, once presence has shown it (the viewer in every list since we began viewing). */
  selfId: number | undefined;
  private candidates: Set<number> | undefined;
  /** The latest presence per job, so a redrawn job page shows it at once. */
  readonly lastPresence = new Map<string, Presence>();

  constructor(private readonly api: Api) {}

  start() {
    if (this.running || this.state === "unavailable") return;
    this.running = true;
    void this.connect();
  }

  stop() {
    this.running = false;
    window.clearTimeout(this.timer);
    window.clearInterval(this.ping);
    this.ws?.close(1000, "signed out");
    this.ws = undefined;
    this.setState("off");
  }

  onEvent(fn: (e: LiveEvent | Reset) => void) {
    this.events.add(fn);
    return () => this.events.delete(fn);
  }
  onPresence(fn: (p: Presence) => void) {
    this.presence.add(fn);
    return () => this.presence.delete(fn);
  }
  onState(fn: (s: LiveState) => void) {
    this.states.add(fn);
    fn(this.state);
    return () => this.states.delete(fn);
  }

  /** Says which job this tab shows (null: none), for "also viewing" on the job page. */
  viewing(jobUuid: string | null) {
    if (this.viewingJob !== jobUuid) this.candidates = undefined;
    this.viewingJob = jobUuid;
    this.send({ kind: "viewing", job_uuid: jobUuid });
  }

  /** The viewers other than this user; `sure` false while it cannot yet tell which one is us. */
  others(p: Presence): { viewers: Viewer[]; sure: boolean } {
    if (p.job_uuid === this.viewingJob && this.selfId === undefined) {
      const ids = new Set(p.viewers.map((v) => v.user_id));
      this.candidates = this.candidates ? new Set([...this.candidates].filter((id) => ids.has(id))) : ids;
      if (this.candidates.size === 1) this.selfId = [...this.candidates][0];
    }
    if (this.selfId === undefined) return { viewers: p.viewers, sure: false };
    return { viewers: p.viewers.filter((v) => v.user_id !== this.selfId), sure: true };
  }

  private setState(s: LiveState) {
    this.state = s;
    for (const fn of this.states) fn(s);
  }

  private send(msg: unknown) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private async connect() {
    if (!this.running) return;
    this.setState("connecting");
    let ticket: { ticket: string; after: number };
    try {
      // Api.write sends the bearer token and the X-CSRF-Token header, as every write.
      ticket = await this.api.write<{ ticket: string; expires_at: string; after: number }>("POST", "/api/live", {});
    } catch (err) {
      // No live endpoint on this API: degrade silently, for the rest of the session.
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
        this.running = false;
        this.setState("unavailable");
        return;
      }
      return this.retry();
    }
    if (this.after < 0) this.after = ticket.after;
    if (typeof WebSocket === "undefined") return this.poll();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ ticket: ticket.ticket, after: String(this.after) });
    let ws: WebSocket;
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/live?${params}`);
    } catch {
      return this.poll();
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retryMs = 1_000;
      this.setState("live");
      if (this.viewingJob) this.send({ kind: "viewing", job_uuid: this.viewingJob });
      window.clearInterval(this.ping);
      this.ping = window.setInterval(() => this.send({ kind: "ping" }), PING_MS);
    });
    ws.addEventListener("message", (m) => this.receive(m.data));
    ws.addEventListener("close", () => {
      window.clearInterval(this.ping);
      if (this.ws === ws) this.ws = undefined;
      if (this.running) this.retry();
    });
  }

  private receive(raw: unknown) {
    let msg: { kind?: string } & Record<string, unknown>;
    try {
      msg = JSON.parse(String(raw));
    } catch {
      return;
    }
    if (msg.kind === "event" && typeof msg.id === "number") {
      // A replay after a reconnect may repeat what was seen: drop it.
      if (msg.id <= this.after) return;
      this.after = msg.id;
      for (const fn of this.events) fn(msg as unknown as LiveEvent);
    } else if (msg.kind === "presence") {
      const p = msg as unknown as Presence;
      this.lastPresence.set(p.job_uuid, p);
      for (const fn of this.presence) fn(p);
    } else if (msg.kind === "reset" && typeof msg.after === "number") {
      this.after = msg.after;
      for (const fn of this.events) fn(msg as unknown as Reset);
    }
  }

  private retry() {
    if (!this.running) return;
    this.setState("connecting");
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
  }

  /** The same stream by id, for a browser without WebSockets. */
  private async poll() {
    this.setState("polling");
    while (this.running) {
      try {
        const res = await this.api.get<{ events: LiveEvent[]; next_after: number }>("/api/live/events", { after: this.after, limit: 100 });
        for (const e of res.events) this.receive(JSON.stringify({ ...e, kind: "event" }));
        this.after = Math.max(this.after, res.next_after);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          this.running = false;
          this.setState("unavailable");
          return;
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}
