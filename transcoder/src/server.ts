// HTTP server: route table, JSON responses, graceful shutdown.
// Run: node src/server.ts   (env: see config.ts / README.md)

import { realpathSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Config } from "./config.ts";
import { loadConfig } from "./config.ts";
import { ffmpegVersion, killAllChildren } from "./ffmpeg.ts";
import type { RouteContext, RouteHandler, RouteResult } from "./http-io.ts";
import { compressImageRoute } from "./images.ts";
import { JobSlots } from "./jobs.ts";
import { transcodeVideo, videoStatus } from "./routes-videos.ts";
import { sweepStaleTempDirs } from "./transcode.ts";

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  handler: RouteHandler;
}

const healthz: RouteHandler = (ctx) =>
  ctx.ffmpegVersion
    ? { status: 200, body: { ok: true, ffmpeg: ctx.ffmpegVersion, busy: ctx.slots.busy } }
    : { status: 503, body: { ok: false, ffmpeg: null, busy: ctx.slots.busy, error: "ffmpeg not available" } };

// Add a route here (e.g. { method: "POST", path: "/v1/images/compress", handler: compressImage }).
export const routes: Route[] = [
  { method: "GET", path: "/healthz", handler: healthz },
  { method: "POST", path: "/v1/videos/transcode", handler: transcodeVideo },
  { method: "GET", path: "/v1/videos/status", handler: videoStatus },
  { method: "POST", path: "/v1/images/compress", handler: compressImageRoute },
];

const MAX_BODY_BYTES = 64 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on("data", (c: Buffer) => {
      total += c.length;
      if (total > MAX_BODY_BYTES) {
        // Keep draining (discarding) so the client can read the 413; the connection closes after it.
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, r: RouteResult): void {
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, { "content-type": "application/json; charset=utf-8", ...r.headers });
  res.end(body);
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  slots: JobSlots;
  /** Stop accepting, abort running jobs (SIGKILL ffmpeg, remove temp dirs), wait for them. */
  close(): Promise<void>;
}

export async function startServer(config: Config = loadConfig()): Promise<RunningServer> {
  let version: string | null = null;
  try {
    version = await ffmpegVersion(config.ffmpegPath);
  } catch (e) {
    process.stderr.write(`warning: ffmpeg not usable: ${String(e)}\n`);
  }
  const swept = await sweepStaleTempDirs(config);
  if (swept.length > 0) process.stderr.write(`removed ${swept.length} stale temp dir(s): ${swept.join(", ")}\n`);
  const shutdown = new AbortController();
  const slots = new JobSlots(config.maxConcurrentJobs);
  const ctx: RouteContext = { config, slots, shutdownSignal: shutdown.signal, ffmpegVersion: version };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const method = req.method ?? "GET";
      const sameOrigin = routes.filter((r) => r.path === url.pathname);
      const route = sameOrigin.find((r) => r.method === method);
      if (!route) {
        req.resume();
        send(
          res,
          sameOrigin.length > 0
            ? { status: 405, body: { error: "method not allowed" }, headers: { allow: sameOrigin.map((r) => r.method).join(", ") } }
            : { status: 404, body: { error: "not found" } },
        );
        return;
      }
      if (shutdown.signal.aborted) {
        req.resume();
        send(res, { status: 503, body: { error: "shutting down" }, headers: { "retry-after": "5" } });
        return;
      }
      const body = method === "GET" ? Buffer.alloc(0) : await readBody(req);
      send(res, await route.handler(ctx, { method, url, headers: req.headers, body }));
    } catch (e) {
      if (e instanceof BodyTooLarge)
        send(res, { status: 413, body: { error: `body larger than ${MAX_BODY_BYTES} bytes` }, headers: { connection: "close" } });
      else if (!res.headersSent) send(res, { status: 500, body: { error: "internal error" } });
    }
  });
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      shutdown.abort();
      killAllChildren();
      await slots.drain();
      server.closeAllConnections();
      await closed;
    })();
    return closing;
  };
  return { server, url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`, port, slots, close };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const config = loadConfig();
  const running = await startServer(config);
  process.stdout.write(`${JSON.stringify({ event: "listening", url: running.url, host: config.host, port: running.port })}\n`);
  const stop = (sig: string): void => {
    process.stdout.write(`${JSON.stringify({ event: "shutdown", signal: sig })}\n`);
    const hard = setTimeout(() => process.exit(1), 10_000);
    hard.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
