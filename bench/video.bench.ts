/**
 * Video bench: the transcoder service end to end through its HTTP API (POST /v1/videos/transcode
 * → download from a local storage server → ffmpeg → PUT the outputs → callback), on a 10 s
 * 1080p30 clip with audio, against realtime. Then the transcoder's own bench
 * (transcoder/bench/transcode-bench.ts): the service's single-decode pipeline against one ffmpeg
 * pass per output.
 *
 * Run: tsx bench/video.bench.ts   (BENCH_REPEATS=n, default 3; ffmpeg on PATH)
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const SECONDS = 10;
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3) || 3);
const OUTPUTS = ["1080p", "720p", "thumbnail"] as const;

interface Result {
  status: string;
  error?: string;
  variants?: Record<string, { width: number; height: number; bitrate: number; size: number }>;
  thumbnail?: { width: number; height: number; size: number };
  timings?: { download_ms: number; transcode_ms: number; upload_ms: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function body(req: IncomingMessage) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const dir = await mkdtemp(path.join(tmpdir(), "propops-video-bench-"));
let transcoder: ChildProcess | undefined;
const storage = createServer();
try {
  const src = path.join(dir, "source.mp4");
  process.stdout.write(`generating a ${SECONDS} s 1920x1080@30 clip with audio…\n`);
  await exec("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-v", "error", "-y"],
    ...["-f", "lavfi", "-i", `testsrc2=size=1920x1080:rate=30:duration=${SECONDS}`],
    ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac", src],
  ]);
  const sourceSize = (await stat(src)).size;

  // The storage side the Worker plays in production (signed GET/PUT URLs, the callback).
  const waiting = new Map<string, (r: Result) => void>();
  storage.on("request", async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.pathname === "/source") {
      res.writeHead(200, { "content-type": "video/mp4", "content-length": String(sourceSize) });
      createReadStream(src).pipe(res);
      return;
    }
    if (req.method === "PUT" && url.pathname.startsWith("/out/")) {
      await writeFile(path.join(dir, `out-${path.basename(url.pathname)}`), await body(req));
      res.writeHead(201).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/callback") {
      const result = JSON.parse((await body(req)).toString("utf8")) as Result & { job_id: string };
      res.writeHead(200).end();
      waiting.get(result.job_id)?.(result);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => storage.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;

  transcoder = spawn(process.execPath, ["--import", path.join(ROOT, "scripts/lib/exit-with-parent.ts"), "src/server.ts"], {
    cwd: path.join(ROOT, "transcoder"),
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_JOBS: "1", TMPDIR: dir },
  });
  const stdout = transcoder.stdout;
  if (!stdout) throw new Error("transcoder stdout is not piped");
  const serviceUrl = await new Promise<string>((resolve, reject) => {
    transcoder?.once("exit", (code) => reject(new Error(`transcoder exited (${code})`)));
    createInterface({ input: stdout }).on("line", (line) => {
      const event = JSON.parse(line) as { event?: string; url?: string };
      if (event.event === "listening" && event.url) resolve(event.url);
    });
  });

  const runs: { wall: number; result: Result }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const jobId = `bench-${i}`;
    const done = new Promise<Result>((r) => waiting.set(jobId, r));
    const t0 = performance.now();
    const res = await fetch(`${serviceUrl}/v1/videos/transcode`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        job_id: jobId,
        attempt: 1,
        source_url: `${base}/source`,
        outputs: Object.fromEntries(OUTPUTS.map((o) => [o, { put_url: `${base}/out/${o}` }])),
        callback_url: `${base}/callback`,
      }),
    });
    if (res.status !== 202) throw new Error(`transcoder answered ${res.status}: ${await res.text()}`);
    const result = await done;
    const wall = (performance.now() - t0) / 1000;
    if (result.status !== "completed") throw new Error(`job failed: ${result.error}`);
    runs.push({ wall, result });
    process.stdout.write(`  run ${i + 1}: ${wall.toFixed(2)} s\n`);
  }

  const wall = median(runs.map((r) => r.wall));
  const transcode = median(runs.map((r) => (r.result.timings?.transcode_ms ?? Number.NaN) / 1000));
  const last = runs.at(-1)?.result;
  const kb = (n: number | undefined) => `${((n ?? 0) / 1024).toFixed(0)} KiB`;
  process.stdout.write(
    [
      "",
      `source: ${SECONDS} s 1080p30 + AAC, ${kb(sourceSize)}; median of ${REPEATS} runs`,
      `service end to end (HTTP in → callback): ${wall.toFixed(2)} s = ${(SECONDS / wall).toFixed(2)}× realtime`,
      `  of which probe + ffmpeg + output probes: ${transcode.toFixed(2)} s (${(SECONDS / transcode).toFixed(2)}× realtime)`,
      `outputs: 1080p ${last?.variants?.["1080p"]?.width}x${last?.variants?.["1080p"]?.height} ${kb(last?.variants?.["1080p"]?.size)} ` +
        `@ ${((last?.variants?.["1080p"]?.bitrate ?? 0) / 1e6).toFixed(2)} Mbps; ` +
        `720p ${last?.variants?.["720p"]?.width}x${last?.variants?.["720p"]?.height} ${kb(last?.variants?.["720p"]?.size)} ` +
        `@ ${((last?.variants?.["720p"]?.bitrate ?? 0) / 1e6).toFixed(2)} Mbps; thumbnail ${last?.thumbnail?.width}x${last?.thumbnail?.height} ${kb(last?.thumbnail?.size)}`,
      "",
      "single decode (the service's pipeline) vs one ffmpeg pass per output — transcoder/bench/transcode-bench.ts:",
      "",
    ].join("\n"),
  );
} finally {
  if (transcoder && transcoder.exitCode === null) {
    const exited = new Promise((r) => transcoder?.once("exit", r));
    transcoder.kill("SIGTERM");
    await exited;
  }
  storage.close();
  await rm(dir, { recursive: true, force: true });
}

// The passes comparison is the transcoder's own bench: same clip recipe, same encoder settings.
const passes = spawn(process.execPath, ["bench/transcode-bench.ts"], { cwd: path.join(ROOT, "transcoder"), stdio: "inherit" });
const code = await new Promise<number | null>((r) => passes.once("exit", r));
process.exitCode = code ?? 1;
