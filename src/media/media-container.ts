import { Container } from "@cloudflare/containers";

/**
 * The media service (transcoder/, ffmpeg + Node) as a Cloudflare Container, one instance per
 * Durable Object name. Reached only through transcoder-client.ts.
 */
export class MediaContainer extends Container<Env> {
  // transcoder/Dockerfile sets PORT=8080.
  override defaultPort = 8080;
  // A transcode runs in the background after its 202, so the instance must outlive the
  // transcoder's JOB_TIMEOUT_SECONDS (600) plus upload and callback; requests renew it.
  override sleepAfter = "15m";
  // One job per instance: each video gets its own instance (transcoder-client.ts).
  override envVars: Record<string, string> = { JOB_TIMEOUT_SECONDS: "600", MAX_CONCURRENT_JOBS: "1" };
}
