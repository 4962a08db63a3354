import { eq, type SQL } from "drizzle-orm";
import { jobs } from "../../db/schema";
import { ApiError } from "../../domain/errors";
import type { AppContext } from "../../http/operation";

/**
 * A job's ETag: its version, which a trigger bumps on every change to the row (migration 0005),
 * whichever operation makes it. Strong: If-Match compares it exactly.
 */
export const jobEtag = (version: number) => `"v${version}"`;

export function setJobEtag(c: AppContext, version: number | undefined) {
  if (version !== undefined) c.header("ETag", jobEtag(version));
}

function stale(version: number) {
  return new ApiError(
    "PRECONDITION_FAILED",
    `If-Match: the job has changed (its ETag is now ${jobEtag(version)}); read it again and retry`,
  );
}

/**
 * With If-Match (update, delete): 412 unless it names the job's current ETag or `*`. Returns the
 * condition that holds the write to that version, so a change in between fails too (see
 * `preconditionLost`). Without If-Match: nothing (the reference's requests carry none).
 */
export function checkIfMatch(c: AppContext, version: number): SQL | undefined {
  const header = c.req.header("if-match");
  if (header === undefined) return undefined;
  const tags = header.split(",").map((t) => t.trim());
  if (!tags.includes("*") && !tags.includes(jobEtag(version))) throw stale(version);
  return eq(jobs.version, version);
}

/** The error when a write guarded by checkIfMatch changed nothing: 412 with If-Match, else undefined. */
export function preconditionLost(c: AppContext, version: number): ApiError | undefined {
  return c.req.header("if-match") === undefined ? undefined : stale(version + 1);
}
