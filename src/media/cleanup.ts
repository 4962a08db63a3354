import type { Services } from "../platform/services";
import { jobPrefix } from "./keys";
import type { MediaMessage } from "./messages";

const UUID_LEN = 36;
const isJobKey = (key: string) => key.startsWith("jobs/") && key.length > "jobs/".length + UUID_LEN;

/** Deletes every object under a prefix, a page at a time (idempotent). */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  if (!isJobKey(prefix)) throw new Error(`refusing to delete prefix "${prefix}"`);
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

/** The queue message's work: the listed keys, or everything under the prefix. Idempotent. */
export async function runCleanup(bucket: R2Bucket, message: Extract<MediaMessage, { type: "r2.cleanup" }>): Promise<void> {
  if (!message.keys) {
    await deletePrefix(bucket, message.prefix);
    return;
  }
  if (!isJobKey(message.prefix) || !message.keys.every((k) => k.startsWith(message.prefix))) {
    throw new Error(`refusing to delete keys outside "${message.prefix}"`);
  }
  if (message.keys.length > 0) await bucket.delete(message.keys);
}

/**
 * The one way stored files are removed after their rows are gone (or never made it): a prefix
 * (a job, a photo, a document) or a list of keys (a note's files). Deleted inline, and if that
 * fails the work goes to the media queue, so nothing is orphaned; with `queueFirst` (a whole
 * job, which may hold many files) the queue takes it and inline deletion is the fallback.
 */
export async function removeStored(services: Services, target: string | readonly string[], opts: { queueFirst?: boolean } = {}) {
  const message = cleanupMessage(target);
  if (!message) return;
  const inline = () => runCleanup(services.media, message);
  const queue = () => services.mediaQueue.send(message);
  const [first, fallback, label] = opts.queueFirst ? [queue, inline, "queue"] : [inline, queue, "inline delete"];
  try {
    await first();
  } catch (err) {
    console.error(`removing ${message.prefix} (${label}) failed, trying the other way:`, err instanceof Error ? err.message : err);
    // The fallback of a queued job cleanup may take a while: let it finish after the answer.
    if (opts.queueFirst) services.waitUntil(fallback());
    else await fallback();
  }
}

/** A job's files, after its rows are deleted. */
export const removeJobFiles = (services: Services, jobUuid: string) => removeStored(services, jobPrefix(jobUuid), { queueFirst: true });

function cleanupMessage(target: string | readonly string[]): Extract<MediaMessage, { type: "r2.cleanup" }> | undefined {
  if (typeof target === "string") return { type: "r2.cleanup", prefix: target };
  if (target.length === 0) return undefined;
  const first = target[0] ?? "";
  // The keys' common folder (a note's files share jobs/<job>/notes/<note>/).
  let prefix = first.slice(0, first.lastIndexOf("/") + 1);
  while (prefix && !target.every((k) => k.startsWith(prefix))) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf("/") + 1);
  return { type: "r2.cleanup", prefix, keys: [...target] };
}
