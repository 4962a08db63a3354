// Benchmark: single-decode split pipeline vs separate ffmpeg passes per output.
// Run: ../node_modules/.bin/node bench/transcode-bench.ts   (from transcoder/)
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Plan } from "../src/transcode.ts";
import { buildFfmpegArgs, encoderArgs, FFMPEG_QUIET, planOutputs, thumbnailArgs } from "../src/transcode.ts";

const exec = promisify(execFile);
const SECONDS = 10;
const REPEATS = 3;

async function time(args: string[]): Promise<number> {
  const t0 = performance.now();
  await exec("ffmpeg", args, { maxBuffer: 16 * 1024 * 1024 });
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const m = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  if (m === undefined) throw new Error("median of an empty list");
  return m;
}

/** The same per-rung settings as the service, one ffmpeg process per output. */
function separateArgs(src: string, dir: string, plan: Plan): string[][] {
  const runs = plan.rungs.map((r) => [
    ...FFMPEG_QUIET,
    "-i",
    src,
    "-vf",
    `scale=${r.width}:${r.outHeight}:flags=bicubic,setsar=1,format=yuv420p`,
    "-map",
    "0:v:0",
    "-map",
    "0:a:0",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    ...encoderArgs(r.maxrateKbps),
    join(dir, `sep-${r.name}.mp4`),
  ]);
  runs.push(thumbnailArgs(src, join(dir, "sep-thumb.jpg"), plan, plan.thumb.at));
  return runs;
}

const dir = await mkdtemp(join(tmpdir(), "transcode-bench-"));
try {
  const src = join(dir, "source.mp4");
  process.stdout.write(`generating ${SECONDS} s 1920x1080@30 clip with audio…\n`);
  await exec("ffmpeg", [
    ...FFMPEG_QUIET,
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=1920x1080:rate=30:duration=${SECONDS}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-crf",
    "16",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    src,
  ]);
  const plan = planOutputs(1920, 1080, SECONDS);

  const single: number[] = [];
  const separate: number[] = [];
  const thumbOnly: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    single.push(await time(buildFfmpegArgs(src, dir, plan, true)));
    let total = 0;
    for (const args of separateArgs(src, dir, plan)) total += await time(args);
    separate.push(total);
    thumbOnly.push(await time(thumbnailArgs(src, join(dir, "sep-thumb.jpg"), plan, plan.thumb.at)));
  }
  const a = median(single);
  const b = median(separate);
  const t = median(thumbOnly);
  const row = (name: string, s: number): string =>
    `${name.padEnd(46)} ${s.toFixed(2).padStart(7)} s ${(SECONDS / s).toFixed(2).padStart(6)}× realtime`;
  process.stdout.write(
    [
      "",
      `source: ${SECONDS} s 1080p30 + AAC, outputs: 1080p (4 Mbps cap) + 720p (2.5 Mbps cap) + 640px JPEG`,
      `median of ${REPEATS} runs, libx264 veryfast, CRF 23`,
      row("(a) single decode, split → 1080p+720p+thumb", a),
      row("(b) separate passes (1080p, 720p, thumb)", b),
      row("    thumbnail alone (-ss seek, 1 frame)", t),
      `ratio b/a: ${(b / a).toFixed(2)}`,
      `runs (s): a=[${single.map((x) => x.toFixed(2)).join(", ")}] b=[${separate.map((x) => x.toFixed(2)).join(", ")}]`,
      "",
    ].join("\n"),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
