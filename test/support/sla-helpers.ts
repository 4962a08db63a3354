import { env } from "cloudflare:test";
import type { Fixtures } from "./helpers";

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

/** ISO-8601 UTC without milliseconds, as the jobs table stores times. */
export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
/** The UTC date (YYYY-MM-DD) `days` from `ms`. */
export const day = (ms: number, days = 0) => iso(ms + days * 24 * HOUR).slice(0, 10);

export const STATUS = { open: 1, inProgress: 4, recalled: 5, completed: 6, closed: 7, cancelled: 8, archived: 9 } as const;
export const PRIORITY = { low: 1, medium: 2, high: 3, emergency: 4 } as const;

let seq = 0;

export interface PlacedJob {
  id: number;
  uuid: string;
  jobRef: string;
}

/**
 * A job row written straight into D1 with a chosen SLA clock, so tests can place it before, at or
 * past its deadline relative to a fixed "now" (the API would stamp the real clock).
 */
export async function placeJob(
  fx: Fixtures,
  opts: {
    deadline: string | null;
    startedAt?: string;
    statusId?: number;
    priorityId?: number;
    endDate?: string | null;
    agentId?: number | null;
    contractorId?: number | null;
    title?: string;
  },
): Promise<PlacedJob> {
  const n = ++seq;
  const uuid = crypto.randomUUID();
  const jobRef = `SLA-${String(n).padStart(4, "0")}-${uuid.slice(0, 4)}`;
  const row = await env.DB.prepare(
    `INSERT INTO jobs (uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, agent_id,
       contractor_id, vat_percentage, date_works_end_date, sla_started_at, sla_deadline)
     VALUES (?, ?, ?, 'Placed by the SLA tests', ?, ?, 3, ?, ?, ?, 20, ?, ?, ?) RETURNING id`,
  )
    .bind(
      uuid,
      jobRef,
      opts.title ?? `Boiler Service - Unit ${String(n).padStart(3, "0")}`,
      opts.statusId ?? STATUS.open,
      opts.priorityId ?? PRIORITY.medium,
      fx.addressId,
      opts.agentId === undefined ? fx.agentId : opts.agentId,
      opts.contractorId === undefined ? fx.contractorId : opts.contractorId,
      opts.endDate ?? null,
      opts.startedAt ?? (opts.deadline ? iso(Date.parse(opts.deadline) - 72 * HOUR) : iso(Date.now())),
      opts.deadline,
    )
    .first<{ id: number }>();
  if (!row) throw new Error("job not inserted");
  return { id: row.id, uuid, jobRef };
}

/** A new agent record (so a test can isolate its jobs with the agent filter). */
export async function newAgent(email: string | null = null): Promise<number> {
  const row = await env.DB.prepare("INSERT INTO agents (uuid, name, email) VALUES (?, ?, ?) RETURNING id")
    .bind(crypto.randomUUID(), `Agent ${++seq}`, email)
    .first<{ id: number }>();
  if (!row) throw new Error("agent not inserted");
  return row.id;
}
