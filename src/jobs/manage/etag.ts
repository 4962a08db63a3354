import type { AppContext } from "../../http/operation";
import { jobEtag } from "./service";

/** The job's ETag header (its version: service.ts), on `action=get` and on updates. */
export function setJobEtag(c: AppContext, version: number | undefined) {
  if (version !== undefined) c.header("ETag", jobEtag(version));
}
