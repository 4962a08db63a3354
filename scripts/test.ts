/**
 * `npm test`: every check a change must pass — binding types in sync with wrangler.toml, the
 * type checks, lint, the layering rules (`npm run check:layers`), a dry-run deploy, the Worker suite inside workerd, the transcoder's own
 * suite with real ffmpeg, and the end-to-end suites (video pipeline, docs page in chromium,
 * OpenAPI lint). Three independent lanes run at once (most of the e2e time is waiting on the
 * video watchdog); each lane's output is printed whole when it ends, then a summary naming every
 * step's result, its counts (cancelled tests count as failed) and what was skipped and why, and
 * one closing line. A failing step never hides the ones after it: every suite runs.
 * Every step has a time limit (scripts/lib/run-step.ts) and the run one overall, well inside CI's
 * 90 min; what still runs is named every two minutes. The e2e files that need no special settings
 * share one `wrangler dev` started here.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { cliArgs } from "./lib/cli.ts";
import { type LocalApi, startLocalApi } from "./lib/local-api.ts";
import { running, runStep, type StepResult, secs } from "./lib/run-step.ts";
import { nodeTestCounts } from "./lib/test-summary.ts";

cliArgs(
  "npm test: every check and suite (types, lint, layering, dry-run deploy, the Worker suite in workerd, the transcoder suite, end-to-end and browser suites); one file: npm run vitest -- test/<file>.test.ts",
  {},
);
const tmp = mkdtempSync(join(tmpdir(), "propops-test-"));
const vitestJson = join(tmp, "vitest.json");
const runStarted = Date.now();
/** A step of a lane, its result line printed as it ends (with the time into the run). */
const run = (log: string[], name: string, cmd: string, args: string[], opts: Parameters<typeof runStep>[4]) =>
  runStep(log, name, cmd, args, { ...opts, onEnd: (line) => console.log(`${line} (at ${secs(runStarted)})`) });

/**
 * node's test runner: a test without its own limit gets 10 min, and a file whose tests have all
 * ended exits even if something it started (a timer, a socket, a loop) would keep it alive.
 */
const NODE_TEST = ["--test", "--test-force-exit", "--test-timeout=600000"];

let passed = 0;
let failed = 0;
/** One line per step for the summary: what ran, what it counted, what it skipped and why. */
const tally: string[] = [];
const note = (line: string) => tally.push(line);
/**
 * node --test's closing counts (scripts/lib/test-summary.ts). A cancelled test (its file timed out
 * or its process died) is a failure, never a silent gap; skipped and todo tests are named with
 * their reasons; a step killed before its counts is reported from the lines it printed.
 */
const count = (name: string, res: StepResult) => {
  const c = nodeTestCounts(name, res.stdout, res.ok);
  passed += c.pass;
  failed += c.failed;
  note(c.line);
};

/**
 * The dry-run's upload (modules and wasm, not source maps) stays within 1.5 MiB gzip: half the
 * Workers Free plan's 3 MB, so startup (1 s limit) stays quick; raised from 1 MiB for the MCP SDK,
 * resumable uploads and live events of this wave.
 */
function bundleBudget(log: string[]) {
  const BUDGET = 1536 * 1024;
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
  note(line);
  return ok;
}

/** Lane 1: static checks, then the Worker suite in workerd. */
async function workerLane(log: string[]) {
  let ok = true;
  const checks: [string, string, string[]][] = [
    ["binding types match wrangler.toml (wrangler types --check)", "wrangler", ["types", "--include-runtime", "false", "--check"]],
    ["type check (tsc)", "tsc", ["--noEmit"]],
    // The dashboard reads the Worker's types as declarations (dashboard/tsconfig.api.json): build them first.
    ["the Worker's API declarations for the dashboard (tsc -b)", "tsc", ["-b", "dashboard/tsconfig.api.json"]],
    ["type check dashboard (tsc)", "tsc", ["--noEmit", "-p", "dashboard"]],
    ...(existsSync("transcoder/tsconfig.json")
      ? [["type check transcoder (tsc)", "tsc", ["--noEmit", "-p", "transcoder"]] as [string, string, string[]]]
      : []),
    ["lint (biome)", "biome", ["check", "."]],
    [
      "layering: no import circles, a pure src/domain (dependency-cruiser)",
      "depcruise",
      ["src", "transcoder/src", "dashboard/src", "--config", ".dependency-cruiser.cjs"],
    ],
    ["layering: env bindings and the clock only in src/platform/services.ts (check-layers)", "tsx", ["scripts/check-layers.ts"]],
    [
      "dry-run deploy (wrangler deploy --dry-run)",
      "wrangler",
      ["deploy", "--dry-run", "--outdir", join(tmp, "dist"), "--containers-rollout=none"],
    ],
  ];
  for (const [name, cmd, args] of checks) {
    const res = await run(log, name, cmd, args, { limitMs: 600_000 });
    note(`${res.ok ? "✔" : "✘"} ${name}`);
    ok = res.ok && ok;
  }
  ok = bundleBudget(log) && ok;
  // At a lower CPU priority: the transcoder suite beside it has tests timed in seconds (a job
  // timeout must strike while ffmpeg runs), the workerd suite only has generous per-test limits.
  const vitest = await run(
    log,
    "Worker tests in workerd (vitest)",
    "nice",
    ["-n", "5", "vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${vitestJson}`],
    { limitMs: 1_800_000 },
  );
  ok = vitest.ok && ok;
  try {
    const report = JSON.parse(readFileSync(vitestJson, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests?: number;
      numTodoTests?: number;
      numTotalTests?: number;
      testResults?: { name: string; assertionResults?: { fullName: string; status: string }[] }[];
    };
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    // A suite that stopped early (a crashed worker) reports fewer passed + failed + skipped than it has.
    const lost = Math.max(0, (report.numTotalTests ?? 0) - report.numPassedTests - report.numFailedTests - skipped);
    failed += lost;
    note(
      `${vitest.ok ? "✔" : "✘"} Worker tests in workerd: ${report.numPassedTests} passed, ${report.numFailedTests} failed` +
        (lost ? `, ${lost} did not finish (counted as failed)` : "") +
        (skipped ? `, ${skipped} skipped` : ""),
    );
    // Named, with their files: a skipped test is a decision someone must be able to see.
    for (const file of report.testResults ?? [])
      for (const t of file.assertionResults ?? [])
        if (["skipped", "pending", "todo"].includes(t.status))
          note(`    - ${t.fullName} (${file.name.replace(`${process.cwd()}/`, "")}): ${t.status}`);
  } catch {
    failed += 1; // no report: the suite did not run
    note("✘ Worker tests in workerd: no report (the suite did not run)");
  }
  return ok;
}

/** Lane 2: the transcoder's own suite (real ffmpeg: PATH, else the npm-installed static build). */
async function transcoderLane(log: string[]) {
  if (!existsSync("transcoder/test")) {
    note("- transcoder tests: skipped (no transcoder/test)");
    return true;
  }
  const res = await run(log, "transcoder tests with ffmpeg (node --test)", process.execPath, [...NODE_TEST, "test/*.test.ts"], {
    cwd: "transcoder",
    limitMs: 900_000,
  });
  count("transcoder tests with ffmpeg", res);
  return res.ok;
}

/** Lane 3: end to end against real processes; the files run concurrently (the media one mostly waits). */
async function e2eLane(log: string[]) {
  let e2e = true;
  if (existsSync("test/e2e")) e2e = await e2eSuite(log);
  else note("- end-to-end tests: skipped (no test/e2e)");
  if (!existsSync("test/browser")) {
    note("- browser tests: skipped (no test/browser)");
    return e2e;
  }
  // Then the dashboard in Debian's chromium, against its own wrangler dev + transcoder with seeded
  // data; it runs whatever the e2e files answered, so one red suite never hides another.
  const browser = await run(log, "browser tests (node --test test/browser)", process.execPath, [...NODE_TEST, "test/browser/*.test.ts"], {
    limitMs: 900_000,
  });
  count("browser tests", browser);
  return e2e && browser.ok;
}

async function e2eSuite(log: string[]) {
  let shared: LocalApi | undefined;
  const started = Date.now();
  try {
    shared = await startLocalApi({ vars: { TRANSCODER_URL: "http://127.0.0.1:9" } });
    log.push(`(shared wrangler dev for the e2e files at ${shared.url}, up in ${secs(started)})`);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log.push(`✘ could not start the shared wrangler dev: ${why}`);
    note(`✘ end-to-end tests: not run (the shared wrangler dev did not start: ${why.split("\n")[0]})`);
    failed += 1;
    return false;
  }
  try {
    const res = await run(
      log,
      "end-to-end tests (node --test test/e2e)",
      process.execPath,
      [...NODE_TEST, "--test-concurrency=3", "test/e2e/**/*.test.ts"],
      { env: { E2E_API_URL: shared.url, E2E_API_TOKEN: shared.token }, limitMs: 1_200_000 },
    );
    count("end-to-end tests", res);
    return res.ok;
  } finally {
    await shared.stop();
  }
}

const lanes: [string, (log: string[]) => Promise<boolean>][] = [
  ["checks + Worker suite", workerLane],
  ["transcoder suite", transcoderLane],
  ["end-to-end suites", e2eLane],
];
console.log(`Running ${lanes.length} lanes at once: ${lanes.map(([n]) => n).join(", ")}`);
const logs = new Map<string, string[]>();

// What is still running, every two minutes: a slow or stuck step is named while it runs.
setInterval(() => {
  const steps = [...running].map(([name, step]) => `${name} (${secs(step.started)})`);
  if (steps.length > 0) console.log(`… at ${secs(runStarted)}, running: ${steps.join("; ")}`);
}, 120_000).unref();

/** Ends every step still running and prints what the unfinished lanes logged, then fails the run. */
function abandon(why: string) {
  for (const step of running.values()) step.kill();
  for (const [name, log] of logs) console.log(`\n━━━━ ${name}: unfinished ━━━━${log.join("\n")}`);
  console.log(`\n━━━━ summary so far ━━━━\n${tally.join("\n")}`);
  console.log(`\n✘ ${why} (${secs(runStarted)}); ${passed} passed, ${failed} failed before it`);
  setTimeout(() => process.exit(1), 6_000).unref();
}
// Each step has its own limit; this one catches whatever lies between steps (well inside CI's 90 min).
setTimeout(() => abandon("the run did not end within 60 min"), 3_600_000).unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abandon(`stopped by ${signal}`));

const results = await Promise.all(
  lanes.map(async ([name, lane]) => {
    const log: string[] = [];
    logs.set(name, log);
    let ok = false;
    try {
      ok = await lane(log);
    } catch (err) {
      log.push(`✘ ${name} crashed: ${err instanceof Error ? err.stack : String(err)}`);
      note(`✘ ${name}: crashed (${err instanceof Error ? err.message : String(err)})`);
      failed += 1;
    }
    logs.delete(name);
    console.log(`\n━━━━ ${name}: ${ok ? "passed" : "FAILED"} ━━━━${log.join("\n")}`);
    return ok;
  }),
);

const allOk = results.every(Boolean);
console.log(`\n━━━━ summary ━━━━\n${tally.join("\n")}`);
console.log(`\n${passed} passed, ${failed} failed (${secs(runStarted)})`);
process.exit(allOk && failed === 0 && passed > 0 ? 0 : 1);
