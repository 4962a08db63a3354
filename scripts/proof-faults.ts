/**
 * `npm run proof:faults`: the proof under faults of issue 12, in its short form.
 *
 * 1. The fault suite inside workerd (test/suites/faults.test.ts, real local D1/R2, faults injected by
 *    wrapping bindings): consumer throws once / always, R2 and D1 failing after one another on
 *    uploads, compression, note files, deletes and the video callback, duplicate deliveries of
 *    every media message type, a transcoder that never reports back. `npm test` runs the same file.
 * 2. The end-to-end "transcoder killed mid-job" test (test/e2e/media.e2e.test.ts: wrangler dev plus
 *    the real transcoder, SIGKILLed mid-job; the watchdog re-dispatches and the video completes).
 *
 * Then one summary: scenarios run, and the integrity checker's counts summed over every check
 * (orphan objects, dangling rows, dangling events, unsettled media), which must all be zero.
 * Exit code 0 only if both parts passed and every count is zero.
 */
import { spawn } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import { cliArgs } from "./lib/cli.ts";

cliArgs("npm run proof:faults: the fault suite in workerd and the transcoder-killed end-to-end test, with one integrity summary", {});

const KILL_TEST = "a transcoder killed mid-job";

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const take = (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    // Colour codes out, whatever the reporter did with NO_COLOR.
    child.on("close", (code) => resolve({ code: code ?? 1, out: stripVTControlCharacters(out) }));
  });
}

interface Check {
  scenario: string;
  orphans: number;
  dangling: number;
  danglingEvents: number;
  unsettled: number;
}

const suite = await run("vitest", ["run", "test/suites/faults.test.ts"]);
const checks: Check[] = [...suite.out.matchAll(/\[faults\] (\{.*\})$/gm)].map((m) => JSON.parse(m[1] ?? "{}") as Check);
const queue = /\[faults-queue\] (\{.*\})$/m.exec(suite.out)?.[1];
const passed = Number(/Tests\s+(\d+) passed/.exec(suite.out)?.[1] ?? 0);
const failed = Number(/(\d+) failed/.exec(/Tests\s+.*$/m.exec(suite.out)?.[0] ?? "")?.[1] ?? 0);

const e2e = await run("node", ["--test", `--test-name-pattern=${KILL_TEST}`, "test/e2e/media.e2e.test.ts"]);
const e2ePass = Number(/^# pass (\d+)/m.exec(e2e.out)?.[1] ?? 0);
const e2eFail = Number(/^# fail (\d+)/m.exec(e2e.out)?.[1] ?? 0);

const sum = (k: keyof Omit<Check, "scenario">) => checks.reduce((n, c) => n + c[k], 0);
const totals = { orphans: sum("orphans"), dangling: sum("dangling"), danglingEvents: sum("danglingEvents"), unsettled: sum("unsettled") };
const ok = suite.code === 0 && e2e.code === 0 && e2ePass >= 1 && checks.length > 0 && Object.values(totals).every((n) => n === 0);

console.log("\n── proof under faults ──────────────────────────────────────────────");
console.log(`fault scenarios (workerd):      ${passed} passed, ${failed} failed; ${checks.length} integrity checks`);
if (queue) console.log(`queue deliveries played:        ${queue}`);
console.log(`transcoder killed mid-job (e2e): ${e2ePass} passed, ${e2eFail} failed`);
console.log(`orphan objects:                 ${totals.orphans}`);
console.log(`rows pointing at nothing:       ${totals.dangling}`);
console.log(`events about missing records:   ${totals.danglingEvents}`);
console.log(`unsettled photos/videos:        ${totals.unsettled}`);
console.log(ok ? "✔ proof under faults holds" : "✘ proof under faults FAILED");
process.exit(ok ? 0 : 1);
