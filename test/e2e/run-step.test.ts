/**
 * The step runner of `npm test` (scripts/lib/run-step.ts): a step that hangs, or that leaves a
 * child holding its output open, is killed at its limit and reported as failed with its output,
 * instead of keeping the whole run waiting until CI's own time limit.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { running, runStep } from "../../scripts/lib/run-step.ts";

/** Running, not gone or a zombie (a killed orphan waits for init to reap it, which may take a while). */
const alive = (pid: number) => {
  try {
    const state = /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
    return state !== undefined && state !== "Z" && state !== "X";
  } catch {
    return false; // no such process
  }
};

test("a step that ends is reported with its output and exit status", { timeout: 30_000 }, async () => {
  const log: string[] = [];
  const ok = await runStep(log, "says hello", "sh", ["-c", "echo hello; echo oops >&2"], { limitMs: 10_000 });
  assert.equal(ok.ok, true);
  assert.equal(ok.stdout, "hello\n");
  assert.match(log.join("\n"), /hello\noops\n✔ says hello/);
  const failed = await runStep(log, "fails", "sh", ["-c", "exit 3"], { limitMs: 10_000 });
  assert.equal(failed.ok, false);
  assert.match(log.at(-1) ?? "", /^✘ fails \(/);
});

test("a step past its limit is killed with the children it left holding its output, and fails", { timeout: 60_000 }, async () => {
  const log: string[] = [];
  const lines: string[] = [];
  // The shell starts a background sleeper that keeps stdout open, prints its pid, then hangs too.
  const started = Date.now();
  const res = await runStep(log, "hangs", "sh", ["-c", "sleep 300 & echo child $!; sleep 300"], {
    limitMs: 1_000,
    onEnd: (line) => lines.push(line),
  });
  assert.equal(res.ok, false);
  assert.ok(Date.now() - started < 20_000, "ended soon after its limit");
  assert.match(lines[0] ?? "", /^✘ hangs \(.*\): still running after 1 s, killed/);
  const pid = Number(/child (\d+)/.exec(res.stdout)?.[1]);
  assert.ok(pid > 0, res.stdout);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(pid), false, "the background child went with its group");
  assert.equal(running.size, 0);
});
