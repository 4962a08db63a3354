// Test helpers: clip generation with real ffmpeg, a local "storage + callback" server,
// an in-process transcoder, MP4 box parsing.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Config } from "../src/config.ts";
import { loadConfig, resolveBinary } from "../src/config.ts";
import type { RunningServer } from "../src/server.ts";
import { startServer } from "../src/server.ts";
import { FFMPEG_QUIET, TEMP_PREFIX } from "../src/transcode.ts";

const exec = promisify(execFile);

/** Narrow away `undefined`/`null`, failing loudly (with `what`) instead of asserting it away with `!`. */
export function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`expected ${what}, got ${v}`);
  return v;
}

export interface ClipOptions {
  width: number;
  height: number;
  seconds: number;
  rate?: number;
  audio?: boolean;
  /** Extra x264 args for the source encode (default: a high-quality, large source). */
  crf?: number;
  faststart?: boolean;
}

/** The binaries the server itself would use (PATH, else the npm-installed static builds). */
export const FFMPEG = resolveBinary("ffmpeg", "@ffmpeg-installer/ffmpeg");
export const FFPROBE = resolveBinary("ffprobe", "@ffprobe-installer/ffprobe");

/**
 * Clips are generated once per machine and options (CLIP_CACHE, default under the OS temp dir),
 * then copied: several test files and runs ask for the same clips. The cache key covers the
 * options and the ffmpeg binary; a clip appears in the cache only complete (rename).
 */
const CLIP_CACHE = process.env.CLIP_CACHE ?? join(tmpdir(), "propops-clip-cache");

/** Generate an H.264 (+AAC) MP4 test clip with ffmpeg's lavfi sources. */
export async function makeClip(dir: string, name: string, o: ClipOptions): Promise<string> {
  const out = join(dir, name);
  const key = createHash("sha256")
    .update(JSON.stringify([FFMPEG, o]))
    .digest("hex")
    .slice(0, 24);
  const cached = join(CLIP_CACHE, `${key}.mp4`);
  try {
    await copyFile(cached, out);
    return out;
  } catch {
    // not cached yet
  }
  await mkdir(CLIP_CACHE, { recursive: true });
  const partial = join(CLIP_CACHE, `${key}.${process.pid}.${Date.now()}.partial.mp4`);
  await generateClip(partial, o);
  await rename(partial, cached);
  await copyFile(cached, out);
  return out;
}

async function generateClip(out: string, o: ClipOptions): Promise<void> {
  const args = [...FFMPEG_QUIET, "-f", "lavfi", "-i", `testsrc2=size=${o.width}x${o.height}:rate=${o.rate ?? 30}:duration=${o.seconds}`];
  if (o.audio) args.push("-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${o.seconds}`);
  args.push("-c:v", "libx264", "-preset", "ultrafast", "-crf", String(o.crf ?? 12), "-pix_fmt", "yuv420p");
  if (o.audio) args.push("-c:a", "aac", "-b:a", "192k");
  if (o.faststart) args.push("-movflags", "+faststart");
  args.push(out);
  await exec(FFMPEG, args);
}

export interface ProbeOut {
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; profile?: string; pix_fmt?: string }>;
  format: { format_name: string; duration: string };
}

export async function probe(file: string): Promise<ProbeOut> {
  const r = await exec(FFPROBE, ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", file]);
  return JSON.parse(r.stdout) as ProbeOut;
}

/** Top-level ISO-BMFF box types in order. */
export function topLevelBoxes(buf: Buffer): string[] {
  const types: string[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    else if (size === 0) size = buf.length - off;
    if (size < 8) break;
    types.push(type);
    off += size;
  }
  return types;
}

export interface Received {
  puts: Map<string, { body: Buffer; contentType: string }>;
  callbacks: Array<Record<string, unknown>>;
}

export interface Storage {
  url: string;
  received: Received;
  /** Serve these bytes at GET /src/<name>. */
  sources: Map<string, Buffer>;
  /** Holds every GET /slow/<name> until the returned function is called (an event, not a delay). */
  holdSlow(): () => void;
  /** Status to answer callbacks with (sequence; last one repeats). */
  callbackStatuses: number[];
  waitForCallback(jobId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A local HTTP server standing in for R2 presigned URLs and the Worker's callback. */
export async function startStorage(): Promise<Storage> {
  const received: Received = { puts: new Map(), callbacks: [] };
  const sources = new Map<string, Buffer>();
  const waiters: Array<() => void> = [];
  let held: Promise<void> = Promise.resolve();
  let server: Server;
  const storage: Storage = {
    url: "",
    received,
    sources,
    holdSlow() {
      let release: () => void = () => {};
      held = new Promise<void>((r) => {
        release = r;
      });
      return release;
    },
    callbackStatuses: [200],
    async waitForCallback(jobId, timeoutMs = 150_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const cb = received.callbacks.find((c) => c.job_id === jobId);
        if (cb) return cb;
        if (Date.now() > deadline) throw new Error(`no callback for ${jobId} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = await readAll(req);
    const [, kind, name = ""] = url.pathname.split("/");
    if (req.method === "GET" && kind === "nolen") {
      // chunked, no Content-Length: the size limit must be enforced on bytes read
      const src = sources.get(name) ?? Buffer.alloc(0);
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let off = 0; off < src.length; off += 64 * 1024) res.write(src.subarray(off, off + 64 * 1024));
      res.end();
      return;
    }
    if (req.method === "GET" && (kind === "src" || kind === "slow")) {
      if (kind === "slow") await held;
      const src = sources.get(name);
      if (!src) {
        res.writeHead(name === "fail500" ? 500 : 404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": src.length }).end(src);
      return;
    }
    if (req.method === "PUT" && kind === "put") {
      received.puts.set(name, { body, contentType: String(req.headers["content-type"]) });
      res.writeHead(200).end();
      return;
    }
    if (req.method === "POST" && kind === "callback") {
      const status = must(
        storage.callbackStatuses.length > 1 ? storage.callbackStatuses.shift() : storage.callbackStatuses[0],
        "a configured callback status",
      );
      if (status < 300) {
        received.callbacks.push(JSON.parse(body.toString("utf8")) as Record<string, unknown>);
        for (const w of waiters.splice(0)) w();
      }
      res.writeHead(status).end();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  storage.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return storage;
}

/** A transcode request whose URLs all point at `storage`. */
export function jobBody(
  storage: Storage,
  jobId: string,
  sourceName: string,
  opts: { slow?: boolean; noLength?: boolean } = {},
): Record<string, unknown> {
  return {
    job_id: jobId,
    attempt: 1,
    source_url: `${storage.url}/${opts.slow ? "slow" : opts.noLength ? "nolen" : "src"}/${sourceName}`,
    outputs: {
      "1080p": { put_url: `${storage.url}/put/${jobId}-1080p` },
      "720p": { put_url: `${storage.url}/put/${jobId}-720p` },
      thumbnail: { put_url: `${storage.url}/put/${jobId}-thumbnail` },
    },
    callback_url: `${storage.url}/callback`,
  };
}

export async function submit(
  serverUrl: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${serverUrl}/v1/videos/transcode`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export interface Sandbox {
  dir: string;
  tmp: string;
  cleanup(): Promise<void>;
}

/** A working dir for fixtures and a separate TMPDIR for the transcoder's temp dirs. */
export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), "transcoder-test-"));
  const tmp = join(dir, "tmp");
  await exec("mkdir", ["-p", tmp]);
  return { dir, tmp, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function leftoverTempDirs(tmp: string): Promise<string[]> {
  return (await readdir(tmp)).filter((n) => n.startsWith(TEMP_PREFIX));
}

export function testConfig(tmp: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({}, { port: 0, host: "127.0.0.1", tmpDir: tmp, callbackRetryBaseMs: 50, logJobs: false, ...overrides });
}

export async function startTranscoder(config: Config): Promise<RunningServer> {
  return startServer(config);
}

/**
 * The real ffmpeg behind a small wrapper (use as `ffmpegPath` / FFMPEG_PATH), for tests that must
 * act while a job's ffmpeg runs (a timeout, a kill, a shutdown) on a machine of any speed or load:
 * - every transcode run (a command with `-i`) appends its pid to a marker file before `exec`ing
 *   ffmpeg (same pid), so the test learns that ffmpeg started, and which process, as a fact rather
 *   than by catching it in `ps` (a short run can start and end between two looks);
 * - it adds `-re` (read the input at its native frame rate), so a run lasts at least the clip's
 *   duration in wall-clock time however fast or idle the CPU is: a job that must outlast its
 *   limit does, and one the test means to interrupt is still running when it does.
 * The rest is the transcoder's own command line, run by the real binary.
 */
export interface PacedFfmpeg {
  path: string;
  /** Pids of the transcode runs started so far, oldest first. */
  started(): Promise<number[]>;
  /** Resolves with the pid of the next run to start (after the `already` ones); bounded generously. */
  waitForStart(already?: number, limitMs?: number): Promise<number>;
}

export async function pacedFfmpeg(dir: string): Promise<PacedFfmpeg> {
  const folder = await mkdtemp(join(dir, "paced-ffmpeg-"));
  const marker = join(folder, "started");
  const path = join(folder, "ffmpeg");
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await writeFile(marker, "");
  await writeFile(
    path,
    `#!/bin/sh\ncase " $* " in\n  *" -i "*) echo $$ >> ${q(marker)}; exec ${q(FFMPEG)} -re "$@" ;;\n  *) exec ${q(FFMPEG)} "$@" ;;\nesac\n`,
  );
  await chmod(path, 0o755);
  const started = async () => (await readFile(marker, "utf8")).split("\n").filter(Boolean).map(Number);
  return {
    path,
    started,
    async waitForStart(already = 0, limitMs = 120_000) {
      const deadline = Date.now() + limitMs;
      for (;;) {
        const pids = await started();
        const pid = pids[already];
        if (pid !== undefined) return pid;
        if (Date.now() > deadline) throw new Error(`ffmpeg did not start within ${limitMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** Whether `pid` is a live process (not gone, not a zombie waiting to be reaped). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const state = /\) (\S)/.exec(await readFile(`/proc/${pid}/stat`, "utf8"))?.[1];
    return state !== undefined && state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** ffmpeg processes whose command line mentions `needle` (e.g. a sandbox path). */
export async function ffmpegProcessesMentioning(needle: string): Promise<number[]> {
  const r = await exec("ps", ["-eo", "pid=,args="]);
  return r.stdout
    .split("\n")
    .filter((l) => /\bffmpeg\b/.test(l) && l.includes(needle) && !l.includes("ps -eo"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

export { readFile, writeFile };
