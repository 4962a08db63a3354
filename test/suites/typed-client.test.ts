import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listCreateUpdate } from "../../examples/typed-client";
import { actor, api, expectStatus, seedFixtures } from "../support/helpers";

describe("typed client (hono/client with AppType)", () => {
  it("lists, creates and updates a job through the example script", async () => {
    const fx = await seedFixtures();
    const staff = await actor("staff");
    const fetchWorker: typeof fetch = (input, init) => exports.default.fetch(new Request(input, init));

    const out = await listCreateUpdate("https://propops.test", staff.token, { addressId: fx.addressId, fetch: fetchWorker });
    expect(out.jobRef).toMatch(/^JOB-\d{3,}$/);
    expect(out.changed).toEqual(["job_total_budget"]);

    const read = await api("GET", `/api/jobs/manage?action=get&uuid=${out.jobUuid}`, { token: staff.token });
    expectStatus(read, 200);
    expect(read.body.data).toMatchObject({ job_title: "Boiler Service - Unit 001", job_total_budget: 300 });
  });

  it("surfaces the API's refusal to a caller without a valid token", async () => {
    const fetchWorker: typeof fetch = (input, init) => exports.default.fetch(new Request(input, init));
    await expect(listCreateUpdate("https://propops.test", "pp_not-a-token", { fetch: fetchWorker })).rejects.toThrow("csrf-token: 401");
  });
});
