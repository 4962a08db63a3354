import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createServices } from "../src/domain/services";
import { relayWebhookEvents } from "../src/webhooks/relay";
import { actor, createJob, expectStatus, seedFixtures } from "./helpers";
import { rows, send } from "./workflow-helpers";

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
});
