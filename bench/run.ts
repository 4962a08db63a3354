/**
 * `npm run bench [-- name…]`: runs the benchmarks (all, or those named): api, photos, video, webhooks, live.
 * Each prints its figures against a baseline measured in the same run.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cliArgs } from "../scripts/lib/cli.ts";

const benches: Record<string, string> = {
  api: "bench/api.bench.ts",
  photos: "bench/photo-compress.bench.ts",
  video: "bench/video.bench.ts",
  webhooks: "bench/webhooks.bench.ts",
  live: "bench/live.bench.ts",
};
const { positionals: wanted } = cliArgs(
  `npm run bench [-- name…]: runs the benchmarks (all, or those named: ${Object.keys(benches).join(", ")}), each against a baseline measured in the same run`,
  {},
  { positionals: true },
);
const names = wanted.length > 0 ? wanted : Object.keys(benches);
let failed = false;
for (const name of names) {
  const file = benches[name];
  if (!file) {
    console.error(`unknown bench "${name}"; choose from ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
  if (!existsSync(file)) continue;
  console.log(`\n=== ${name} (${file})`);
  const res = spawnSync("tsx", [file], { stdio: "inherit" });
  failed ||= res.status !== 0;
}
process.exit(failed ? 1 : 0);
