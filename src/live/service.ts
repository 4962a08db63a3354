import { useCase } from "../app/use-case";
import type { LiveEvent } from "./events";
import { liveHub } from "./hub";

/**
 * The live event stream's use cases: who may follow it is who may list jobs (the reference's
 * `api.jobs.manage.list`); what each one receives is "job.see" per event (src/live/events.ts).
 */
const admission = { permission: "api.jobs.manage.list" } as const;

/** A single-use ticket for GET /api/live, bound to the caller's token, and the newest event id. */
export const issueLiveTicket = useCase(admission, async (scope): Promise<{ ticket: string; expires_at: string; after: number }> => {
  const c = scope.caller;
  return liveHub(scope.services.env).issueTicket({
    tokenId: c.tokenId,
    userId: c.userId,
    name: c.name,
    role: c.role,
    contractorId: c.contractorId,
  });
});

/** The events after `after` this caller may see, oldest first, at most `limit`; where to continue. */
export const pollLiveEvents = useCase(
  admission,
  async (scope, input: { after: number; limit: number }): Promise<{ events: LiveEvent[]; next_after: number; reset: boolean }> => {
    const c = scope.caller;
    return liveHub(scope.services.env).poll(
      { userId: c.userId, name: c.name, role: c.role, contractorId: c.contractorId },
      input.after,
      input.limit,
    );
  },
);
