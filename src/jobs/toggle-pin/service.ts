import { eq, sql } from "drizzle-orm";
import { useCase } from "../../app/use-case";
import { users } from "../../db/schema";
import { visibleJob } from "../../domain/job-access";
import { log } from "../../http/log";
import { forgetCachedPins } from "../../pins/pins-cache";
import { userPins } from "../../pins/user-pins";

/**
 * Flips the caller's pin on a job it may see (404 otherwise; archived jobs too: a pin is no change
 * to the job), then copies the pins' new version to D1 for other isolates' caches.
 */
export const togglePin = useCase(
  { permission: "api.jobs.toggle_pin.manage" },
  async (scope, input: { job_uuid: string }): Promise<{ is_pinned: boolean }> => {
    const job = await visibleJob(scope, input.job_uuid);
    const caller = scope.caller;
    // Milliseconds kept: pins made within one second still list newest first.
    const pinnedAt = scope.services.clock.now().toISOString();
    const { pinned, version } = await userPins(scope.services.env, caller.userUuid).toggleVersioned(job.uuid, pinnedAt);
    forgetCachedPins(caller.userUuid);
    // After the Durable Object changed (never before: a reader could then store the old pins under
    // the new version). If this write fails, other isolates' copies are one toggle behind for at
    // most their TTL (src/pins/pins-cache.ts); the pin itself is set, so the answer stands.
    try {
      await scope.db
        .update(users)
        .set({ pinsVersion: sql`max(${users.pinsVersion}, ${version})` })
        .where(eq(users.id, caller.userId));
    } catch (err) {
      log("error", "pins_version_not_copied", { request_id: scope.requestId, message: err instanceof Error ? err.message : String(err) });
    }
    return { is_pinned: pinned };
  },
);
