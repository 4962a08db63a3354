/**
 * vitest globalSetup (runs in Node, not workerd): the real transcoder (transcoder/src/server.ts)
 * as a process for the run, on a free port (several vitest runs may share the machine). Tests
 * read its URL with `inject("transcoderUrl")` and hand it to the handlers in their own env, so
 * the Worker's configured TRANSCODER_URL (which other suites expect to be unreachable) is untouched.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    transcoderUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const root = path.resolve(import.meta.dirname, "../..");
  const child = spawn(process.execPath, ["--import", path.join(root, "scripts/lib/exit-with-parent.ts"), "src/server.ts"], {
    cwd: path.join(root, "transcoder"),
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: "0",
      // Jobs dispatched in tests cannot call back (the Worker under vitest has no HTTP port):
      // give up on the callback at once instead of retrying it.
      MAX_CONCURRENT_JOBS: "4",
      CALLBACK_ATTEMPTS: "1",
      LOG_JOBS: "0",
    },
  });
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: node starting a TypeScript entry and ffmpeg -version on a loaded 2-core machine.
    const timer = setTimeout(() => reject(new Error("transcoder did not start within 90 s")), 90_000);
    child.once("exit", (code) => reject(new Error(`transcoder exited early (${code})`)));
    // server.ts prints {"event":"listening","url":…} once bound.
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === "listening" && event.url) {
          clearTimeout(timer);
          resolve(event.url);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  project.provide("transcoderUrl", url);

  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
}
