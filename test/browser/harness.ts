/**
 * The browser suite's local stack, started once for all its tests: the Worker bundled by a dry-run
 * deploy and served by `wrangler dev` (static assets included, so the dashboard is at /app/), the
 * transcoder process (Debian's ffmpeg), and a fresh local state dir seeded with the demo data.
 * Started by the shared e2e harness (scripts/lib/local-api.ts), with the demo seed; removed after.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, type LocalApi, Logs, ROOT, startLocalApi, startTranscoder, stopGroup } from "../../scripts/lib/local-api.ts";

export { makeClip, ROOT } from "../../scripts/lib/local-api.ts";

const exec = promisify(execFile);
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");

export interface Stack {
  url: string;
  tmp: string;
  tokens: { manager: string; staff: string; contractor: string };
  diagnostics: () => string;
  stop: () => Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const tmp = await mkdtemp(path.join(tmpdir(), "propops-browser-"));
  const logs = new Logs();
  const diagnostics = () => logs.tail(60);
  let transcoder: ChildProcess | undefined;
  let api: LocalApi | undefined;
  const stop = async () => {
    await Promise.all([stopGroup(transcoder), api?.stop()]);
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    await mkdir(path.join(tmp, "transcoder-tmp"));
    const tport = await freePort();
    transcoder = await startTranscoder({
      port: tport,
      tmpdir: path.join(tmp, "transcoder-tmp"),
      logs,
      env: { MAX_CONCURRENT_JOBS: "1" },
    });
    // The demo data (test/browser/seed-state.ts), sealed with the key ring the Worker is given.
    const keys = JSON.stringify({ active: "k1", keys: { k1: randomBytes(32).toString("base64") } });
    let tokens = {} as Stack["tokens"];
    api = await startLocalApi({
      logs,
      encryptionKeys: keys,
      vars: { TRANSCODER_URL: `http://127.0.0.1:${tport}` },
      prepare: async (persist) => {
        const seeded = await exec(process.execPath, [TSX, path.join(ROOT, "test/browser/seed-state.ts"), persist], {
          cwd: ROOT,
          env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", ENCRYPTION_KEYS: keys, WRANGLER_LOG: "error" },
          timeout: 300_000,
        });
        tokens = JSON.parse(seeded.stdout.trim().split("\n").at(-1) ?? "{}") as Stack["tokens"];
      },
    });
    return { url: api.url, tmp, tokens, diagnostics, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
