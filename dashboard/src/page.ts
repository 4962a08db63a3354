/** What every section of the job page is handed (job.ts draws the page, media.ts two of its sections). */
import type { Session } from "./session";
import type { Amendable, JobDetail } from "./types";

export interface JobPage {
  session: Session;
  job: JobDetail;
  /** What amendable-fields says the caller is: the managing side ("staff") or a contractor. */
  userType: "staff" | "contractor" | "unknown";
  amendable: Amendable | undefined;
  /** The job's ETag when the page was drawn: sent as If-Match on every edit. */
  etag: string | undefined;
  /** Reloads the job and redraws the page after a write that changes it, showing the API's message. */
  reload: (message: string) => Promise<void>;
}
