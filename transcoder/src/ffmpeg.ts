// Spawn helpers for ffmpeg/ffprobe: bounded output capture, SIGKILL on abort,
// and a registry of live children so shutdown can kill them.

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";

const liveChildren = new Set<ChildProcess>();

/** Number of ffmpeg/ffprobe processes currently running. */
export function liveChildCount(): number {
  return liveChildren.size;
}

/** SIGKILL every running child (used on shutdown). */
export function killAllChildren(): void {
  for (const child of liveChildren) child.kill("SIGKILL");
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const MAX_STDOUT = 8 * 1024 * 1024;
const MAX_STDERR_TAIL = 32 * 1024;

/**
 * Run a process to completion. If `signal` aborts, the process gets SIGKILL and the
 * promise rejects with `signal.reason` — but only after the process has exited, so
 * callers can safely delete its working files afterwards.
 */
export function runProcess(cmd: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    liveChildren.add(child);
    let stdout = "";
    let stderr = "";
    let stdoutOverflow = false;
    const onAbort = (): void => {
      child.kill("SIGKILL");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => {
      if (stdout.length + d.length > MAX_STDOUT) stdoutOverflow = true;
      else stdout += d;
    });
    child.stderr?.on("data", (d: string) => {
      stderr += d;
      if (stderr.length > 2 * MAX_STDERR_TAIL) stderr = stderr.slice(-MAX_STDERR_TAIL);
    });
    const done = (): void => {
      liveChildren.delete(child);
      signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (err) => {
      done();
      reject(err);
    });
    child.on("close", (code, sig) => {
      done();
      if (signal?.aborted) reject(signal.reason);
      else if (stdoutOverflow) reject(new Error(`${cmd}: output larger than ${MAX_STDOUT} bytes`));
      else resolve({ code, signal: sig, stdout, stderr });
    });
  });
}

/** Last non-empty lines of ffmpeg's stderr, for error messages. */
export function stderrTail(stderr: string, lines = 3): string {
  return stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(" | ")
    .slice(0, 500);
}

export interface ProbeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  duration?: string;
  bit_rate?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: Array<Record<string, unknown>>;
}

export interface ProbeFormat {
  format_name?: string;
  duration?: string;
  size?: string;
  bit_rate?: string;
}

export interface ProbeResult {
  streams: ProbeStream[];
  format: ProbeFormat;
}

/** ffprobe could not read a file; `stderr` is what it printed (transcode.ts `probeFailure` explains it). */
export class ProbeError extends Error {
  override readonly name = "ProbeError";
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.stderr = stderr;
  }
}

/** `ffprobe -print_format json -show_streams -show_format`; throws ProbeError if ffprobe cannot read it. */
export async function ffprobe(ffprobePath: string, file: string, signal?: AbortSignal): Promise<ProbeResult> {
  const r = await runProcess(ffprobePath, ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", file], signal);
  if (r.code !== 0) throw new ProbeError(`ffprobe exited with ${r.code ?? r.signal}: ${stderrTail(r.stderr)}`, r.stderr);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new ProbeError("ffprobe printed invalid JSON", r.stderr);
  }
  const obj = (parsed ?? {}) as Partial<ProbeResult>;
  return { streams: Array.isArray(obj.streams) ? obj.streams : [], format: obj.format ?? {} };
}

/** First line of `ffmpeg -version`, e.g. "ffmpeg version 5.1.9-0+deb12u1 ...". */
export async function ffmpegVersion(ffmpegPath: string): Promise<string> {
  const r = await runProcess(ffmpegPath, ["-hide_banner", "-version"]);
  if (r.code !== 0) throw new Error(`ffmpeg -version exited with ${r.code}`);
  return (r.stdout.split("\n")[0] ?? "").trim();
}
