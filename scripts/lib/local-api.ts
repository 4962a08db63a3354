/**
 * A local API for end-to-end tests: the Worker bundled once (wrangler deploy --dry-run) and served
 * by `wrangler dev --local` on free ports with its own fresh state in a temp dir (schema applied,
 * one staff user with a token), static assets from public/ (npm run build). Optional extra vars,
 * seed SQL, key ring and rate limits; `restart` serves the same state again with a new key ring.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { resolveBinary } from "../../transcoder/src/config.ts";

const exec = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** wrangler's own CLI (the bin script re-spawns it): one process to guard and to stop. */
const WRANGLER_CLI = path.join(ROOT, "node_modules/wrangler/wrangler-dist/cli.js");
export const EXIT_WITH_PARENT = ["--import", path.join(ROOT, "scripts/lib/exit-with-parent.ts")];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps the last lines of children's output, for failure messages. */
export class Logs {
  readonly lines: string[] = [];
  collect(name: string, child: ChildProcess) {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        this.lines.push(`[${name}] ${line}`);
        if (this.lines.length > 400) this.lines.shift();
      });
    }
  }
  tail(n = 80) {
    return `\n--- process output (last lines) ---\n${this.lines.slice(-n).join("\n")}`;
  }
}

/** Ends a process group started here: SIGTERM, then SIGKILL if it lingers. */
export async function stopGroup(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM") {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid, signal);
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The media service (transcoder/src/server.ts) as a process in its own group (a kill reaches its
 * ffmpeg too), resolved once it says it listens. Its temp dirs go under `tmpdir`.
 */
export function startTranscoder(opts: { port: number; tmpdir: string; logs: Logs; env?: Record<string, string> }): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...EXIT_WITH_PARENT, "src/server.ts"], {
    cwd: path.join(ROOT, "transcoder"),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(opts.port), TMPDIR: opts.tmpdir, ...opts.env },
  });
  opts.logs.collect("transcoder", child);
  const stdout = child.stdout;
  if (!stdout) throw new Error("transcoder stdout is not piped");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`transcoder did not start${opts.logs.tail()}`)), 20_000);
    child.once("exit", (code) => reject(new Error(`transcoder exited (${code})${opts.logs.tail()}`)));
    createInterface({ input: stdout }).on("line", (line) => {
      if (line.includes('"event":"listening"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

export async function wranglerCli(args: string[]) {
  return exec(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false" },
    maxBuffer: 16 * 1024 * 1024,
    // A bundle or a local migration takes seconds: one that hangs fails the test instead.
    timeout: 300_000,
  });
}

export interface LocalApi {
  /** Where it listens (a restart keeps it, unless another process took the port meanwhile). */
  url: string;
  /** Bearer token of the user in the fresh database (a staff user unless `role` says otherwise). */
  token: string;
  tmp: string;
  persist: string;
  logs: Logs;
  /** Absent for the shared API (started by scripts/test.ts, stopped there). */
  wrangler?: ChildProcess;
  stop(): Promise<void>;
  /**
   * Stops `wrangler dev` and serves the same persisted state again on the same URL, with a new
   * ENCRYPTION_KEYS when given (SIGNING_SECRET is kept, so CSRF tokens stay valid). Only for an
   * API started by `startLocalApi`.
   */
  restart?(opts?: { encryptionKeys?: string }): Promise<void>;
}

export interface LocalApiOptions {
  /** Extra `--var NAME:value` pairs (e.g. TRANSCODER_URL). */
  vars?: Record<string, string>;
  /** Runs against the fresh database before the Worker starts (seed rows). */
  sql?: string[];
  logs?: Logs;
  /** The ENCRYPTION_KEYS secret (key ring JSON); default a fresh random `{"active":"k1",…}`. */
  encryptionKeys?: string;
  /**
   * Limits the rate-limit bindings enforce, per 60 s, instead of wrangler.toml's (every local client
   * comes from 127.0.0.1). The Worker is then served with a copy of wrangler.toml carrying them, and
   * the RATE_LIMIT_* vars that announce them are set to match.
   */
  rateLimits?: { perToken?: number; perAddress?: number; unverified?: number };
  /** The role of the user whose token `token` is (default staff). */
  role?: "staff" | "admin";
  /** The ports to try first (a test of the retry when one is taken); default two found free at start. */
  firstPorts?: { web: number; inspector: number };
  /** Seeds the fresh state (its persist dir) once the schema is applied, before the user and `sql`. */
  prepare?: (persist: string) => Promise<void>;
  /** Serves with a copy of wrangler.toml changed by this (e.g. a queue's max_batch_timeout, for a benchmark). */
  editConfig?: (toml: string) => string;
}

/** wrangler.toml with other `[[ratelimits]]` limits and its relative paths made absolute (the copy lives in a temp dir). */
async function configWithRateLimits(limits: NonNullable<LocalApiOptions["rateLimits"]>): Promise<string> {
  const byBinding: Record<string, number | undefined> = {
    RATE_LIMITER: limits.perToken,
    RATE_LIMITER_ADDRESS: limits.perAddress,
    RATE_LIMITER_UNVERIFIED: limits.unverified,
  };
  const [head = "", ...sections] = (await readFile(path.join(ROOT, "wrangler.toml"), "utf8")).split("[[ratelimits]]");
  const limited = sections.map((section) => {
    const name = /^name = "([A-Z_]+)"$/m.exec(section)?.[1] ?? "";
    const limit = byBinding[name];
    if (limit === undefined) return section;
    const out = section.replace(/simple = \{ limit = \d+,/, `simple = { limit = ${limit},`);
    if (out === section) throw new Error(`wrangler.toml: no simple limit in the ${name} rate limiter`);
    return out;
  });
  const abs = (p: string) => JSON.stringify(path.join(ROOT, p));
  return [head, ...limited]
    .join("[[ratelimits]]")
    .replace(/^main = "([^"]+)"$/m, (_, p: string) => `main = ${abs(p)}`)
    .replace(/^directory = "([^"]+)"$/m, (_, p: string) => `directory = ${abs(p)}`)
    .replace(/^migrations_dir = "([^"]+)"$/m, (_, p: string) => `migrations_dir = ${abs(p)}`)
    .replace(/^image = "([^"]+)"$/m, (_, p: string) => `image = ${abs(p)}`)
    .replace(/^image_build_context = "([^"]+)"$/m, (_, p: string) => `image_build_context = ${abs(p)}`);
}

export async function startLocalApi(opts: LocalApiOptions = {}): Promise<LocalApi> {
  const logs = opts.logs ?? new Logs();
  const role = opts.role ?? "staff";
  const tmp = await mkdtemp(path.join(tmpdir(), "propops-e2e-"));
  const persist = path.join(tmp, "state");

  // Fresh local state: schema, then one staff user with a token (format of src/auth/tokens.ts).
  const dist = path.join(tmp, "dist");
  const bundled = wranglerCli(["deploy", "--dry-run", "--outdir", dist, "--containers-rollout=none"]);
  // Awaited below; a failure meanwhile must surface there, not as an unhandled rejection.
  bundled.catch(() => {});
  await wranglerCli(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
  await opts.prepare?.(persist);
  const userUuid = randomUUID();
  const token = `pp_${userUuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`;
  const hash = createHash("sha256").update(token).digest("hex");
  await wranglerCli([
    ...["d1", "execute", "DB", "--local", "--persist-to", persist, "--command"],
    [
      "INSERT INTO addresses (id, line1, town, postcode, search_text) VALUES (9001, '1 Example Street', 'Sample Town', 'EX1 1AA', '1 example street sample town ex1 1aa')",
      `INSERT INTO users (uuid, name, email, role) VALUES ('${userUuid}', 'E2E ${role}', 'e2e-${role}@example.test', '${role}')`,
      `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ('${randomUUID()}', (SELECT id FROM users WHERE uuid = '${userUuid}'), 'e2e', '${hash}')`,
      ...(opts.sql ?? []),
    ].join("; "),
  ]);
  const envFile = path.join(tmp, "e2e.env");
  const signingSecret = randomBytes(32).toString("hex");
  const writeEnv = (keys: string) => writeFile(envFile, `ENCRYPTION_KEYS='${keys}'\nSIGNING_SECRET=${signingSecret}\n`);
  await writeEnv(opts.encryptionKeys ?? JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } }));
  let config = path.join(ROOT, "wrangler.toml");
  const limitVars: Record<string, string> = {};
  if (opts.rateLimits || opts.editConfig) {
    config = path.join(tmp, "wrangler.toml");
    const edit = opts.editConfig ?? ((toml: string) => toml);
    await writeFile(config, edit(await configWithRateLimits(opts.rateLimits ?? {})));
  }
  if (opts.rateLimits) {
    const { perToken, perAddress, unverified } = opts.rateLimits;
    if (perToken) limitVars.RATE_LIMIT_PER_TOKEN = String(perToken);
    if (perAddress) limitVars.RATE_LIMIT_PER_ADDRESS = String(perAddress);
    if (unverified) limitVars.RATE_LIMIT_UNVERIFIED = String(unverified);
  }
  // Bundled once and served without watching: other work in the tree (or a wrangler.toml edit)
  // must not reload the Worker mid-test and drop its queued (delayed) messages.
  await bundled;

  // Ports are taken as late as possible, and again when another process bound one first: a port
  // found free is only a guess until wrangler dev binds it (seen under load: "Address already in use").
  let ports = { web: 0, inspector: 0 };
  let portTaken = false;
  const serve = () => {
    const vars = { PUBLIC_URL: api.url, MEDIA_SERVICE: "process", ...limitVars, ...opts.vars };
    const child = spawn(
      process.execPath,
      [
        ...EXIT_WITH_PARENT,
        WRANGLER_CLI,
        ...["dev", path.join(dist, "index.js"), "--no-bundle", "--config", config, "--local"],
        ...["--ip", "127.0.0.1", "--port", String(ports.web), "--inspector-port", String(ports.inspector)],
        ...["--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false"],
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" },
      },
    );
    logs.collect("wrangler", child);
    portTaken = false;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("data", (d: Buffer) => {
        if (d.toString().includes("Address already in use")) portTaken = true;
      });
    }
    return child;
  };
  /**
   * True once the Worker answers; false when wrangler dev exited, reported its port taken (it may
   * stay up without serving: waiting out the bound then cost 90 s of a test's time under load), or
   * 90 s went by.
   */
  const listening = async () => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        // Bounded: whatever holds the port may accept and never answer.
        if ((await fetch(`${api.url}/`, { signal: AbortSignal.timeout(5_000) })).ok) return true;
      } catch {
        // not listening yet
      }
      if (api.wrangler?.exitCode !== null || portTaken || Date.now() > deadline) return false;
      await sleep(500);
    }
  };
  /** Serves on the current ports (new ones when `newPorts`), up to three times when a port was taken. */
  const serveUntilListening = async (newPorts: boolean) => {
    for (let attempt = 1; ; attempt++) {
      if (attempt === 1 && newPorts && opts.firstPorts) ports = opts.firstPorts;
      else if (newPorts || attempt > 1) ports = { web: await freePort(), inspector: await freePort() };
      api.url = `http://127.0.0.1:${ports.web}`;
      api.wrangler = serve();
      if (await listening()) return;
      await stopGroup(api.wrangler);
      if (!portTaken || attempt >= 3) {
        await api.stop();
        throw new Error(`wrangler dev did not start${logs.tail()}`);
      }
      logs.lines.push(`[harness] a port was taken before wrangler dev bound it: again on new ports (attempt ${attempt + 1})`);
    }
  };
  const api: LocalApi = {
    url: "",
    token,
    tmp,
    persist,
    logs,
    stop: async () => {
      await stopGroup(api.wrangler);
      await rm(tmp, { recursive: true, force: true });
    },
    restart: async (restartOpts = {}) => {
      await stopGroup(api.wrangler);
      if (restartOpts.encryptionKeys) await writeEnv(restartOpts.encryptionKeys);
      await serveUntilListening(false);
    },
  };
  await serveUntilListening(true);
  return api;
}

/**
 * The API that `npm test` starts once for the e2e files that need no special settings
 * (E2E_API_URL and E2E_API_TOKEN, see scripts/test.ts); run alone, a file starts its own.
 */
export async function sharedLocalApi(): Promise<LocalApi> {
  const url = process.env.E2E_API_URL;
  const token = process.env.E2E_API_TOKEN;
  if (url && token) return { url, token, tmp: "", persist: "", logs: new Logs(), stop: async () => {} };
  // Nothing listens on port 9: these files do not need the media service.
  return startLocalApi({ vars: { TRANSCODER_URL: "http://127.0.0.1:9" } });
}

/** A short H.264/AAC clip of the test pattern at a constant bitrate, as a phone records one (larger than its variants). */
export async function makeClip(file: string, seconds: number, size: string, kbps: number) {
  await exec(resolveBinary("ffmpeg", "@ffmpeg-installer/ffmpeg"), [
    ...["-hide_banner", "-nostdin", "-v", "error", "-y"],
    ...["-f", "lavfi", "-i", `testsrc=size=${size}:rate=30:duration=${seconds}`],
    ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    ...["-b:v", `${kbps}k`, "-minrate", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${kbps / 2}k`, "-x264-params", "nal-hrd=cbr"],
    ...["-c:a", "aac", "-shortest", file],
  ]);
}
