/**
 * The summary `npm test` prints for a node --test step (scripts/lib/test-summary.ts), read from a
 * real node --test run of a small file: failed and cancelled tests count as failed, skipped and
 * todo tests are named with their reasons, and a step killed before its closing counts is red.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runStep } from "../../scripts/lib/run-step.ts";
import { nodeTestCounts } from "../../scripts/lib/test-summary.ts";

/** node --test as npm test runs it: a top-level run, not a child reporting to this file's runner. */
const nodeTest = (args: string[]) => ["-u", "NODE_TEST_CONTEXT", process.execPath, "--test", ...args];
const dir = mkdtempSync(join(tmpdir(), "propops-summary-"));
const file = (name: string, body: string) => {
  const path = join(dir, name);
  writeFileSync(path, `import { test } from "node:test";\n${body}\n`);
  return path;
};

test("passed, failed, cancelled, skipped and todo tests as the summary names them", { timeout: 60_000 }, async () => {
  const path = file(
    "mixed.test.mjs",
    [
      'test("adds", () => {});',
      'test("breaks", () => { throw new Error("red"); });',
      'test("needs chromium", { skip: "no /usr/bin/chromium on this machine" }, () => {});',
      'test("later", { todo: "after the lifecycle lands" }, () => {});',
      // A subtest left running when its parent ends is cancelled: it must not vanish from the count.
      'test("parent", (t) => { t.test("orphan", () => new Promise((r) => setTimeout(r, 5_000))); });',
    ].join("\n"),
  );
  const res = await runStep([], "mixed", "env", nodeTest(["--test-force-exit", path]), { limitMs: 50_000 });
  assert.equal(res.ok, false);
  const c = nodeTestCounts("mixed", res.stdout, res.ok);
  assert.ok(c.cancelled >= 1, res.stdout);
  assert.ok(c.failed >= 2, "the failure and the cancelled subtest both count");
  assert.match(c.line, /^✘ mixed: \d+ passed, \d+ failed, \d+ cancelled \(counted as failed\), 2 skipped:/);
  assert.match(c.line, /- needs chromium: no \/usr\/bin\/chromium on this machine/);
  assert.match(c.line, /- later: after the lifecycle lands/);
});

test("a green run with nothing skipped reads as one clean line", { timeout: 60_000 }, async () => {
  const path = file("green.test.mjs", 'test("a", () => {});\ntest("b", () => {});');
  const res = await runStep([], "green", "env", nodeTest([path]), { limitMs: 50_000 });
  assert.equal(res.ok, true);
  assert.deepEqual(nodeTestCounts("green", res.stdout, res.ok), {
    pass: 2,
    failed: 0,
    cancelled: 0,
    skipped: [],
    line: "✔ green: 2 passed, 0 failed",
  });
});

test("a step killed at its limit before its closing counts is red, with what it printed", { timeout: 60_000 }, async () => {
  const path = file("hangs.test.mjs", 'test("quick", () => {});\ntest("hangs", () => new Promise(() => setInterval(() => {}, 1000)));');
  const res = await runStep([], "hangs", "env", nodeTest([path]), { limitMs: 4_000 });
  assert.equal(res.ok, false);
  const c = nodeTestCounts("hangs", res.stdout, res.ok);
  assert.ok(c.failed >= 1);
  assert.match(c.line, /^✘ hangs: /);
  assert.match(c.line, /the step itself failed/);
});
