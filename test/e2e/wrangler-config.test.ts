/**
 * wrangler.toml's rate limits are written twice: the [[ratelimits]] bindings enforce them, and the
 * RATE_LIMIT_* vars announce them in RateLimit-Policy (a binding's limit cannot be read at run
 * time). A limit changed in one place only would announce a policy that is not the one enforced.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "../../scripts/lib/local-api.ts";

const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");

/** The top-level [vars] value of NAME (quoted string). */
function topVar(name: string): number {
  const vars = toml.split(/^\[vars\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  const m = new RegExp(`^${name}\\s*=\\s*"(\\d+)"`, "m").exec(vars);
  assert.ok(m, `[vars] ${name} is missing`);
  return Number(m[1]);
}

/** The simple limit of the top-level [[ratelimits]] binding NAME. */
function binding(name: string): { limit: number; period: number } {
  const blocks = toml.split(/^\[\[ratelimits\]\]$/m).slice(1);
  const block = blocks.find((b) => new RegExp(`^name\\s*=\\s*"${name}"`, "m").test(b.split(/^\[/m)[0] ?? ""));
  assert.ok(block, `[[ratelimits]] ${name} is missing`);
  const m = /simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/.exec(block);
  assert.ok(m, `[[ratelimits]] ${name} has no simple = { limit, period }`);
  return { limit: Number(m[1]), period: Number(m[2]) };
}

test("the RATE_LIMIT_* vars announce the limits the [[ratelimits]] bindings enforce", () => {
  const pairs: [string, string][] = [
    ["RATE_LIMIT_PER_TOKEN", "RATE_LIMITER"],
    ["RATE_LIMIT_PER_ADDRESS", "RATE_LIMITER_ADDRESS"],
    ["RATE_LIMIT_UNVERIFIED", "RATE_LIMITER_UNVERIFIED"],
  ];
  const period = topVar("RATE_LIMIT_PERIOD_SECONDS");
  for (const [v, b] of pairs) {
    assert.deepEqual(binding(b), { limit: topVar(v), period }, `${v} and ${b} differ`);
  }
});
