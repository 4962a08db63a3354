/** A job failure with the reason reported to the Worker and whether a retry may help. */
export class JobError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = "JobError";
    this.retryable = retryable;
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const causeMsg = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : "";
    return causeMsg && !e.message.includes(causeMsg) ? `${e.message} (${causeMsg})` : e.message;
  }
  return String(e);
}

/** Turn anything thrown inside a job into a JobError; an unexpected crash is retryable. */
export function toJobError(e: unknown): JobError {
  if (e instanceof JobError) return e;
  return new JobError(`internal error: ${errorMessage(e)}`, true);
}
