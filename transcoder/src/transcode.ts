// The video job: validate request → download → probe → one ffmpeg run (decode once,
// split to every rung + thumbnail) → probe outputs → upload → callback.
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeIssues, TranscodeRequest } from "@propops/media-core/contract";
import type { Config } from "./config.ts";
import { errorMessage, JobError, toJobError } from "./errors.ts";
import type { ProbeResult } from "./ffmpeg.ts";
import { ffprobe, ProbeError, runProcess, stderrTail } from "./ffmpeg.ts";
import { downloadToFile, postCallback, uploadFile } from "./http-io.ts";

export const TEMP_PREFIX = "propops-transcode-";

/**
 * Remove temp dirs left by a previous process that died without cleaning up (SIGKILL, OOM).
 * Only dirs older than the job timeout (+1 min) are touched, so a live job is never hit.
 * Returns the names removed.
 */
export async function sweepStaleTempDirs(config: Config, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(config.tmpDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const p = join(config.tmpDir, name);
    try {
      const st = await stat(p);
      if (st.isDirectory() && now - st.mtimeMs > (config.jobTimeoutSeconds + 60) * 1000) {
        await rm(p, { recursive: true, force: true });
        removed.push(name);
      }
    } catch {
      // raced with another cleaner; ignore
    }
  }
  return removed;
}

// ---------------------------------------------------------------- request

export type { TranscodeRequest };

export type OutputName = "1080p" | "720p" | "thumbnail";

/** The request, checked with the wire format the Worker builds it from (src/media/contract.ts). */
export function validateTranscodeRequest(body: unknown): { ok: true; value: TranscodeRequest } | { ok: false; error: string } {
  const parsed = TranscodeRequest.safeParse(body);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: describeIssues(parsed.error) };
}

// ---------------------------------------------------------------- source checks

export interface SourceInfo {
  /** Display dimensions (after rotation metadata is applied). */
  width: number;
  height: number;
  duration: number;
  bitrate: number;
  size: number;
  has_audio: boolean;
}

const IMAGE_FORMAT = /(^|,)(image2|[a-z0-9]+_pipe|gif|apng|webp|png|mjpeg)(,|$)/;

/** Explain why ffprobe could not read the file. */
export function probeFailure(e: ProbeError): JobError {
  const s = e.stderr;
  if (/moov atom not found/i.test(s)) return new JobError("source is a truncated or corrupt MP4 (moov atom not found)", false);
  if (/Invalid data found when processing input/i.test(s))
    return new JobError("not a video: the file is not a recognised video container", false);
  return new JobError(`not a video or unreadable: ${stderrTail(s) || e.message}`, false);
}

function rotationOf(stream: ProbeResult["streams"][number]): number {
  for (const sd of stream.side_data_list ?? []) {
    if (typeof sd.rotation === "number") return sd.rotation;
  }
  const tag = Number(stream.tags?.rotate ?? 0);
  return Number.isFinite(tag) ? tag : 0;
}

export function describeSource(probe: ProbeResult, size: number, config: Config): SourceInfo {
  const video = probe.streams.find((s) => s.codec_type === "video" && s.disposition?.attached_pic !== 1);
  if (!video) return fail("not a video: no video stream");
  const fmt = probe.format.format_name ?? "";
  if (IMAGE_FORMAT.test(fmt)) return fail(`not a video: ${fmt} is a still-image format`);
  let w = video.width ?? 0;
  let h = video.height ?? 0;
  if (!(w > 0 && h > 0)) return fail("not a video: the video stream has no dimensions");
  if (Math.abs(rotationOf(video)) % 180 === 90) [w, h] = [h, w];
  const duration = Number(probe.format.duration ?? video.duration ?? NaN);
  if (!Number.isFinite(duration) || duration <= 0) return fail("not a video: no duration (still image or empty stream)");
  if (duration > config.maxDurationSeconds)
    return fail(`video too long: ${duration.toFixed(1)} s exceeds the ${config.maxDurationSeconds} s limit`);
  if (w > config.maxDimension || h > config.maxDimension)
    return fail(`video dimensions too large: ${w}x${h} exceeds ${config.maxDimension} px`);
  const br = Number(probe.format.bit_rate ?? NaN);
  return {
    width: w,
    height: h,
    duration,
    bitrate: Number.isFinite(br) && br > 0 ? Math.round(br) : Math.round((size * 8) / duration),
    size,
    has_audio: probe.streams.some((s) => s.codec_type === "audio"),
  };
  function fail(msg: string): never {
    throw new JobError(msg, false);
  }
}

// ---------------------------------------------------------------- plan

export interface Rung {
  name: "1080p" | "720p";
  height: number;
  maxrateKbps: number;
}

export const RUNGS: readonly Rung[] = [
  { name: "1080p", height: 1080, maxrateKbps: 4000 },
  { name: "720p", height: 720, maxrateKbps: 2500 },
];

export interface PlannedRung extends Rung {
  width: number;
  outHeight: number;
}

export interface Plan {
  rungs: PlannedRung[];
  skipped: Record<string, string>;
  thumb: { width: number; height: number; at: number };
}

const even = (x: number): number => Math.max(2, 2 * Math.round(x / 2));

export const THUMB_MAX_WIDTH = 640;

/**
 * Never upscale: a rung is produced only when its height is ≤ the source's short side.
 * The short side is scaled to the rung height (so portrait 1080x1920 → 1080p is 1080x1920,
 * 720p is 720x1280); the long side keeps the aspect ratio rounded to an even number.
 */
export function planOutputs(width: number, height: number, duration: number): Plan {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const landscape = width >= height;
  const rungs: PlannedRung[] = [];
  const skipped: Record<string, string> = {};
  for (const r of RUNGS) {
    if (r.height > short) {
      skipped[r.name] = `source is smaller than ${r.name} (${width}x${height}); not upscaled`;
      continue;
    }
    const outLong = even((long * r.height) / short);
    rungs.push({ ...r, width: landscape ? outLong : r.height, outHeight: landscape ? r.height : outLong });
  }
  const tw = even(Math.min(THUMB_MAX_WIDTH, width));
  return {
    rungs,
    skipped,
    thumb: { width: tw, height: even((height * tw) / width), at: Math.min(1, duration * 0.1) },
  };
}

/** H.264 settings of every variant: CRF capped at the rung's bitrate, metadata dropped, moov first. */
export function encoderArgs(maxrateKbps: number): string[] {
  return [
    ...["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-crf", "23"],
    ...["-maxrate", `${maxrateKbps}k`, "-bufsize", `${2 * maxrateKbps}k`],
    ...["-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart"],
  ];
}

/** One ffmpeg invocation: decode once, `split` to each rung's scaler and the thumbnail. */
export function buildFfmpegArgs(src: string, dir: string, plan: Plan, hasAudio: boolean): string[] {
  const n = plan.rungs.length + 1;
  const labels = [...plan.rungs.map((_, i) => `s${i}`), "st"];
  const chains = [`[0:v:0]split=${n}${labels.map((l) => `[${l}]`).join("")}`];
  plan.rungs.forEach((r, i) => {
    chains.push(`[s${i}]scale=${r.width}:${r.outHeight}:flags=bicubic,setsar=1,format=yuv420p[v${i}]`);
  });
  const t = plan.thumb;
  chains.push(`[st]trim=start=${t.at.toFixed(3)},scale=${t.width}:${t.height},setsar=1,format=yuvj420p[vt]`);
  const args = [...FFMPEG_QUIET, "-i", src, "-filter_complex", chains.join(";")];
  plan.rungs.forEach((r, i) => {
    args.push("-map", `[v${i}]`);
    if (hasAudio) args.push("-map", "0:a:0", "-c:a", "aac", "-b:a", "128k");
    args.push(...encoderArgs(r.maxrateKbps), join(dir, `${r.name}.mp4`));
  });
  args.push("-map", "[vt]", "-frames:v", "1", "-q:v", "3", "-map_metadata", "-1", join(dir, "thumbnail.jpg"));
  return args;
}

/** ffmpeg quiet, non-interactive, overwriting: how every run here starts. */
export const FFMPEG_QUIET = ["-hide_banner", "-nostdin", "-v", "error", "-y"] as const;

/**
 * Fallback thumbnail from the first frame (if the in-graph one produced nothing), or from `at`
 * seconds in (the benchmark's separate pass).
 */
export function thumbnailArgs(src: string, out: string, plan: Plan, at?: number): string[] {
  const t = plan.thumb;
  return [
    ...FFMPEG_QUIET,
    ...(at === undefined ? [] : ["-ss", String(at)]),
    "-i",
    src,
    "-frames:v",
    "1",
    "-vf",
    `scale=${t.width}:${t.height},setsar=1,format=yuvj420p`,
    "-q:v",
    "3",
    out,
  ];
}

// ---------------------------------------------------------------- pipeline

export interface VariantResult {
  width: number;
  height: number;
  bitrate: number;
  size: number;
}

export interface CompletedResult {
  job_id: string;
  attempt: number;
  status: "completed";
  source: SourceInfo;
  variants: Partial<Record<"1080p" | "720p", VariantResult>>;
  skipped: Record<string, string>;
  thumbnail: { width: number; height: number; size: number };
  timings: { download_ms: number; transcode_ms: number; upload_ms: number };
}

export interface FailedResult {
  job_id: string;
  attempt: number;
  status: "failed";
  error: string;
  retryable: boolean;
}

export type JobResult = CompletedResult | FailedResult;

async function fileSize(p: string): Promise<number> {
  try {
    return (await stat(p)).size;
  } catch {
    return 0;
  }
}

async function runFfmpeg(config: Config, args: string[], signal: AbortSignal): Promise<string> {
  const r = await runProcess(config.ffmpegPath, args, signal);
  if (r.code === 0) return r.stderr;
  if (r.signal) throw new JobError(`ffmpeg was killed by ${r.signal}`, true);
  throw new JobError(`ffmpeg could not transcode the source (corrupt or unsupported video): ${stderrTail(r.stderr)}`, false);
}

export async function transcodePipeline(req: TranscodeRequest, dir: string, config: Config, signal: AbortSignal): Promise<CompletedResult> {
  const t0 = performance.now();
  const src = join(dir, "source");
  const size = await downloadToFile(req.source_url, src, config.maxSourceBytes, signal);
  const t1 = performance.now();

  let probe: ProbeResult;
  try {
    probe = await ffprobe(config.ffprobePath, src, signal);
  } catch (e) {
    if (e instanceof ProbeError) throw probeFailure(e);
    throw e;
  }
  const source = describeSource(probe, size, config);
  const plan = planOutputs(source.width, source.height, source.duration);

  const warnings = await runFfmpeg(config, buildFfmpegArgs(src, dir, plan, source.has_audio), signal);
  // ffmpeg exits 0 on a cut-off file whose index (moov) survived: it decodes what is there.
  if (/partial file/i.test(warnings))
    throw new JobError(`source is a truncated or corrupt MP4 (media data cut off): ${stderrTail(warnings, 1)}`, false);
  const thumbPath = join(dir, "thumbnail.jpg");
  if ((await fileSize(thumbPath)) === 0) await runFfmpeg(config, thumbnailArgs(src, thumbPath, plan), signal);
  if ((await fileSize(thumbPath)) === 0) throw new JobError("not a video: no frame could be decoded", false);

  const variants: CompletedResult["variants"] = {};
  const skipped = { ...plan.skipped };
  const toUpload: Array<{ name: "1080p" | "720p"; path: string }> = [];
  for (const r of plan.rungs) {
    const path = join(dir, `${r.name}.mp4`);
    const bytes = await fileSize(path);
    if (bytes === 0) throw new JobError(`ffmpeg produced an empty ${r.name} output (source has no decodable frames)`, false);
    if (bytes > size) {
      skipped[r.name] = `larger than source (${bytes} > ${size} bytes)`;
      continue;
    }
    const p = await ffprobe(config.ffprobePath, path, signal);
    const v = p.streams.find((s) => s.codec_type === "video");
    const outDuration = Number(p.format.duration ?? 0);
    if (outDuration < source.duration * 0.9 - 0.5)
      throw new JobError(
        `source is truncated or corrupt: only ${outDuration.toFixed(1)} of ${source.duration.toFixed(1)} s could be decoded`,
        false,
      );
    variants[r.name] = {
      width: v?.width ?? r.width,
      height: v?.height ?? r.outHeight,
      bitrate: Math.round(Number(p.format.bit_rate ?? 0)),
      size: bytes,
    };
    toUpload.push({ name: r.name, path });
  }
  const tp = await ffprobe(config.ffprobePath, thumbPath, signal);
  const tv = tp.streams.find((s) => s.codec_type === "video");
  const thumbnail = { width: tv?.width ?? plan.thumb.width, height: tv?.height ?? plan.thumb.height, size: await fileSize(thumbPath) };
  const t2 = performance.now();

  for (const u of toUpload) {
    await uploadFile(req.outputs[u.name].put_url, u.path, "video/mp4", config.uploadAttempts, signal);
  }
  await uploadFile(req.outputs.thumbnail.put_url, thumbPath, "image/jpeg", config.uploadAttempts, signal);
  const t3 = performance.now();

  return {
    job_id: req.job_id,
    attempt: req.attempt,
    status: "completed",
    source,
    variants,
    skipped,
    thumbnail,
    timings: { download_ms: Math.round(t1 - t0), transcode_ms: Math.round(t2 - t1), upload_ms: Math.round(t3 - t2) },
  };
}

function log(config: Config, fields: Record<string, unknown>): void {
  if (config.logJobs) process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...fields })}\n`);
}

/**
 * Run one job end to end: wall-clock limit (SIGKILL ffmpeg on expiry), temp dir removed in
 * every outcome, then the callback. `onSettled` fires once the work and cleanup are done but
 * before the callback, so the concurrency slot frees before the Worker hears back.
 */
export async function runTranscodeJob(
  req: TranscodeRequest,
  config: Config,
  shutdownSignal: AbortSignal,
  onSettled: () => void = () => {},
): Promise<JobResult> {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new JobError(`job timed out after ${config.jobTimeoutSeconds} s (JOB_TIMEOUT_SECONDS)`, true)),
    config.jobTimeoutSeconds * 1000,
  );
  const onShutdown = (): void => ac.abort(new JobError("transcoder shut down during the job", true));
  if (shutdownSignal.aborted) onShutdown();
  else shutdownSignal.addEventListener("abort", onShutdown, { once: true });

  log(config, { event: "job_start", job_id: req.job_id, attempt: req.attempt });
  let dir: string | undefined;
  let result: JobResult;
  try {
    dir = await mkdtemp(join(config.tmpDir, TEMP_PREFIX));
    result = await transcodePipeline(req, dir, config, ac.signal);
  } catch (e) {
    const je = toJobError(ac.signal.aborted ? ac.signal.reason : e);
    result = { job_id: req.job_id, attempt: req.attempt, status: "failed", error: je.message, retryable: je.retryable };
  } finally {
    clearTimeout(timer);
    shutdownSignal.removeEventListener("abort", onShutdown);
    if (dir)
      await rm(dir, { recursive: true, force: true }).catch((e) =>
        log(config, { event: "tmp_cleanup_failed", dir, error: errorMessage(e) }),
      );
  }
  onSettled();
  log(config, {
    event: "job_end",
    job_id: req.job_id,
    attempt: req.attempt,
    status: result.status,
    ...(result.status === "failed" ? { error: result.error } : { timings: result.timings }),
  });

  const shuttingDown = shutdownSignal.aborted;
  const cb = await postCallback(req.callback_url, result, {
    attempts: shuttingDown ? 1 : config.callbackAttempts,
    baseDelayMs: config.callbackRetryBaseMs,
    timeoutMs: shuttingDown ? 2000 : 15_000,
  });
  log(config, { event: cb.delivered ? "callback_delivered" : "callback_failed", job_id: req.job_id, ...cb });
  return result;
}
