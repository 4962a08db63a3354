/**
 * @propops/client as an integrator uses it: list jobs, create one, upload a photo, add a case
 * note, and receive the job's `job.created` webhook on a small HTTP server, verified with the
 * subscription's secret. CSRF tokens, Idempotency-Keys and retries are the client's business.
 *
 *   PROPOPS_URL=http://127.0.0.1:8787 PROPOPS_TOKEN=pp_… PHOTO=./site.jpg node quickstart.js
 *
 * The token must be an administrator's (the webhook subscription is an admin operation); a local
 * API must allow loopback receivers (WEBHOOKS_ALLOW_LOOPBACK=true). test/e2e/sdk-outside.test.ts
 * runs this file from a project outside the repository that installed the packed SDK.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPropOpsClient, isEvent, PropOpsError, verifyWebhook, type WebhookEvent } from "@propops/client";

const { PROPOPS_URL = "http://127.0.0.1:8787", PROPOPS_TOKEN = "", PHOTO = "site.jpg", ADDRESS_ID = "5" } = process.env;
const client = createPropOpsClient({ baseUrl: PROPOPS_URL, token: PROPOPS_TOKEN });

// A receiver for the signed events; the secret is known once the subscription exists.
let secret = "";
const events: WebhookEvent[] = [];
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      events.push(verifyWebhook(Buffer.concat(chunks).toString("utf8"), req.headers, secret));
      res.writeHead(204).end();
    } catch {
      res.writeHead(401).end(); // not signed with our secret: refused (and retried by the API)
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const { port } = receiver.address() as AddressInfo;

const subscribed = await client.api.POST("/api/admin/webhooks", {
  body: { action: "create", url: `http://127.0.0.1:${port}/propops`, event_types: ["job.created"] },
});
secret = subscribed.data && "secret" in subscribed.data ? subscribed.data.secret : "";

const page = await client.listJobs({ limit: 10 });
const job = await client.createJob({
  job_title: "Boiler Service - Unit 001",
  job_description: "Annual boiler service",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
  address_id: Number(ADDRESS_ID),
  job_total_budget: 250,
});
const photo = await client.uploadPhoto({
  job_id: job.job_id,
  photo_type: "before",
  file: new Blob([await readFile(PHOTO)], { type: "image/jpeg" }),
  filename: "boiler-before.jpg",
});
const note = await client.addNote({ job_uuid: job.job_uuid, message: "Contractor booked for Monday." });

// A refusal is a typed error: the API's code and the request id to quote.
let refusal: { status: number; code: string; request_id: string } | undefined;
try {
  await client.updateJob({ uuid: "00000000-0000-4000-8000-000000000000", job_title: "Nobody's job" });
} catch (err) {
  if (!(err instanceof PropOpsError)) throw err;
  refusal = { status: err.status, code: err.code, request_id: err.requestId };
}

// The job.created event of our job, delivered and verified.
const deadline = Date.now() + 30_000;
let created: WebhookEvent | undefined;
while (!created && Date.now() < deadline) {
  created = events.find((e) => isEvent(e, "job.created") && e.data.job_uuid === job.job_uuid);
  if (!created) await new Promise((r) => setTimeout(r, 200));
}
receiver.close();

console.log(
  JSON.stringify({
    listed: page.count,
    job: { job_id: job.job_id, job_uuid: job.job_uuid, job_ref: job.job_ref },
    photo: { photo_uuid: photo.photo_uuid, processing_status: photo.processing_status },
    note: { note_uuid: note.note_uuid },
    refusal,
    webhook: created ? { verified: true, type: created.type, job_uuid: created.data.job_uuid } : { verified: false },
  }),
);
