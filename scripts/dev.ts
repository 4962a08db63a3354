/**
 * `npm run dev` (after `npm run build`: the docs bundle, the dashboard at /app/): the whole API
 * locally on its defaults. Generates .dev.vars secrets on first run,
 * applies the local D1 migrations (only when one is missing), seeds demo data into an empty
 * database, starts the media service (ffmpeg transcoder + large-image compressor) as a plain
 * process on $TRANSCODER_PORT (default 8788), and serves the Worker with wrangler dev on $PORT
 * (default 8787). Wrangler's start-up chatter is filtered (errors and warnings pass); the last
 * lines say where the API and its docs are and how to get a token.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { cliArgs } from "./lib/cli.ts";
import { ensureDevVars } from "./lib/local";
import { openLocalD1 } from "./lib/local-db";
import { seedIfEmpty } from "./seed";

cliArgs(
  "npm run dev: the whole API locally (wrangler dev on $PORT, default 8787; the media service on $TRANSCODER_PORT, default 8788; $INSPECTOR_PORT for wrangler's inspector), migrated and seeded",
  {},
);
const port = process.env.PORT ?? "8787";
const transcoderPort = process.env.TRANSCODER_PORT ?? "8788";
const origin = `http://127.0.0.1:${port}`;

const vars = ensureDevVars();
const local = await openLocalD1();
try {
  if (await seedIfEmpty(local.asD1(), vars.ENCRYPTION_KEYS ?? "")) console.log("Seeded demo data into the local database.");
} finally {
  local.close();
}

const children: ChildProcess[] = [];
const stop = (code = 0) => {
  for (const child of children) child.kill("SIGTERM");
  process.exit(code);
};
process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());

/** Wrangler lines that say nothing a developer acts on (banners, binding tables, the offline cf fetch). */
const NOISE = [
  /^\s*$/,
  /^\s*⛅️ wrangler/,
  /^─+$/,
  /Your Worker has access to the following bindings/,
  /^Binding\s+Resource\s+Mode/,
  /^env\.\S+/,
  /^The following containers are available/,
  /^- \S+ \(.*Dockerfile\)/,
  /Using secrets defined in \.dev\.vars/,
  /Using vars defined in/,
  /^⎔ Starting local server/,
  /^⎔ Reloading local server/,
  /^⎔ Local server updated and ready/,
  /no such Durable Object class is exported from the worker/, // MediaContainer: containers are off locally
  /^\[wrangler:info\] (GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) /, // the Worker logs each request itself (JSON)
  /Ready on http/,
  /^⎔ Connection status updated/,
  // Cron: said once in the summary below instead of wrangler's four-line warning.
  /Scheduled Workers are not automatically triggered/,
  /^\s+To manually trigger a scheduled event, run:/,
  /^\s+curl "http.*\/cdn-cgi\/local\/scheduled"/,
  /^\s+For more details, see https:\/\/developers\.cloudflare\.com\/workers\/configuration\/cron-triggers/,
];

function pipe(name: string, child: ChildProcess, onLine: (line: string) => void = () => {}) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (raw) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes before matching
      const line = raw.replace(/\u001b\[[0-9;]*m/g, "");
      onLine(line);
      if (!NOISE.some((re) => re.test(line))) console.log(name ? `[${name}] ${line}` : line);
    });
  }
}

if (existsSync("transcoder/src/server.ts")) {
  const transcoder = spawn(process.execPath, ["src/server.ts"], {
    cwd: "transcoder",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: transcoderPort, HOST: "127.0.0.1", LOG_JOBS: process.env.LOG_JOBS ?? "1" },
  });
  pipe("media", transcoder);
  transcoder.on("exit", (code) => console.error(`media service exited (${code}); video and large-image jobs will retry until it is back`));
  children.push(transcoder);
}

let announced = false;
const wrangler = spawn(
  "wrangler",
  [
    "dev",
    ...["--port", port, "--ip", "127.0.0.1"],
    // No Docker locally: the media service is the plain process started above.
    ...["--var", "MEDIA_SERVICE:process", "--var", `TRANSCODER_URL:http://127.0.0.1:${transcoderPort}`, "--var", `PUBLIC_URL:${origin}`],
    ...(process.env.INSPECTOR_PORT ? ["--inspector-port", process.env.INSPECTOR_PORT] : []),
    "--show-interactive-dev-session=false",
    // Local webhook receivers (http://127.0.0.1:…) are allowed in development only.
    "--var",
    "WEBHOOKS_ALLOW_LOOPBACK:true",
  ],
  {
    stdio: ["ignore", "pipe", "pipe"],
    // Offline machines: use Miniflare's placeholder Request.cf instead of fetching it (a stack trace otherwise).
    env: {
      ...process.env,
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
      WRANGLER_SEND_METRICS: "false",
    },
  },
);
pipe("", wrangler, (line) => {
  if (announced || !/Ready on http/.test(line)) return;
  announced = true;
  console.log(
    [
      "",
      "PropOps Jobs API is running (Ctrl-C stops it)",
      `  API       ${origin}/api/  (OpenAPI: ${origin}/api/openapi.json)`,
      `  Docs      ${origin}/docs`,
      `  Health    ${origin}/health`,
      `  SLA cron  curl "${origin}/cdn-cgi/local/scheduled"   (not triggered automatically in dev)`,
      "  Token     npm run --silent token -- --role staff   (roles: admin, manager, staff, agent, contractor)",
      `  Try       curl -H "Authorization: Bearer $(npm run --silent token -- --role staff)" "${origin}/api/jobs/manage?action=list"`,
      "",
    ].join("\n"),
  );
});
children.push(wrangler);
wrangler.on("exit", (code) => stop(code ?? 0));
