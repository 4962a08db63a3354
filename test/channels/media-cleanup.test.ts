import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { removeJobFiles, removeStored, runCleanup } from "../../src/media/cleanup";
import type { MediaMessage } from "../../src/media/messages";
import { createServices, type Services } from "../../src/platform/services";

const job = "11111111-2222-4333-8444-555555555555";
const note = "66666666-7777-4888-9999-000000000000";
const keys = [`jobs/${job}/notes/${note}/a`, `jobs/${job}/notes/${note}/b`];
const stored = async (k: string[]) => (await Promise.all(k.map((key) => env.MEDIA.head(key)))).filter(Boolean).length;

/** The real bucket, with deletes failing: an R2 outage in the middle of a rollback. */
function withFailingDeletes(services: Services): Services {
  const media = new Proxy(services.media, {
    get: (target, prop) => (prop === "delete" ? () => Promise.reject(new Error("R2 unavailable")) : Reflect.get(target, prop, target)),
  });
  return { ...services, media };
}

describe("removeStored: the one way stored files go, inline or through the media queue", () => {
  it("deletes a note's files inline", async () => {
    await Promise.all(keys.map((k) => env.MEDIA.put(k, "x")));
    await removeStored(createServices(env), keys);
    expect(await stored(keys)).toBe(0);
  });

  it("queues the same keys when R2 refuses the delete, and the queued message removes them", async () => {
    await Promise.all(keys.map((k) => env.MEDIA.put(k, "x")));
    const send = vi.spyOn(env.MEDIA_QUEUE, "send").mockResolvedValue(undefined as never);
    try {
      vi.spyOn(console, "error").mockImplementation(() => undefined);
      await removeStored(withFailingDeletes(createServices(env)), keys);
      expect(send).toHaveBeenCalledWith({ type: "r2.cleanup", prefix: `jobs/${job}/notes/${note}/`, keys });
      expect(await stored(keys)).toBe(2);
      await runCleanup(env.MEDIA, send.mock.calls[0]?.[0] as Extract<MediaMessage, { type: "r2.cleanup" }>);
      expect(await stored(keys)).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("a whole job goes through the queue; when the queue refuses, inline", async () => {
    await Promise.all(keys.map((k) => env.MEDIA.put(k, "x")));
    vi.spyOn(env.MEDIA_QUEUE, "send").mockRejectedValue(new Error("queue unavailable"));
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const background: Promise<unknown>[] = [];
    try {
      await removeJobFiles(createServices(env, { executionCtx: { waitUntil: (p) => background.push(p) } }), job);
      await Promise.all(background);
      expect(await stored(keys)).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("refuses keys outside the message's prefix, and prefixes that are not a job's", async () => {
    await expect(
      runCleanup(env.MEDIA, { type: "r2.cleanup", prefix: `jobs/${job}/notes/${note}/`, keys: [`jobs/${job}/other`] }),
    ).rejects.toThrow("refusing");
    await expect(runCleanup(env.MEDIA, { type: "r2.cleanup", prefix: "jobs/" })).rejects.toThrow("refusing");
  });
});
