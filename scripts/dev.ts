/**
 * `npm run dev`: the whole API locally on its defaults. Builds the static assets (the dashboard at
 * /app/), generates .dev.vars secrets on first run,
 * applies the local D1 migrations, seeds demo data into an empty database, starts the media
 * service (ffmpeg transcoder + large-image compressor) as a plain process, and serves the Worker
 * with wrangler dev on $PORT (default 8787).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { ensureDevVars, localBindings, migrateLocal } from "./lib/local";
import { seedIfEmpty } from "./seed";

const port = process.env.PORT ?? "8787";
const transcoderPort = process.env.TRANSCODER_PORT ?? "8788";

// The dashboard (public/app/) is static assets the Worker serves: build it before serving.
console.log("Building the dashboard…");
execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });

const vars = ensureDevVars();
console.log("Applying local D1 migrations…");
migrateLocal();
const proxy = await localBindings();
try {
  if (await seedIfEmpty(proxy.env.DB, vars.ENCRYPTION_KEYS ?? ""))
    console.log("Seeded demo data (npm run --silent token -- --role staff for a token).");
} finally {
  await proxy.dispose();
}

const children: ChildProcess[] = [];
const stop = (code = 0) => {
  for (const child of children) child.kill("SIGTERM");
  process.exit(code);
};
process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());

if (existsSync("transcoder/src/server.ts")) {
  const transcoder = spawn(process.execPath, ["src/server.ts"], {
    cwd: "transcoder",
    stdio: "inherit",
    env: { ...process.env, PORT: transcoderPort, HOST: "127.0.0.1" },
  });
  transcoder.on("exit", (code) => console.error(`media service exited (${code}); video and large-image jobs will retry until it is back`));
  children.push(transcoder);
}

const wrangler = spawn(
  "wrangler",
  [
    "dev",
    "--port",
    port,
    "--ip",
    "127.0.0.1",
    // No Docker locally: the media service is the plain process started above.
    "--var",
    "MEDIA_SERVICE:process",
    "--var",
    `TRANSCODER_URL:http://127.0.0.1:${transcoderPort}`,
    "--var",
    `PUBLIC_URL:http://127.0.0.1:${port}`,
    // Local webhook receivers (http://127.0.0.1:…) are allowed in development only.
    "--var",
    "WEBHOOKS_ALLOW_LOOPBACK:true",
  ],
  { stdio: "inherit" },
);
children.push(wrangler);
wrangler.on("exit", (code) => stop(code ?? 0));
