import { jobEtag } from "../../domain/jobs";
import type { AppContext } from "../../http/operation";

/** The job's ETag header (its version: src/domain/jobs.ts), on `action=get` and on updates. */
export function setJobEtag(c: AppContext, version: number | undefined) {
  if (version !== undefined) c.header("ETag", jobEtag(version));
}
