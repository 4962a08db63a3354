import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** A throwaway `wrangler dev` with its own local state and secrets, migrated. */
export async function startLocalApi(extraVars: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "propops-bench-"));
  const state = join(dir, "state");
  const envFile = join(dir, ".env");
  const keys = JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } });
  writeFileSync(envFile, `ENCRYPTION_KEYS='${keys}'\nSIGNING_SECRET='${randomBytes(32).toString("hex")}'\n`);
  execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    stdio: "ignore",
    env: { ...process.env, CI: "true" },
  });
  const port = await freePort();
  const vars = Object.entries({ PUBLIC_URL: `http://127.0.0.1:${port}`, ...extraVars }).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const child: ChildProcess = spawn(
    "wrangler",
    ["dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", state, "--env-file", envFile, "--log-level", "error", ...vars],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true" }, detached: true },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const sql = (command: string) =>
    execFileSync("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", command], {
      encoding: "utf8",
      env: { ...process.env, CI: "true" },
    });
  const stop = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, sql, stop, state };
}

export function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { median: at(0.5), p95: at(0.95) };
}

export async function time(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
