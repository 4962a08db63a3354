/**
 * The short form of `npm run proof:load` (scripts/proof-load.ts) that `npm test` runs: 50 clients
 * for 10 s against its own `wrangler dev`, with the restart on a new key ring and the rotation
 * under load. It asserts what the proof reports (no 5xx, no lost write, counts adding up, nothing
 * left on the old key, no private value in clear on disk), never how fast it went.
 *
 * Run: node --test test/e2e/proof-load.test.ts   (Node ≥ 22.12; about 50 s, mostly wrangler's two starts).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "../../scripts/lib/local-api.ts";
import { runProofLoad } from "../../scripts/proof-load.ts";

test("under load (50 clients, 10 s) with a key rotation while serving: no 5xx, no lost write, counts add up, no plaintext on disk", {
  timeout: 300_000,
}, async () => {
  const lines: string[] = [];
  const summary = await runProofLoad({
    seconds: 10,
    clients: 50,
    out: path.join(ROOT, "test-output/proof-load-short.json"),
    log: (line) => lines.push(line),
  });
  const report = `\n${lines.join("\n")}`;
  assert.deepEqual(summary.failures, [], report);
  assert.equal(summary.passed, true, report);
  const errors = Object.entries(summary.statuses).filter(([status]) => status === "0" || Number(status) >= 500);
  assert.deepEqual(errors, [], `no 5xx and no dropped connection${report}`);
  assert.ok(summary.writes.acknowledged > 0, `some writes were acknowledged${report}`);
  assert.equal(summary.writes.verified, summary.writes.acknowledged, report);
  assert.ok(summary.counts.checked > 0 && summary.counts.mismatched === 0, report);
  assert.ok(summary.rotation.rounds > 0 && summary.rotation.rotated > 0, `the rotation re-encrypted values${report}`);
  assert.equal(summary.rotation.valuesOnOldKey, 0, report);
  assert.ok(summary.rotation.valuesOpened > 0, report);
  assert.equal(summary.scan.plaintextHits, 0, report);
  assert.ok(
    summary.scan.d1Bytes.sqlite > 0 && summary.scan.selfCheckHits > 0,
    `the scan read the database and found the clear-text self-check markers${report}`,
  );
});
