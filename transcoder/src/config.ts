// Runtime limits and settings, all from environment variables.
// Every value has a default; invalid values make the server refuse to start.
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface Config {
  /** HOST — interface to bind. Default 127.0.0.1 (the Dockerfile sets 0.0.0.0). */
  host: string;
  /** PORT — TCP port. Default 8788 (the Dockerfile sets 8080). 0 = any free port. */
  port: number;
  /** MAX_CONCURRENT_JOBS — jobs run at once; further requests get 503 busy. Default 1. */
  maxConcurrentJobs: number;
  /** MAX_SOURCE_BYTES — source download limit, counted on bytes actually read. Default 200 MiB. */
  maxSourceBytes: number;
  /** MAX_DURATION_SECONDS — longest accepted source. Default 300. */
  maxDurationSeconds: number;
  /** MAX_DIMENSION — widest/tallest accepted source side in pixels. Default 8192. */
  maxDimension: number;
  /** JOB_TIMEOUT_SECONDS — wall-clock limit for download+probe+transcode+upload. Default 600. Fractions allowed. */
  jobTimeoutSeconds: number;
  /** CALLBACK_ATTEMPTS — tries for the result callback (network error / 5xx retried, 4xx final). Default 5. */
  callbackAttempts: number;
  /** CALLBACK_RETRY_BASE_MS — first backoff delay, doubled each retry. Default 500. */
  callbackRetryBaseMs: number;
  /** UPLOAD_ATTEMPTS — tries per output PUT (network error / 5xx retried). Default 3. */
  uploadAttempts: number;
  /** RETRY_AFTER_SECONDS — value of Retry-After on 503 busy. Default 15. */
  retryAfterSeconds: number;
  /** TMPDIR (via os.tmpdir()) — where per-job temp dirs `propops-transcode-*` are created. */
  tmpDir: string;
  /**
   * FFMPEG_PATH / FFPROBE_PATH — binaries. Default "ffmpeg" / "ffprobe" from PATH; where PATH has
   * none (a fresh dev machine), the static builds of @ffmpeg-installer/ffmpeg and
   * @ffprobe-installer/ffprobe (root devDependencies; the container image uses Debian's).
   */
  ffmpegPath: string;
  ffprobePath: string;
  /** LOG_JOBS — one JSON line per job event on stdout. Default true; "0"/"false" disables. */
  logJobs: boolean;
}

type Env = Record<string, string | undefined>;

function num(env: Env, name: string, def: number, opts: { min: number; integer: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < opts.min || (opts.integer && !Number.isInteger(v))) {
    throw new Error(`invalid ${name}=${JSON.stringify(raw)}: expected ${opts.integer ? "an integer" : "a number"} >= ${opts.min}`);
  }
  return v;
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const base: Config = {
    host: env.HOST?.trim() || "127.0.0.1",
    port: num(env, "PORT", 8788, { min: 0, integer: true }),
    maxConcurrentJobs: num(env, "MAX_CONCURRENT_JOBS", 1, { min: 1, integer: true }),
    maxSourceBytes: num(env, "MAX_SOURCE_BYTES", 200 * 1024 * 1024, { min: 1, integer: true }),
    maxDurationSeconds: num(env, "MAX_DURATION_SECONDS", 300, { min: 0.1, integer: false }),
    maxDimension: num(env, "MAX_DIMENSION", 8192, { min: 16, integer: true }),
    jobTimeoutSeconds: num(env, "JOB_TIMEOUT_SECONDS", 600, { min: 0.01, integer: false }),
    callbackAttempts: num(env, "CALLBACK_ATTEMPTS", 5, { min: 1, integer: true }),
    callbackRetryBaseMs: num(env, "CALLBACK_RETRY_BASE_MS", 500, { min: 0, integer: true }),
    uploadAttempts: num(env, "UPLOAD_ATTEMPTS", 3, { min: 1, integer: true }),
    retryAfterSeconds: num(env, "RETRY_AFTER_SECONDS", 15, { min: 1, integer: true }),
    tmpDir: tmpdir(),
    ffmpegPath: env.FFMPEG_PATH?.trim() || resolveBinary("ffmpeg", "@ffmpeg-installer/ffmpeg", env.PATH),
    ffprobePath: env.FFPROBE_PATH?.trim() || resolveBinary("ffprobe", "@ffprobe-installer/ffprobe", env.PATH),
    logJobs: !/^(0|false|no|off)$/i.test(env.LOG_JOBS?.trim() ?? ""),
  };
  return { ...base, ...overrides };
}

/** `name` when PATH has it; else the binary an npm installer package ships; else `name` (fails with ENOENT, reported at startup). */
export function resolveBinary(name: string, installer: string, path: string | undefined = process.env.PATH): string {
  if (onPath(name, path)) return name;
  try {
    const found = (createRequire(import.meta.url)(installer) as { path?: unknown }).path;
    if (typeof found === "string" && isExecutable(found)) return found;
  } catch {
    // Not installed (the container image): PATH it is.
  }
  return name;
}

function onPath(name: string, path: string | undefined): boolean {
  return (path ?? "").split(delimiter).some((dir) => dir !== "" && isExecutable(join(dir, name)));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
