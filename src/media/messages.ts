/** Messages on the media queue. Each is idempotent: Queues deliver at least once. */
export type MediaMessage =
  /** Delete R2 objects: the listed keys (all under `prefix`), or every object under the prefix. */
  | { type: "r2.cleanup"; prefix: string; keys?: string[] }
  /** Compress an uploaded photo (photon-wasm). */
  | { type: "photo.compress"; photoId: number }
  /** Transcode an uploaded video into its variants (the transcoder service). */
  | {
      type: "video.transcode";
      photoId: number;
      /** Set by the watchdog / a retryable failure: the stuck or failed attempt this one replaces. */
      supersedes?: number;
    }
  /**
   * Asks the media service, every VIDEO_CHECK_SECONDS while attempt n runs, whether it still holds
   * the job (video-job.ts); `until` (epoch ms) is the watchdog's time, when the asking stops.
   */
  | { type: "video.check"; photoId: number; attempt: number; until: number }
  /** Checks, after the transcoder's time limit, that a dispatched attempt reported back (video-job.ts). */
  | { type: "video.watchdog"; photoId: number; attempt: number };
