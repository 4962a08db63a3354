/**
 * `npm test`: every check a change must pass, in order — binding types in sync with
 * wrangler.toml, the type check, lint, a dry-run deploy, the Worker suite inside workerd, and
 * the transcoder's own suite with real ffmpeg. Ends with one summary line.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const tmp = mkdtempSync(join(tmpdir(), "propops-test-"));
const vitestJson = join(tmp, "vitest.json");
let passed = 0;
let failed = 0;

function step(name: string, cmd: string, args: string[], opts: { cwd?: string; capture?: boolean } = {}) {
  const started = Date.now();
  console.log(`\n▶ ${name}`);
  const res = spawnSync(cmd, args, { stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit", cwd: opts.cwd, encoding: "utf8" });
  if (opts.capture && res.stdout) process.stdout.write(res.stdout);
  const ok = res.status === 0;
  console.log(`${ok ? "✔" : "✘"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return { ok, stdout: res.stdout ?? "" };
}

const checks: [string, string, string[]][] = [
  ["binding types match wrangler.toml (wrangler types --check)", "wrangler", ["types", "--include-runtime", "false", "--check"]],
  ["type check (tsc)", "tsc", ["--noEmit"]],
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
let allOk = true;
for (const [name, cmd, args] of checks) allOk = step(name, cmd, args).ok && allOk;

// Bundle budget: the dry-run's upload (modules and wasm, not source maps) at most 1 MiB gzip.
{
  const BUDGET = 1024 * 1024;
  const dist = join(tmp, "dist");
  const files = existsSync(dist) ? readdirSync(dist, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()) : [];
  const gz = files
    .filter((f) => !f.name.endsWith(".map"))
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(f.parentPath, f.name))).length, 0);
  const ok = gz > 0 && gz <= BUDGET;
  console.log(`\n${ok ? "✔" : "✘"} bundle budget: ${(gz / 1024).toFixed(0)} KiB gzip of ${BUDGET / 1024} KiB`);
  allOk = ok && allOk;
}

const vitest = step("Worker tests in workerd (vitest)", "vitest", [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${vitestJson}`,
]);
allOk = vitest.ok && allOk;
try {
  const report = JSON.parse(readFileSync(vitestJson, "utf8")) as { numPassedTests: number; numFailedTests: number };
  passed += report.numPassedTests;
  failed += report.numFailedTests;
} catch {
  failed += 1; // no report: the suite did not run
}

if (existsSync("transcoder/test")) {
  const transcoder = step("transcoder tests with ffmpeg (node --test)", process.execPath, ["--test", "test/*.test.ts"], {
    cwd: "transcoder",
    capture: true,
  });
  allOk = transcoder.ok && allOk;
  passed += Number(/^# pass (\d+)/m.exec(transcoder.stdout)?.[1] ?? 0);
  failed += Number(/^# fail (\d+)/m.exec(transcoder.stdout)?.[1] ?? (transcoder.ok ? 0 : 1));
}

if (existsSync("test/e2e")) {
  // End to end: wrangler dev + the transcoder process, a real upload through the queue.
  const e2e = step("end-to-end tests (node --test test/e2e)", process.execPath, ["--test", "test/e2e/**/*.test.ts"], { capture: true });
  allOk = e2e.ok && allOk;
  passed += Number(/^# pass (\d+)/m.exec(e2e.stdout)?.[1] ?? 0);
  failed += Number(/^# fail (\d+)/m.exec(e2e.stdout)?.[1] ?? (e2e.ok ? 0 : 1));
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(allOk && failed === 0 && passed > 0 ? 0 : 1);
