/**
 * Webhooks, complete (issue 24): every change an integrator syncs reaches a subscription as a named
 * event, each carrying the job's reference, status and priority names beside their ids, and the
 * job's `sequence` (assigned by the outbox insert itself, in the change's transaction); the delivery
 * log says when a pending delivery is next attempted.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { makeJpeg, makePdf } from "../../../../scripts/lib/media-fixtures";
import { createServices } from "../../../../src/platform/services";
import { deliverWebhook, retryDelaySeconds } from "../../../../src/webhooks/deliver";
import { relayWebhookEvents } from "../../../../src/webhooks/relay";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../../../support/helpers";
import { rows, send } from "../../../support/workflow-helpers";

const ADMIN_PATH = "/api/admin/webhooks";
// Nothing listens on the discard port: the real queue's attempts there fail and back off.
const DEAD_TARGET = "http://127.0.0.1:9/hooks";

let fx: Fixtures;
let admin: Actor;
let staff: Actor;
let subscription: string;

beforeAll(async () => {
  fx = await seedFixtures();
  admin = await actor("admin");
  staff = await actor("staff");
  const res = await send(admin, "POST", ADMIN_PATH, { action: "create", url: DEAD_TARGET });
  expectStatus(res, 201);
  subscription = res.body.subscription.uuid;
});

interface Event {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { job_uuid: string; job_ref: string | null; sequence: number | null };
}

/** Relays what is pending, then the events this subscription got about one job, in outbox order. */
async function eventsOf(jobUuid: string): Promise<Event[]> {
  await relayWebhookEvents(createServices(env));
  const found = await rows<{ payload: string }>(
    `SELECT d.payload FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
     WHERE s.uuid = ? ORDER BY d.audit_event_id, d.id`,
    subscription,
  );
  return found.map((r) => JSON.parse(r.payload) as Event).filter((e) => e.data.job_uuid === jobUuid);
}

function uploadPhoto(jobId: number, type = "before") {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(jobId));
  form.append("photo_type", type);
  form.append("file", new Blob([makeJpeg(64, 48)], { type: "image/jpeg" }), "boiler.jpg");
  return api("POST", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: form });
}

function uploadDocument(jobId: number) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(jobId));
  form.append("file_type_id", "1");
  form.append("file", new Blob([makePdf()], { type: "application/pdf" }), "quote.pdf");
  return api("POST", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: form });
}

describe("events for every change an integrator syncs", () => {
  it("photos, documents, note edits and deletes, remedial links: named events with job_ref and an increasing sequence", async () => {
    const job = await createJob(staff, fx);
    const remedial = await createJob(staff, fx, { job_title: "Follow-up" });

    const photo = await uploadPhoto(job.job_id);
    expectStatus(photo, 201);
    const doc = await uploadDocument(job.job_id);
    expectStatus(doc, 201);
    const note = await send(staff, "POST", "/api/jobs/case-notes", { action: "create", job_uuid: job.job_uuid, message: "Secret 4411" });
    expectStatus(note, 201);
    expectStatus(
      await send(staff, "POST", "/api/jobs/case-notes", { action: "update", uuid: note.body.note_uuid, message: "Secret 5522" }),
      200,
    );
    expectStatus(await send(staff, "POST", "/api/jobs/case-notes", { action: "delete", uuid: note.body.note_uuid }), 200);
    expectStatus(
      await send(staff, "POST", "/api/jobs/remedials", { action: "link", job_uuid: job.job_uuid, remedials_job_uuid: remedial.job_uuid }),
      200,
    );
    expectStatus(await send(staff, "POST", "/api/jobs/remedials", { action: "unlink", job_uuid: remedial.job_uuid }), 200);
    expectStatus(await api("DELETE", "/api/jobs/photos", { token: staff.token, csrf: staff.csrf, body: { id: photo.body.photo_id } }), 200);
    expectStatus(
      await api("DELETE", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: { document_id: doc.body.document_id } }),
      200,
    );

    const events = (await eventsOf(job.job_uuid)).filter((e) => e.type !== "media.processed" && e.type !== "media.failed");
    expect(events.map((e) => e.type)).toEqual([
      "job.created",
      "media.uploaded",
      "media.uploaded",
      "note.added",
      "note.updated",
      "note.deleted",
      "remedial.linked",
      "remedial.unlinked",
      "media.deleted",
      "media.deleted",
    ]);
    for (const e of events) expect(e.data.job_ref).toBe(job.job_ref);
    // Strictly increasing per job: a receiver keeps the newest sequence per job and drops lower ones.
    const sequences = events.map((e) => e.data.sequence as number);
    expect(sequences[0]).toBe(1);
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1] as number);

    const [created, image, pdf, , updated, deleted, linked, unlinked] = events;
    expect(created?.data).toMatchObject({ status: { before: null, after: "Open" }, priority: { before: null, after: "Medium" } });
    expect(image?.data).toMatchObject({ kind: "image", photo_uuid: photo.body.photo_uuid, photo_type: "before", filename: "boiler.jpg" });
    expect(pdf?.data).toMatchObject({ kind: "document", document_uuid: doc.body.document_uuid, filename: "quote.pdf" });
    expect(updated?.data).toMatchObject({ note_uuid: note.body.note_uuid, fields: ["message"] });
    expect(deleted?.data).toMatchObject({ note_uuid: note.body.note_uuid });
    expect(linked?.data).toMatchObject({ role: "parent", other_job_ref: remedial.job_ref });
    expect(unlinked?.data).toMatchObject({ role: "parent", other_job_ref: remedial.job_ref });
    // Note text never leaves, edited or not.
    expect(JSON.stringify(events)).not.toMatch(/4411|5522/);

    const other = await eventsOf(remedial.job_uuid);
    expect(other.map((e) => [e.type, e.data.sequence, e.data.job_ref])).toEqual([
      ["job.created", 1, remedial.job_ref],
      ["remedial.linked", 2, remedial.job_ref],
      ["remedial.unlinked", 3, remedial.job_ref],
    ]);
    expect(other[1]?.data).toMatchObject({ role: "remedial", other_job_ref: job.job_ref });
  });

  it("status and priority names beside their ids; both events of one change share its sequence", async () => {
    const job = await createJob(staff, fx);
    const res = await send(staff, "POST", "/api/jobs/manage", { action: "update", uuid: job.job_uuid, status_id: 8, priority_id: 1 });
    expectStatus(res, 200);
    const [created, updated, moved] = await eventsOf(job.job_uuid);
    expect(created?.data.sequence).toBe(1);
    expect(updated?.type).toBe("job.updated");
    expect(updated?.data).toMatchObject({
      sequence: 2,
      status: { before: "Open", after: "Cancelled" },
      priority: { before: "Medium", after: expect.any(String) },
      changes: { status_id: { before: 1, after: 8 }, priority_id: { before: 2, after: 1 } },
    });
    expect(moved).toMatchObject({
      type: "job.status_changed",
      data: { sequence: 2, job_ref: job.job_ref, status_id: { before: 1, after: 8 }, status: { before: "Open", after: "Cancelled" } },
    });
  });

  it("a deleted job's events keep its reference, and its deletion continues the sequence", async () => {
    const job = await createJob(staff, fx);
    expectStatus(await send(staff, "POST", "/api/jobs/case-notes", { action: "create", job_uuid: job.job_uuid, message: "x" }), 201);
    expectStatus(await send(staff, "POST", "/api/jobs/manage", { action: "delete", uuid: job.job_uuid }), 200);
    const events = await eventsOf(job.job_uuid);
    expect(events.map((e) => [e.type, e.data.sequence, e.data.job_ref])).toEqual([
      ["job.created", 1, job.job_ref],
      ["note.added", 2, job.job_ref],
      ["job.deleted", 3, job.job_ref],
    ]);
  });

  it("concurrent writes to one job get distinct, gapless numbers; a forged sequence in the insert is overwritten", async () => {
    const job = await createJob(staff, fx);
    const writes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(staff, "POST", "/api/jobs/case-notes", { action: "create", job_uuid: job.job_uuid, message: `note ${i}` }),
      ),
    );
    for (const w of writes) expectStatus(w, 201);
    await env.DB.prepare(
      "INSERT INTO audit_events (uuid, job_uuid, actor_name, action, changes, sequence, job_ref) VALUES (?, ?, 'Forger', 'case_note.deleted', '{}', 1, NULL)",
    )
      .bind(crypto.randomUUID(), job.job_uuid)
      .run();
    const stored = await rows<{ sequence: number; job_ref: string }>(
      "SELECT sequence, job_ref FROM audit_events WHERE job_uuid = ? ORDER BY id",
      job.job_uuid,
    );
    expect(stored.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(stored.map((r) => r.job_ref))).toEqual(new Set([job.job_ref]));
  });

  it("an event about no job has no sequence; malformed stored changes do not break the insert", async () => {
    const uuid = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO audit_events (uuid, job_uuid, actor_name, action, changes) VALUES (?, NULL, 'x', 'job.updated', 'not json')",
    )
      .bind(uuid)
      .run();
    const [row] = await rows<{ sequence: number | null }>("SELECT sequence FROM audit_events WHERE uuid = ?", uuid);
    expect(row?.sequence).toBeNull();
    const bad = crypto.randomUUID();
    const job = await createJob(staff, fx);
    await env.DB.prepare("INSERT INTO audit_events (uuid, job_uuid, actor_name, action, changes) VALUES (?, ?, 'x', 'job.updated', '{bad')")
      .bind(bad, job.job_uuid)
      .run();
    const [after] = await rows<{ sequence: number; job_ref: string }>("SELECT sequence, job_ref FROM audit_events WHERE uuid = ?", bad);
    expect(after).toEqual({ sequence: 2, job_ref: job.job_ref });
  });
});

describe("the delivery log's next_attempt_at", () => {
  it("pending: when it is next attempted (now when queued, now + backoff after a failed attempt); null once delivered", async () => {
    const job = await createJob(staff, fx);
    await relayWebhookEvents(createServices(env));
    const [row] = await rows<{ id: number; uuid: string; next_attempt_at: string; created_at: string }>(
      "SELECT id, uuid, next_attempt_at, created_at FROM webhook_deliveries WHERE payload LIKE ? ORDER BY id",
      `%${job.job_uuid}%`,
    );
    if (!row) throw new Error("no delivery");
    expect(row.next_attempt_at).toBe(row.created_at);

    const failing = (async () => new Response("no", { status: 503 })) as unknown as typeof fetch;
    const before = Date.now();
    expect(await deliverWebhook(createServices(env), row.id, { fetcher: failing, retryDelaySeconds: retryDelaySeconds(3) })).toBe("retry");
    const log = await api("GET", `/api/admin/webhooks/deliveries?subscription_uuid=${subscription}&status=pending&limit=200`, {
      token: admin.token,
    });
    expectStatus(log, 200);
    const listed = log.body.data.find((d: { uuid: string }) => d.uuid === row.uuid);
    expect(listed).toMatchObject({ status: "pending", response_status: 503 });
    const next = Date.parse(listed.next_attempt_at);
    // 80 s of backoff for a third attempt, from the moment of the attempt (seconds resolution).
    expect(next).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 80_000);
    expect(next).toBeLessThanOrEqual(Date.now() + 81_000);

    const ok = (async () => new Response(null, { status: 204 })) as unknown as typeof fetch;
    expect(await deliverWebhook(createServices(env), row.id, { fetcher: ok })).toBe("delivered");
    const done = await api("GET", `/api/admin/webhooks/deliveries?subscription_uuid=${subscription}&status=delivered&limit=200`, {
      token: admin.token,
    });
    expect(done.body.data.find((d: { uuid: string }) => d.uuid === row.uuid)).toMatchObject({ status: "delivered", next_attempt_at: null });
  });
});
