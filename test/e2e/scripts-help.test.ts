/**
 * Every script answers `--help` with its usage (exit 0) and an unknown option with the usage and
 * exit 2, never a stack trace (`npm run token -- --help` used to crash).
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

const SCRIPTS = [
  "scripts/token.ts",
  "scripts/rotate-keys.ts",
  "scripts/gen-estate.ts",
  "scripts/gen-http.ts",
  "scripts/build-client.ts",
  "scripts/seed.ts",
  "scripts/dev.ts",
  "scripts/test.ts",
  "scripts/proof-load.ts",
  "scripts/proof-faults.ts",
  "bench/run.ts",
  "bench/webhooks.bench.ts",
];

const run = (file: string, arg: string) =>
  spawnSync("tsx", [file, arg], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_NO_WARNINGS: "1" } });

for (const file of SCRIPTS) {
  test(`${file} --help prints its usage`, () => {
    const res = run(file, "--help");
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /npm (run|test)/);
    assert.doesNotMatch(res.stdout + res.stderr, /\n\s+at /, "no stack trace");
  });
  test(`${file} refuses an unknown option with the usage`, () => {
    const res = run(file, "--no-such-option");
    assert.equal(res.status, 2, res.stdout + res.stderr);
    assert.match(res.stderr, /Unknown option '--no-such-option'/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, "no stack trace");
  });
}
