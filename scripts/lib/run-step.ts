/**
 * One step of `npm test` (scripts/test.ts): a command in its own process group, its output
 * buffered into its lane's log. A step that outlives its limit is killed with its whole group and
 * fails, so a hang anywhere (a test, a child it left behind) ends as a red line with the output so
 * far, never as a run that only stops at CI's own time limit.
 */
import { spawn } from "node:child_process";

export interface StepResult {
  ok: boolean;
  stdout: string;
}

export const secs = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

/** Steps running now (name → start), for the heartbeat and the overall deadline. */
export const running = new Map<string, { started: number; kill: () => void }>();

/** Runs `cmd` as the step `name`; `log` gets its whole output and its result line. */
export function runStep(
  log: string[],
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; limitMs: number; onEnd?: (line: string) => void },
) {
  const started = Date.now();
  log.push(`\n▶ ${name}`);
  return new Promise<StepResult>((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, FORCE_COLOR: "0", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let output = "";
    let timedOut = false;
    let settled = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const kill = () => {
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), 5_000).unref();
      // Its output pipes may be held open by a grandchild that ignores both: do not wait on them.
      setTimeout(() => finish(null), 10_000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.limitMs);
    running.set(name, { started, kill });
    const finish = (code: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(name);
      const ok = code === 0 && !timedOut;
      const why = timedOut ? `: still running after ${opts.limitMs / 1000} s, killed (its output so far is above)` : "";
      const line = `${ok ? "✔" : "✘"} ${name} (${secs(started)})${why}`;
      log.push(output.trimEnd(), line);
      opts.onEnd?.(line);
      resolve({ ok, stdout });
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      output += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      output += d;
    });
    child.on("error", (err) => {
      output += `\n${err.message}`;
      finish(null);
    });
    child.on("close", (code) => finish(code));
  });
}
