/**
 * `npm test`: every check a change must pass — binding types in sync with wrangler.toml, the
 * type checks, lint, a dry-run deploy, the Worker suite inside workerd, the transcoder's own
 * suite with real ffmpeg, and the end-to-end suites (video pipeline, docs page in chromium,
 * OpenAPI lint). Three independent lanes run at once (most of the e2e time is waiting on the
 * video watchdog); each lane's output is printed whole when it ends, then one summary line.
 * The e2e files that need no special settings share one `wrangler dev` started here.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type LocalApi, startLocalApi } from "../test/e2e/harness.ts";

const tmp = mkdtempSync(join(tmpdir(), "propops-test-"));
const vitestJson = join(tmp, "vitest.json");
const runStarted = Date.now();
const secs = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

interface StepResult {
  ok: boolean;
  stdout: string;
}

/** Runs one command, its output (stdout and stderr) buffered into the lane's log. */
function run(log: string[], name: string, cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const started = Date.now();
  log.push(`\n▶ ${name}`);
  return new Promise<StepResult>((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, FORCE_COLOR: "0", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      output += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      output += d;
    });
    child.on("close", (code) => {
      const ok = code === 0;
      log.push(output.trimEnd(), `${ok ? "✔" : "✘"} ${name} (${secs(started)})`);
      console.log(`${ok ? "✔" : "✘"} ${name} (${secs(started)}, at ${secs(runStarted)})`);
      resolve({ ok, stdout });
    });
  });
}

let passed = 0;
let failed = 0;
const count = (res: StepResult) => {
  passed += Number(/^# pass (\d+)/m.exec(res.stdout)?.[1] ?? 0);
  failed += Number(/^# fail (\d+)/m.exec(res.stdout)?.[1] ?? (res.ok ? 0 : 1));
};

/** The dry-run's upload (modules and wasm, not source maps) stays within 1 MiB gzip. */
function bundleBudget(log: string[]) {
  const BUDGET = 1024 * 1024;
  const dist = join(tmp, "dist");
  const files = existsSync(dist) ? readdirSync(dist, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()) : [];
  const gz = files
    .filter((f) => !f.name.endsWith(".map"))
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(f.parentPath, f.name))).length, 0);
  const ok = gz > 0 && gz <= BUDGET;
  const line = `${ok ? "✔" : "✘"} bundle budget: ${(gz / 1024).toFixed(0)} KiB gzip of ${BUDGET / 1024} KiB`;
  log.push(line);
  console.log(line);
  if (!ok) failed += 1;
  return ok;
}

/** Lane 1: static checks, then the Worker suite in workerd. */
async function workerLane(log: string[]) {
  let ok = true;
  const checks: [string, string, string[]][] = [
    ["binding types match wrangler.toml (wrangler types --check)", "wrangler", ["types", "--include-runtime", "false", "--check"]],
    ["type check (tsc)", "tsc", ["--noEmit"]],
    ["type check dashboard (tsc)", "tsc", ["--noEmit", "-p", "dashboard"]],
    ...(existsSync("transcoder/tsconfig.json")
      ? [["type check transcoder (tsc)", "tsc", ["--noEmit", "-p", "transcoder"]] as [string, string, string[]]]
      : []),
    ["lint (biome)", "biome", ["check", "."]],
    [
      "dry-run deploy (wrangler deploy --dry-run)",
      "wrangler",
      ["deploy", "--dry-run", "--outdir", join(tmp, "dist"), "--containers-rollout=none"],
    ],
  ];
  for (const [name, cmd, args] of checks) ok = (await run(log, name, cmd, args)).ok && ok;
  ok = bundleBudget(log) && ok;
  // At a lower CPU priority: the transcoder suite beside it has tests timed in seconds (a job
  // timeout must strike while ffmpeg runs), the workerd suite only has generous per-test limits.
  const vitest = await run(log, "Worker tests in workerd (vitest)", "nice", [
    "-n",
    "5",
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${vitestJson}`,
  ]);
  ok = vitest.ok && ok;
  try {
    const report = JSON.parse(readFileSync(vitestJson, "utf8")) as { numPassedTests: number; numFailedTests: number };
    passed += report.numPassedTests;
    failed += report.numFailedTests;
  } catch {
    failed += 1; // no report: the suite did not run
  }
  return ok;
}

/** Lane 2: the transcoder's own suite (real ffmpeg: PATH, else the npm-installed static build). */
async function transcoderLane(log: string[]) {
  if (!existsSync("transcoder/test")) return true;
  const res = await run(log, "transcoder tests with ffmpeg (node --test)", process.execPath, ["--test", "test/*.test.ts"], {
    cwd: "transcoder",
  });
  count(res);
  return res.ok;
}

/** Lane 3: end to end against real processes; the files run concurrently (the media one mostly waits). */
async function e2eLane(log: string[]) {
  if (!existsSync("test/e2e")) return true;
  let shared: LocalApi | undefined;
  const started = Date.now();
  try {
    shared = await startLocalApi({ vars: { TRANSCODER_URL: "http://127.0.0.1:9" } });
    log.push(`(shared wrangler dev for the e2e files at ${shared.url}, up in ${secs(started)})`);
  } catch (err) {
    log.push(`✘ could not start the shared wrangler dev: ${err instanceof Error ? err.message : String(err)}`);
    failed += 1;
    return false;
  }
  try {
    const res = await run(
      log,
      "end-to-end tests (node --test test/e2e)",
      process.execPath,
      ["--test", "--test-concurrency=3", "test/e2e/**/*.test.ts"],
      { env: { E2E_API_URL: shared.url, E2E_API_TOKEN: shared.token } },
    );
    count(res);
    if (!res.ok) return false;
  } finally {
    await shared.stop();
  }
  if (!existsSync("test/browser")) return true;
  // Then the dashboard in Debian's chromium, against its own wrangler dev + transcoder with seeded data.
  const browser = await run(log, "browser tests (node --test test/browser)", process.execPath, ["--test", "test/browser/*.test.ts"]);
  count(browser);
  return browser.ok;
}

const lanes: [string, (log: string[]) => Promise<boolean>][] = [
  ["checks + Worker suite", workerLane],
  ["transcoder suite", transcoderLane],
  ["end-to-end suites", e2eLane],
];
console.log(`Running ${lanes.length} lanes at once: ${lanes.map(([n]) => n).join(", ")}`);
const results = await Promise.all(
  lanes.map(async ([name, lane]) => {
    const log: string[] = [];
    let ok = false;
    try {
      ok = await lane(log);
    } catch (err) {
      log.push(`✘ ${name} crashed: ${err instanceof Error ? err.stack : String(err)}`);
      failed += 1;
    }
    console.log(`\n━━━━ ${name}: ${ok ? "passed" : "FAILED"} ━━━━${log.join("\n")}`);
    return ok;
  }),
);

const allOk = results.every(Boolean);
console.log(`\n${passed} passed, ${failed} failed (${secs(runStarted)})`);
process.exit(allOk && failed === 0 && passed > 0 ? 0 : 1);
