// Concurrency slots shared by every job-running route (video transcodes and large-image compression).

export type StartOutcome = "started" | "busy" | "duplicate";

export class JobSlots {
  readonly limit: number;
  private readonly holders = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();

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
  tryStart(key: string, work: (release: () => void) => Promise<unknown>): StartOutcome {
    if (this.holders.has(key)) return "duplicate";
    if (this.holders.size >= this.limit) return "busy";
    this.holders.add(key);
    const release = (): void => {
      this.holders.delete(key);
    };
    const task = Promise.resolve()
      .then(() => work(release))
      .catch((e: unknown) => {
        process.stderr.write(`job ${key} crashed: ${String(e)}\n`);
      })
      .finally(() => {
        release();
        this.tasks.delete(task);
      });
    this.tasks.add(task);
    return "started";
  }

  /** Wait for every background task (including its callback) to finish. */
  async drain(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }
}
