import { exports } from "cloudflare:workers";
import { type Actor, api, expectStatus } from "./helpers";

const BASE = "https://propops.test";

export type LiveMessage = {
  kind: string;
  id?: number;
  type?: string;
  job_uuid?: string | null;
  data?: Record<string, unknown>;
  viewers?: { user_id: number; name: string }[];
};

/** A live client: every message kept in order of arrival; `until` waits for one matching. */
export interface LiveClient {
  ws: WebSocket;
  messages: LiveMessage[];
  events(): LiveMessage[];
  until(match: (m: LiveMessage) => boolean, timeoutMs?: number): Promise<LiveMessage>;
  /** Waits `ms` and answers the messages that arrived meanwhile. */
  quiet(ms: number): Promise<LiveMessage[]>;
  close(): void;
}

export async function liveTicket(who: Actor): Promise<{ ticket: string; expires_at: string; after: number }> {
  const res = await api("POST", "/api/live", { token: who.token, csrf: who.csrf });
  expectStatus(res, 200);
  return res.body as { ticket: string; expires_at: string; after: number };
}

/** GET /api/live as a browser would open it (no bearer unless `headers` says so). */
export function openRaw(query: string, headers: Record<string, string> = { Upgrade: "websocket" }) {
  return exports.default.fetch(new Request(`${BASE}/api/live${query}`, { headers }));
}

export async function connectLive(who: Actor, opts: { after?: number; ticket?: string } = {}): Promise<LiveClient> {
  const t = opts.ticket ?? (await liveTicket(who)).ticket;
  const after = opts.after === undefined ? "" : `&after=${opts.after}`;
  const res = await openRaw(`?ticket=${encodeURIComponent(t)}${after}`);
  if (res.status !== 101) throw new Error(`GET /api/live answered ${res.status}: ${await res.text()}`);
  const ws = res.webSocket as WebSocket;
  const messages: LiveMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.addEventListener("message", (e) => {
    messages.push(JSON.parse(String(e.data)) as LiveMessage);
    for (const w of waiters.splice(0)) w();
  });
  ws.accept();
  const client: LiveClient = {
    ws,
    messages,
    events: () => messages.filter((m) => m.kind === "event"),
    async until(match, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching live message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async quiet(ms) {
      const from = messages.length;
      await new Promise((r) => setTimeout(r, ms));
      return messages.slice(from);
    },
    close: () => ws.close(1000, "done"),
  };
  return client;
}
