import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { closeRecallCycle } from "../recall/service";

/** Completes a recalled job (the recall route's `is_recall=0&action_type=standard`) under its own permission. */
export const completeRecall = useCase(
  { permission: "api.jobs.mark_recall_completed.manage" },
  async (s: Scope, { job_uuid }: { job_uuid: string }) => {
    const job = await closeRecallCycle(s, { job_uuid, outcome: "completed" });
    return { job_id: job.id, job_title: job.jobTitle };
  },
);
