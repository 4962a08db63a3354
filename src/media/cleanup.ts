import { jobPrefix } from "./keys";
import type { MediaMessage } from "./messages";

/** Deletes every object under a prefix, a page at a time (idempotent). */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  if (!prefix.startsWith("jobs/") || prefix.length < "jobs/".length + 36) throw new Error(`refusing to delete prefix "${prefix}"`);
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    if (page.objects.length > 0) {
      await bucket.delete(page.objects.map((o) => o.key));
      deleted += page.objects.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}

/**
 * Removes a deleted job's files. Queued so a large job does not hold up the response; if the
 * queue cannot take the message, the files are deleted inline instead, so none are orphaned.
 */
export async function deleteJobObjects(env: Env, jobUuid: string, executionCtx?: ExecutionContext) {
  const message: MediaMessage = { type: "r2.cleanup", prefix: jobPrefix(jobUuid) };
  try {
    await env.MEDIA_QUEUE.send(message);
  } catch (err) {
    console.error("media queue unavailable, deleting job files inline:", err instanceof Error ? err.message : err);
    const work = deletePrefix(env.MEDIA, message.prefix);
    if (executionCtx) executionCtx.waitUntil(work);
    else await work;
  }
}
