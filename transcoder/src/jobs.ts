// Concurrency slots shared by every job-running route (video transcodes and large-image compression).

export type StartOutcome = "started" | "busy" | "duplicate";

/** What the service says about a job it holds (GET /v1/videos/status). */
export interface JobInfo {
  attempt: number;
  /** "running": holds a slot (download, ffmpeg, upload); "reporting": done, its callback is being delivered. */
  phase: "running" | "reporting";
  started_at: string;
}

export class JobSlots {
  readonly limit: number;
  private readonly holders = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();
  /** Every job from its start until its task settles (its callback included), so a caller can ask after it. */
  private readonly known = new Map<string, { info: JobInfo }>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Jobs currently holding a slot. */
  get busy(): number {
    return this.holders.size;
  }

  /**
   * Take a slot for `key` and start `work(release)` in the background. `work` must call
   * `release` once it no longer needs the slot (or the slot is freed when it settles).
   */
  tryStart(key: string, work: (release: () => void) => Promise<unknown>, attempt = 0): StartOutcome {
    if (this.holders.has(key)) return "duplicate";
    if (this.holders.size >= this.limit) return "busy";
    this.holders.add(key);
    // Its own entry: a later attempt of the same key may start while this one still reports.
    const entry = { info: { attempt, phase: "running", started_at: new Date().toISOString() } as JobInfo };
    this.known.set(key, entry);
    const release = (): void => {
      this.holders.delete(key);
      entry.info.phase = "reporting";
    };
    const task = Promise.resolve()
      .then(() => work(release))
      .catch((e: unknown) => {
        process.stderr.write(`job ${key} crashed: ${String(e)}\n`);
      })
      .finally(() => {
        release();
        if (this.known.get(key) === entry) this.known.delete(key);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
    return "started";
  }

  /** The job `key` if this process holds it (a restarted process knows none of its predecessor's). */
  job(key: string): JobInfo | undefined {
    const entry = this.known.get(key);
    return entry ? { ...entry.info } : undefined;
  }

  /** Wait for every background task (including its callback) to finish. */
  async drain(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }
}
