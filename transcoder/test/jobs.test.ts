// JobSlots: the jobs a process holds, as GET /v1/videos/status reports them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JobSlots } from "../src/jobs.ts";

describe("JobSlots.job", () => {
  it("knows a job from its start until its task settles (running, then reporting while it calls back)", async () => {
    const slots = new JobSlots(2);
    let release: () => void = () => {};
    let finish: () => void = () => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    assert.equal(
      slots.tryStart(
        "video:a",
        (r) => {
          release = r;
          return done;
        },
        3,
      ),
      "started",
    );
    await Promise.resolve();
    assert.equal(slots.job("video:a")?.phase, "running");
    assert.equal(slots.job("video:a")?.attempt, 3);
    assert.equal(slots.job("video:b"), undefined);
    release();
    assert.equal(slots.busy, 0, "the slot is free for the next job");
    assert.equal(slots.job("video:a")?.phase, "reporting", "still held while its callback is delivered");
    finish();
    await slots.drain();
    assert.equal(slots.job("video:a"), undefined);
  });

  it("a later attempt started while the earlier one reports is not forgotten when the earlier one settles", async () => {
    const slots = new JobSlots(2);
    let finishFirst: () => void = () => {};
    const first = new Promise<void>((r) => {
      finishFirst = r;
    });
    slots.tryStart(
      "video:a",
      (release) => {
        release();
        return first;
      },
      1,
    );
    await Promise.resolve();
    assert.equal(
      slots.tryStart("video:a", () => new Promise(() => {}), 2),
      "started",
    );
    finishFirst();
    await first;
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([slots.job("video:a")?.attempt, slots.job("video:a")?.phase], [2, "running"]);
  });
});
