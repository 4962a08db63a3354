/**
 * How the Worker reaches the media service (transcoder/). One switch, the `MEDIA_SERVICE` var:
 *
 * - "container" (production): the request goes to a MediaContainer Durable Object, which starts
 *   the transcoder image on demand. `instance` names the DO, so work for one video always lands
 *   on the same instance (the transcoder then refuses a duplicate of a running job).
 * - "process" (wrangler dev, tests): plain HTTP to `TRANSCODER_URL`, where the same server runs
 *   as a local Node process (containers need Docker, which dev machines and CI lack).
 *
 * Everything else (paths, bodies, answers) is identical in both modes.
 */
export type MediaServiceMode = "container" | "process";

export function mediaServiceMode(env: Pick<Env, "MEDIA_SERVICE">): MediaServiceMode {
  const mode: string = env.MEDIA_SERVICE;
  if (mode === "container" || mode === "process") return mode;
  throw new Error(`MEDIA_SERVICE must be "container" or "process", not ${JSON.stringify(mode)}`);
}

/** A request to the media service at `path` (e.g. "/v1/videos/transcode"). */
export function transcoderFetch(
  env: Pick<Env, "MEDIA_SERVICE" | "TRANSCODER_URL" | "MEDIA_CONTAINER">,
  path: string,
  init: RequestInit,
  instance: string,
): Promise<Response> {
  if (mediaServiceMode(env) === "process") return fetch(new URL(path, env.TRANSCODER_URL), init);
  // The host is ignored by the container; only the path and port matter.
  const stub = env.MEDIA_CONTAINER.get(env.MEDIA_CONTAINER.idFromName(instance));
  return stub.fetch(new Request(new URL(path, "http://media-container"), init));
}

/** POSTs a JSON job to the media service; a network failure throws "<who> unreachable: …" (retried by the queue). */
export async function postToMediaService(
  env: Pick<Env, "MEDIA_SERVICE" | "TRANSCODER_URL" | "MEDIA_CONTAINER">,
  call: { path: string; body: unknown; timeoutMs: number; instance: string; who: string },
): Promise<Response> {
  try {
    return await transcoderFetch(
      env,
      call.path,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(call.body),
        signal: AbortSignal.timeout(call.timeoutMs),
      },
      call.instance,
    );
  } catch (err) {
    throw new Error(`${call.who} unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
}
