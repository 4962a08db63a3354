/**
 * The browser suite's local stack, started once for all its tests: the Worker bundled by a dry-run
 * deploy and served by `wrangler dev` (static assets included, so the dashboard is at /app/), the
 * transcoder process (Debian's ffmpeg), and a fresh local state dir seeded with the demo data.
 * Same set-up as test/e2e/media.e2e.test.ts, with ports picked free and everything removed after.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { freePort, sleep, stopGroup } from "../e2e/harness.ts";

const exec = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const WRANGLER_CLI = path.join(ROOT, "node_modules/wrangler/wrangler-dist/cli.js");
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");
const EXIT_WITH_PARENT = ["--import", path.join(ROOT, "test/exit-with-parent.ts")];

export interface Stack {
  url: string;
  tmp: string;
  tokens: { manager: string; staff: string; contractor: string };
  diagnostics: () => string;
  stop: () => Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const tmp = await mkdtemp(path.join(tmpdir(), "propops-browser-"));
  const logs: string[] = [];
  const diagnostics = () => `\n--- process output (last lines) ---\n${logs.slice(-60).join("\n")}`;
  const collect = (name: string, child: ChildProcess) => {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        logs.push(`[${name}] ${line}`);
        if (logs.length > 300) logs.shift();
      });
    }
  };
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => stopGroup(child)));
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    const persist = path.join(tmp, "state");
    await mkdir(path.join(tmp, "transcoder-tmp"));
    const [wport, tport, iport] = [await freePort(), await freePort(), await freePort()];
    const url = `http://127.0.0.1:${wport}`;
    const env = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false" };
    const wranglerCli = (args: string[]) => exec(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });

    const keys = JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } });
    const envFile = path.join(tmp, "browser.env");
    await writeFile(envFile, `ENCRYPTION_KEYS='${keys}'\nSIGNING_SECRET=${randomBytes(32).toString("hex")}\n`);
    const dist = path.join(tmp, "dist");
    await Promise.all([
      wranglerCli(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]),
      // Bundled once and served without watching, so edits elsewhere in the tree never reload it mid-test.
      wranglerCli(["deploy", "--dry-run", "--outdir", dist, "--containers-rollout=none"]),
    ]);
    const seeded = await exec(process.execPath, [TSX, path.join(ROOT, "test/browser/seed-state.ts"), persist], {
      cwd: ROOT,
      env: { ...env, ENCRYPTION_KEYS: keys, WRANGLER_LOG: "error" },
    });
    const tokens = JSON.parse(seeded.stdout.trim().split("\n").at(-1) ?? "{}") as Stack["tokens"];

    const transcoder = spawn(process.execPath, [...EXIT_WITH_PARENT, "src/server.ts"], {
      cwd: path.join(ROOT, "transcoder"),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(tport), MAX_CONCURRENT_JOBS: "1", TMPDIR: path.join(tmp, "transcoder-tmp") },
    });
    children.push(transcoder);
    collect("transcoder", transcoder);
    const wrangler = spawn(
      process.execPath,
      [
        ...EXIT_WITH_PARENT,
        WRANGLER_CLI,
        ...["dev", path.join(dist, "index.js"), "--no-bundle", "--config", path.join(ROOT, "wrangler.toml"), "--local"],
        ...["--ip", "127.0.0.1", "--port", String(wport), "--inspector-port", String(iport)],
        ...["--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false"],
        ...["--var", `PUBLIC_URL:${url}`, "--var", `TRANSCODER_URL:http://127.0.0.1:${tport}`, "--var", "MEDIA_SERVICE:process"],
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" },
      },
    );
    children.push(wrangler);
    collect("wrangler", wrangler);
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/app/`)).ok) break;
      } catch {
        // not listening yet
      }
      if (wrangler.exitCode !== null || Date.now() > deadline) throw new Error(`wrangler dev did not start${diagnostics()}`);
      await sleep(500);
    }
    return { url, tmp, tokens, diagnostics, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A short H.264/AAC clip of the test pattern, as a phone would record one (constant bitrate). */
export async function makeClip(file: string, seconds: number, size: string, kbps: number) {
  await exec("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-v", "error", "-y"],
    ...["-f", "lavfi", "-i", `testsrc=size=${size}:rate=30:duration=${seconds}`],
    ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    ...["-b:v", `${kbps}k`, "-minrate", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${kbps / 2}k`, "-x264-params", "nal-hrd=cbr"],
    ...["-c:a", "aac", "-shortest", file],
  ]);
}
