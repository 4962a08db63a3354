/**
 * Hono's typed client against the PropOps Jobs API: every path, query, body and answer below is
 * checked by TypeScript from the API's own route schemas (`AppType`). It compiles only inside this
 * repository and cannot send files: integrators use the SDK, `@propops/client` (packages/client,
 * README "Calling the API"). Run against a local API (`npm run dev` in another terminal):
 *
 *   TOKEN=$(npm run --silent token -- --role staff)
 *   npm run example -- http://127.0.0.1:8787 "$TOKEN"      # [address id], default 5 (seeded)
 *
 * It prints the listed count, the new job's uuid and reference, and the fields the update changed.
 * The tests run `listCreateUpdate` against the Worker itself (test/suites/typed-client.test.ts).
 */
import { hc } from "hono/client";
import type { AppType } from "../src/app";

export async function listCreateUpdate(baseUrl: string, token: string, opts: { addressId?: number; fetch?: typeof fetch } = {}) {
  const api = hc<AppType>(baseUrl, { headers: { Authorization: `Bearer ${token}` }, fetch: opts.fetch });

  // Writes carry a CSRF token bound to the API token.
  const csrf = await api.api.security["csrf-token"].$get();
  if (csrf.status !== 200) throw new Error(`csrf-token: ${csrf.status}`);
  const { csrf_token } = await csrf.json();
  const write = { headers: { "X-CSRF-Token": csrf_token } };

  const listed = await api.api.jobs.manage.$get({ query: { action: "list", status_id: "1", limit: "5" } });
  if (listed.status !== 200) throw new Error(`list: ${listed.status}`);
  const page = await listed.json();
  if (!("count" in page)) throw new Error("list answered without a count");

  const created = await api.api.jobs.manage.$post(
    {
      json: {
        action: "create",
        job_title: "Boiler Service - Unit 001",
        job_description: "Annual boiler service",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: opts.addressId ?? 5, // the seeded demo address of the reference's example
        vat_percentage: 20,
        job_total_budget: 250,
      },
    },
    write,
  );
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const { job_uuid, job_ref } = await created.json();

  const updated = await api.api.jobs.manage.$post({ json: { action: "update", uuid: job_uuid, job_total_budget: 300 } }, write);
  if (updated.status !== 200) throw new Error(`update: ${updated.status} ${await updated.text()}`);
  const change = await updated.json();

  return { listedCount: page.count, jobUuid: job_uuid, jobRef: job_ref, changed: "changed_fields" in change ? change.changed_fields : [] };
}

if (process.argv[1]?.endsWith("typed-client.ts")) {
  const [url, token, addressId] = process.argv.slice(2).filter((a) => a !== "--");
  if (!url || !token || url === "--help" || url === "-h") {
    console.log("npm run example -- <api url> <token> [address id, default 5]: lists, creates and updates a job with hc<AppType>");
    process.exit(url === "--help" || url === "-h" ? 0 : 2);
  }
  console.log(JSON.stringify(await listCreateUpdate(url, token, { addressId: addressId ? Number(addressId) : undefined }), null, 2));
}
