import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createServices } from "../../src/platform/services";
import { relayWebhookEvents } from "../../src/webhooks/relay";
import { actor, createJob, expectStatus, seedFixtures } from "../support/helpers";
import { rows, send } from "../support/workflow-helpers";

// Its own file: storage is per file, and this needs an outbox that no subscription has seen.
describe("relay with no subscription", () => {
  it("skips the whole backlog in one step, and a later subscription still gets its own events", async () => {
    const fx = await seedFixtures();
    const staff = await actor("staff");
    const admin = await actor("admin");
    for (let i = 0; i < 5; i++) await createJob(staff, fx);
    const [{ newest }] = (await rows("SELECT max(id) AS newest FROM audit_events")) as [{ newest: number }];

    expect((await relayWebhookEvents(createServices(env))).deliveries).toBe(0);
    expect(await rows("SELECT last_event_id FROM webhook_relay_cursor WHERE id = 1")).toEqual([{ last_event_id: newest }]);
    expect(await rows("SELECT count(*) AS n FROM webhook_deliveries")).toEqual([{ n: 0 }]);

    const sub = await send(admin, "POST", "/api/admin/webhooks", {
      action: "create",
      url: "http://127.0.0.1:9/hooks",
      event_types: ["job.created"],
    });
    expectStatus(sub, 201);
    const job = await createJob(staff, fx);
    // The request's own relay (waitUntil) may have run already; either way the event is delivered once.
    await relayWebhookEvents(createServices(env));
    const delivered = (await rows("SELECT event_type, payload FROM webhook_deliveries")) as { event_type: string; payload: string }[];
    expect(delivered.map((d) => d.event_type)).toEqual(["job.created"]);
    expect(JSON.parse(delivered[0]?.payload ?? "{}").data.job_uuid).toBe(job.job_uuid);
  });

  it("an isolate that found no subscription skips the relay on writes for a while; a subscription change resumes it", async () => {
    // Its own storage: this file's second test. Clear the subscriptions the first one made.
    await env.DB.prepare("DELETE FROM webhook_subscriptions").run();
    const fx = await seedFixtures();
    const staff = await actor("staff");
    const admin = await actor("admin");
    const cursor = async () => ((await rows("SELECT last_event_id AS c FROM webhook_relay_cursor WHERE id = 1")) as [{ c: number }])[0].c;
    const newest = async () => ((await rows("SELECT max(id) AS n FROM audit_events")) as [{ n: number }])[0].n;
    // Work after the answer (waitUntil): polled, bounded generously (a loaded machine).
    const until = async (check: () => Promise<boolean>) => {
      const deadline = Date.now() + 20_000;
      while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return check();
    };
    // The first write's relay finds nobody and skips to the newest event…
    await createJob(staff, fx);
    expect(await until(async () => (await cursor()) === (await newest()))).toBe(true);
    // …then the next writes leave the cursor alone (no relay: two round trips saved per write).
    const before = await cursor();
    await createJob(staff, fx);
    await createJob(staff, fx);
    await new Promise((r) => setTimeout(r, 300));
    expect(await cursor()).toBe(before);
    expect(await newest()).toBeGreaterThan(before);
    // A subscription made here resumes the relay at once: the next job is delivered.
    expectStatus(
      await send(admin, "POST", "/api/admin/webhooks", { action: "create", url: "http://127.0.0.1:9/hooks", event_types: ["job.created"] }),
      201,
    );
    const job = await createJob(staff, fx);
    const delivered = () => rows("SELECT payload FROM webhook_deliveries") as Promise<{ payload: string }[]>;
    expect(await until(async () => (await delivered()).some((d) => d.payload.includes(job.job_uuid)))).toBe(true);
  });
});
