import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { TRANSITIONS } from "../../src/domain/lifecycle";
import { noteReplyAddress } from "../../src/email/note-mail";
import worker from "../../src/index";
import { type Actor, type ApiResponse, actor, api, createJob, type Fixtures, seedFixtures } from "../support/helpers";

// A property of the lifecycle (src/domain/lifecycle.ts) over every channel that can change a
// job's status: random operations by random roles, and after each step
// - a step that succeeded moved the job only along a transition of the table, through the channel
//   it used, by a role the table lets take it (a contractor only on its own job);
// - a step that was refused changed nothing: the job's row and the outbox (audit events, which
//   feed webhooks) are exactly as before.
// The seed is fixed so a failure reproduces; the log of the last steps is in the failure message.

const STEPS = 2_100;
const SEED = 20261202;

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type RoleName = "admin" | "manager" | "staff" | "agent" | "contractor" | "other_contractor";
type Channel = (typeof TRANSITIONS)[number]["via"] | "amendment" | "assign" | "accept" | "decline" | "mail";

interface Job {
  uuid: string;
  id: number;
}

let fx: Fixtures;
const callers = new Map<RoleName, Actor[]>();
const ROLES: RoleName[] = ["admin", "manager", "staff", "agent", "contractor", "other_contractor"];

beforeAll(async () => {
  fx = await seedFixtures();
  for (const role of ROLES) {
    const list: Actor[] = [];
    // Several tokens a role, so the per-token rate limit is not what the walk measures.
    for (let i = 0; i < 4; i++) {
      if (role === "contractor") list.push(await actor("contractor", { contractorId: fx.contractorId }));
      else if (role === "other_contractor") list.push(await actor("contractor", { contractorId: fx.otherContractorId }));
      else list.push(await actor(role));
    }
    callers.set(role, list);
  }
});

async function jobRow(uuid: string) {
  return env.DB.prepare("SELECT * FROM jobs WHERE uuid = ?").bind(uuid).first<Record<string, unknown>>();
}
async function outbox() {
  return (
    (await env.DB.prepare("SELECT count(*) AS n, max(id) AS last FROM audit_events").first<{ n: number; last: number }>()) ?? {
      n: 0,
      last: 0,
    }
  );
}

describe("the lifecycle holds over random walks on every channel", () => {
  it(`${STEPS} random steps by random roles: every success is an allowed transition, every refusal changes nothing`, async () => {
    const rnd = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const staff = callers.get("staff")?.[0] as Actor;
    const jobs: Job[] = [];
    const newJob = async (fields: Record<string, unknown> = {}) => {
      const made = await createJob(staff, fx, { job_type_id: pick([3, 9]), ...fields });
      jobs.push({ uuid: made.job_uuid, id: made.job_id });
    };
    for (let i = 0; i < 8; i++) await newJob();

    const log: string[] = [];
    const counts = { steps: 0, succeeded: 0, refused: 0, moved: 0 };
    const byChannel: Record<string, number> = {};
    let mailAccepted = 0;

    for (let step = 0; step < STEPS; step++) {
      const role = pick(ROLES);
      const who = pick(callers.get(role) ?? []);
      const job = pick(jobs);
      // Set-up, not a step: now and then an "after" photo lands on the job (the completion evidence).
      if (rnd() < 0.1) {
        const key = `jobs/${job.uuid}/photos/${crypto.randomUUID()}/original.jpg`;
        await env.DB.prepare(
          "INSERT INTO photos (uuid, job_id, photo_type, kind, r2_key, filename, content_type, size) VALUES (?, ?, 'after', 'image', ?, 'after.jpg', 'image/jpeg', 1)",
        )
          .bind(crypto.randomUUID(), job.id, key)
          .run();
      }
      let before = await jobRow(job.uuid);
      let box = await outbox();
      if (!before) throw new Error("job vanished");
      const ip = `10.${step % 200}.${Math.floor(step / 200)}.7`;
      const call = (method: string, path: string, body: Record<string, unknown>) =>
        api(method, path, {
          token: who.token,
          csrf: who.csrf,
          body,
          as: rnd() < 0.5 ? "form" : "json",
          headers: { "cf-connecting-ip": ip },
        });

      let channel: Channel;
      let res: ApiResponse;
      let created: string | undefined;
      const r = rnd();
      if (r < 0.18) {
        channel = "update";
        res = await call("POST", "/api/jobs/manage", { action: "update", uuid: job.uuid, status_id: 1 + Math.floor(rnd() * 9) });
      } else if (r < 0.22) {
        channel = "create";
        res = await call("POST", "/api/jobs/manage", {
          action: "create",
          job_title: "Walk job",
          job_description: "Created by the lifecycle walk",
          priority_id: 2,
          status_id: pick([1, 2, 3, 4, 6]),
          job_type_id: pick([3, 9]),
          address_id: fx.addressId,
          contractor_id: fx.contractorId,
        });
        if (res.status === 201) created = res.body.job_uuid;
      } else if (r < 0.3) {
        channel = "approval_gate";
        res = await call("POST", "/api/jobs/approval-gate", { job_uuid: job.uuid, decision: pick(["approve", "reject"]) });
      } else if (r < 0.36) {
        channel = "recall";
        res = await call("POST", "/api/jobs/recall", { job_uuid: job.uuid, is_recall: 1, recall_reason: "Leak is back" });
      } else if (r < 0.41) {
        channel = "recall_completion";
        res = await call("POST", "/api/jobs/mark-recall-completed", { job_uuid: job.uuid });
      } else if (r < 0.44) {
        channel = "recall_cancel";
        res = await call("POST", "/api/jobs/recall", { job_uuid: job.uuid, is_recall: 0, action_type: "cancel" });
      } else if (r < 0.46) {
        // Inbound mail: the contractor replies to a note of the job (a case note, never a status move);
        // the note is set-up (made by staff first), the reply is the step.
        channel = "mail";
        const note = await api("POST", "/api/jobs/case-notes", {
          token: staff.token,
          csrf: staff.csrf,
          body: { action: "create", job_uuid: job.uuid, message: "Please confirm the visit", send_email: true },
          headers: { "cf-connecting-ip": ip },
        });
        const noteUuid = note.status === 201 ? (note.body.note_uuid as string) : crypto.randomUUID();
        before = (await jobRow(job.uuid)) ?? before;
        box = await outbox();
        const sender = rnd() < 0.8 ? "contractor1@example.test" : "stranger@example.test";
        const to = await noteReplyAddress(env.SIGNING_SECRET, noteUuid, "contractor1@example.test", env.EMAIL_DOMAIN);
        const raw = [
          `From: Bob Builder <${sender}>`,
          `To: ${to}`,
          "Subject: Re: your job",
          `Message-ID: <${crypto.randomUUID()}@mail.example.test>`,
          "Date: Tue, 02 Jun 2026 09:00:00 +0000",
          "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=utf-8",
          "",
          "Yes, Tuesday morning.",
          "",
        ].join("\r\n");
        const bytes = new TextEncoder().encode(raw);
        let rejected: string | undefined;
        const message = {
          from: sender,
          to,
          headers: new Headers(),
          raw: new Blob([bytes]).stream(),
          rawSize: bytes.byteLength,
          setReject: (reason: string) => {
            rejected = reason;
          },
          forward: async () => ({}),
          reply: async () => ({}),
        } as unknown as ForwardableEmailMessage;
        await worker.email(message, env, createExecutionContext());
        res = { status: rejected ? 422 : 200, headers: new Headers(), body: { code: rejected ?? "" } };
      } else if (r < 0.48) {
        channel = "amendment";
        const pending = await env.DB.prepare("SELECT uuid FROM amendment_requests WHERE job_id = ? AND status = 'pending' LIMIT 1")
          .bind(job.id)
          .first<{ uuid: string }>();
        res = pending
          ? await call("PATCH", "/api/jobs/amend-request", { uuid: pending.uuid, status: pick(["approved", "rejected"]) })
          : await call("POST", "/api/jobs/amend-request", {
              job_uuid: job.uuid,
              field_name: "contractor_budget",
              requested_value: String(100 + step),
              reason: "Extra parts",
            });
      } else if (r < 0.52) {
        channel = "assign";
        res = await call("POST", "/api/jobs/manage", { action: "update", uuid: job.uuid, contractor_id: fx.contractorId });
      } else if (r < 0.6) {
        channel = "accept";
        res = await call("POST", "/api/jobs/work", { action: "accept", job_uuid: job.uuid });
      } else if (r < 0.63) {
        channel = "decline";
        res = await call("POST", "/api/jobs/work", { action: "decline", job_uuid: job.uuid, reason: "Fully booked" });
      } else if (r < 0.73) {
        channel = "start";
        res = await call("POST", "/api/jobs/work", { action: "start", job_uuid: job.uuid });
      } else if (r < 0.85) {
        channel = "complete";
        const note = rnd() < 0.8 ? { completion_note: "Done and tested" } : {};
        res = await call("POST", "/api/jobs/work", { action: "complete", job_uuid: job.uuid, ...note });
      } else if (r < 0.93) {
        channel = "sign_off";
        res = await call("POST", "/api/jobs/work", { action: "sign_off", job_uuid: job.uuid });
      } else {
        channel = "send_back";
        res = await call("POST", "/api/jobs/work", {
          action: "send_back",
          job_uuid: job.uuid,
          ...(rnd() < 0.85 ? { reason: "Not fixed" } : {}),
        });
      }

      const after = await jobRow(job.uuid);
      const line = `#${step} ${role} ${channel} ${job.uuid.slice(0, 8)} ${String(before.status_id)}→${String(after?.status_id)} ${res.status} ${res.body?.code ?? ""}`;
      log.push(line);
      const context = () => log.slice(-12).join("\n");
      counts.steps++;
      byChannel[channel] = (byChannel[channel] ?? 0) + 1;
      expect(res.status, `a server error\n${context()}`).toBeLessThan(500);

      if (res.status >= 400) {
        counts.refused++;
        expect(after, `a refused step changed the job\n${context()}`).toEqual(before);
        expect(await outbox(), `a refused step wrote an event\n${context()}`).toEqual(box);
        continue;
      }
      counts.succeeded++;
      if (channel === "mail") mailAccepted++;
      if (created) {
        const row = await jobRow(created);
        const status = Number(row?.status_id);
        expect(
          TRANSITIONS.some((t) => t.from === null && t.to === status && t.via === "create" && t.roles.includes(who.role)),
          `created as ${status} by ${who.role}\n${context()}`,
        ).toBe(true);
        if (jobs.length < 30) jobs.push({ uuid: created, id: Number(row?.id) });
        continue;
      }
      const from = Number(before.status_id);
      const to = Number(after?.status_id);
      if (from === to) continue;
      counts.moved++;
      const ownJob = who.role !== "contractor" || (who.contractorId !== null && who.contractorId === before.contractor_id);
      const allowed = TRANSITIONS.some((t) => t.from === from && t.to === to && t.via === channel && t.roles.includes(who.role));
      expect(allowed && ownJob, `${from}→${to} through ${channel} by ${role} is not in the lifecycle\n${context()}`).toBe(true);
    }

    // The history each job's outbox records is a path of allowed transitions.
    for (const job of jobs) {
      const { results } = await env.DB.prepare("SELECT changes FROM audit_events WHERE job_uuid = ? ORDER BY id").bind(job.uuid).all<{
        changes: string | null;
      }>();
      let status: number | null = null;
      for (const r of results) {
        const change = r.changes ? (JSON.parse(r.changes) as Record<string, unknown>).status_id : undefined;
        if (!change || typeof change !== "object") continue;
        const { before, after } = change as { before?: number; after?: number };
        if (typeof after !== "number") continue;
        if (typeof before === "number") {
          expect(before, `history of ${job.uuid} jumps`).toBe(status);
          expect(TRANSITIONS.some((t) => t.from === before && t.to === after)).toBe(true);
        }
        status = after;
      }
      if (status !== null) expect(Number((await jobRow(job.uuid))?.status_id)).toBe(status);
    }

    // The walk must actually exercise the lifecycle, not only be refused.
    expect(counts.steps).toBe(STEPS);
    expect(counts.moved).toBeGreaterThan(60);
    // Replies do land (threaded notes), not only bounce.
    expect(mailAccepted).toBeGreaterThan(5);
    expect(counts.refused).toBeGreaterThan(300);
    for (const channel of [
      "update",
      "create",
      "approval_gate",
      "recall",
      "recall_completion",
      "start",
      "complete",
      "sign_off",
      "send_back",
      "mail",
    ]) {
      expect(byChannel[channel] ?? 0, channel).toBeGreaterThan(20);
    }
  }, 600_000);
});
