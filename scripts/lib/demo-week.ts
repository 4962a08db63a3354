/**
 * The demo's "realistic week" (issue 20), added by scripts/seed.ts after the dozen base jobs
 * (JOB-001..JOB-012, which the browser tests read and which this leaves untouched): JOB-013 onwards,
 * created over the last seven days, in every status of the lifecycle (src/domain/lifecycle.ts)
 * with the timestamps each status implies, the audit trail of each step, case notes (sealed as the
 * API seals them), pending amendment requests, SLA breaches, contractors with trades, agents,
 * staff and tenants at their addresses.
 *
 * No photo or document rows: the seed writes D1 only (npm run dev seeds through node:sqlite, with
 * no R2), and a row must never point at a missing object. Completed jobs carry their completion
 * note; their "after" photos are not seeded (the evidence is checked when a job is completed, and
 * a newcomer can upload some through the dashboard).
 */
import type { FieldCipher } from "../../src/crypto/fields";
import { STATUS, STATUS_NAMES, type StatusId } from "../../src/domain/lifecycle";
import { encryptNote } from "../../src/domain/notes";
import { toIsoSeconds } from "../../src/domain/time";

type Run = (sql: string, ...args: unknown[]) => void;

const HOUR = 3_600_000;
const SLA_HOURS: Record<number, number> = { 1: 336, 2: 72, 3: 24, 4: 4 };

/** The base seed's users (scripts/seed.ts) that act in the week, by id. */
const BASE_PEOPLE: Record<number, string> = { 1: "Admin_001", 2: "Manager_001", 3: "Staff_001", 4: "Agent_001" };

/** Agents after the base seed's 10..12: [id, name, active]. */
const AGENTS: [number, string, boolean][] = [
  [13, "Harbour Lettings", true],
  [14, "Northfield Homes", true],
  [15, "Quayside Estates", true],
  [16, "Old Town Lets", false],
];

/** Contractors after the base seed's 20..22: [id, name, active, trades (job type ids)]. */
const CONTRACTORS: [number, string, boolean, number[]][] = [
  [23, "Apex Plumbing & Heating", true, [2, 3]],
  [24, "Brightspark Electrical", true, [4]],
  [25, "Castle Roofing", true, [5, 1]],
  [26, "Dryline Damp Solutions", true, [10, 7]],
  [27, "Keyworks Locksmiths", true, [9, 6]],
  [28, "Fixit General Maintenance", true, [1, 6, 7, 8]],
  [29, "Gasline Heating", true, [3]],
  [30, "Hilltop Roofing", false, [5]],
];
/** The base seed's contractors take trades too. */
const BASE_TRADES: [number, number[]][] = [
  [20, [1, 2]],
  [21, [3, 4]],
  [22, [6, 7]],
];

/** Tenants after the base seed's 1..5, each at an address: [id, name, address_id, active]. */
const TENANTS: [number, string, number, boolean][] = [
  [6, "Amira Khan", 1, true],
  [7, "Ben Walsh", 2, true],
  [8, "Chloe Evans", 3, true],
  [9, "Dev Patel", 4, true],
  [10, "Ella Morgan", 5, true],
  [11, "Finn O'Brien", 6, true],
  [12, "Grace Lee", 7, true],
  [13, "Harry Jones", 8, true],
  [14, "Isla Brown", 9, true],
  [15, "Jack Taylor", 10, true],
  [16, "Kira Novak", 1, false],
];

/**
 * Users of the week (ids after the base seed's 1..6): a second staff member and manager, a user
 * for each new contractor (it accepts, starts and completes its jobs) and one for the first new agent.
 */
const USERS: { id: number; name: string; role: string; contractor: number | null; agent: number | null }[] = [
  { id: 7, name: "Staff_002", role: "staff", contractor: null, agent: null },
  { id: 8, name: "Manager_002", role: "manager", contractor: null, agent: null },
  ...CONTRACTORS.filter(([, , active]) => active).map(([cid, name], k) => ({
    id: 9 + k,
    name,
    role: "contractor",
    contractor: cid,
    agent: null,
  })),
  { id: 16, name: "Harbour Lettings desk", role: "agent", contractor: null, agent: 13 },
];
const NAMES: Record<number, string> = { ...BASE_PEOPLE, ...Object.fromEntries(USERS.map((u) => [u.id, u.name])) };
/** The user acting for a contractor (the office's Staff_001 when it has none). */
const userOf = (contractor: number | null) => USERS.find((u) => u.contractor === contractor)?.id ?? 3;

/**
 * One job's week. Hours are counted from its creation: `accepted`, `started`, `completed`,
 * `signedOff` (by manager `signer`), `recalled` (a recall raised then, still open), `ended`
 * (cancelled or archived then). Whatever a status has not reached yet is left out.
 */
interface WeekJob {
  status: StatusId;
  title: string;
  description: string;
  type: number;
  priority: number;
  contractor: number | null;
  agent: number;
  address: number;
  createdBy: number;
  /** Hours before now. */
  age: number;
  accepted?: number;
  started?: number;
  completed?: number;
  signedOff?: number;
  signer?: number;
  approved?: number;
  recalled?: number;
  /** Cancelled at (and archived at, for archived jobs: `archived`). */
  cancelled?: number;
  archived?: number;
  /** Scheduled end, in days from creation (an open job past it but within its SLA is "overdue"). */
  endDays?: number;
  notes?: [hours: number, author: number, text: string][];
  completionNote?: string;
  /** Pending requests by the contractor: a budget rise or a later end date, with the reason. */
  amendments?: [field: "contractor_budget" | "date_works_end_date", reason: string][];
}

const { OPEN, AWAITING_APPROVAL, APPROVED, IN_PROGRESS, RECALLED, COMPLETED, CLOSED, CANCELLED, ARCHIVED } = STATUS;

const WEEK: WeekJob[] = [
  // Open: one breached (an emergency nobody has attended), one fresh, one overdue on its dates.
  {
    status: OPEN,
    title: "Burst pipe under kitchen sink",
    description: "Water pouring from the cold feed under the sink; tenant has shut the stopcock.",
    type: 2,
    priority: 4,
    contractor: 23,
    agent: 13,
    address: 1,
    createdBy: 3,
    age: 30,
    notes: [[1, 3, "Called Apex: no answer. Tenant has no water in the kitchen."]],
  },
  {
    status: OPEN,
    title: "No hot water",
    description: "Combi boiler shows fault F28 since this morning.",
    type: 3,
    priority: 3,
    contractor: null,
    agent: 14,
    address: 2,
    createdBy: 4,
    age: 3,
  },
  {
    status: OPEN,
    title: "Loose stair banister",
    description: "Banister rail wobbles at the top of the stairs.",
    type: 6,
    priority: 1,
    contractor: 28,
    agent: 15,
    address: 3,
    createdBy: 7,
    age: 100,
    endDays: 2,
  },
  // Awaiting Approval: the landlord has a quote; one has been waiting past its SLA.
  {
    status: AWAITING_APPROVAL,
    title: "Replace consumer unit",
    description: "Old fuse board fails inspection; quote for a new consumer unit with RCBOs.",
    type: 4,
    priority: 2,
    contractor: 24,
    agent: 13,
    address: 4,
    createdBy: 3,
    age: 80,
    notes: [[2, 3, "Quote of £1,450 sent to the landlord for approval."]],
  },
  {
    status: AWAITING_APPROVAL,
    title: "Re-felt garage roof",
    description: "Garage roof felt split; water on the floor after rain.",
    type: 5,
    priority: 1,
    contractor: 25,
    agent: 14,
    address: 5,
    createdBy: 4,
    age: 20,
  },
  // Approved: one accepted by its contractor, one not yet (and breached).
  {
    status: APPROVED,
    title: "Repair leaking gutter",
    description: "Front gutter joint drips onto the porch.",
    type: 5,
    priority: 2,
    contractor: 25,
    agent: 15,
    address: 6,
    createdBy: 7,
    age: 40,
    approved: 4,
    accepted: 6,
  },
  {
    status: APPROVED,
    title: "Annual boiler service",
    description: "Service and flue check due this month.",
    type: 3,
    priority: 3,
    contractor: 29,
    agent: 13,
    address: 7,
    createdBy: 3,
    age: 28,
    approved: 1,
  },
  // In Progress: on site; one has pending amendment requests, one is past its deadline.
  {
    status: IN_PROGRESS,
    title: "Treat mould in bedroom",
    description: "Black mould on the north wall and window reveal of bedroom 2.",
    type: 10,
    priority: 2,
    contractor: 26,
    agent: 14,
    address: 8,
    createdBy: 4,
    age: 60,
    approved: 2,
    accepted: 3,
    started: 20,
    notes: [[21, 2, "Dryline on site; dehumidifier left running for 48 hours."]],
  },
  {
    status: IN_PROGRESS,
    title: "Replace radiator valve",
    description: "Lounge radiator valve weeping; radiator cold.",
    type: 2,
    priority: 3,
    contractor: 23,
    agent: 15,
    address: 9,
    createdBy: 7,
    age: 30,
    approved: 1,
    accepted: 2,
    started: 5,
    amendments: [
      ["contractor_budget", "Second valve seized too; both need replacing."],
      ["date_works_end_date", "Valves on order: two more days."],
    ],
  },
  {
    status: IN_PROGRESS,
    title: "Rewire kitchen spur",
    description: "Fused spur for the extractor is scorched.",
    type: 4,
    priority: 1,
    contractor: 24,
    agent: 13,
    address: 10,
    createdBy: 3,
    age: 50,
    approved: 2,
    accepted: 4,
    started: 26,
  },
  // Recalled: completed, then the fault came back.
  {
    status: RECALLED,
    title: "Unblock shower drain",
    description: "Shower tray drains slowly and smells.",
    type: 2,
    priority: 2,
    contractor: 23,
    agent: 14,
    address: 1,
    createdBy: 4,
    age: 150,
    approved: 1,
    accepted: 2,
    started: 24,
    completed: 30,
    completionNote: "Cleared hair and soap build-up from the trap; water drains freely.",
    recalled: 100,
  },
  // Completed: waiting for a manager's sign-off.
  {
    status: COMPLETED,
    title: "Change front door lock",
    description: "Tenant lost a key; replace the euro cylinder.",
    type: 9,
    priority: 3,
    contractor: 27,
    agent: 15,
    address: 2,
    createdBy: 7,
    age: 70,
    approved: 0.5,
    accepted: 1,
    started: 4,
    completed: 6,
    completionNote: "Fitted a new BS3621 euro cylinder; three keys handed to the tenant.",
  },
  {
    status: COMPLETED,
    title: "Fix dripping bath tap",
    description: "Hot tap on the bath drips constantly.",
    type: 2,
    priority: 2,
    contractor: 23,
    agent: 13,
    address: 3,
    createdBy: 3,
    age: 90,
    approved: 2,
    accepted: 3,
    started: 26,
    completed: 28,
    completionNote: "Replaced the tap washer and ceramic cartridge; no drip after an hour.",
  },
  // Closed: signed off.
  {
    status: CLOSED,
    title: "Replace extractor fan",
    description: "Bathroom extractor fan noisy and barely pulling air.",
    type: 4,
    priority: 2,
    contractor: 24,
    agent: 14,
    address: 4,
    createdBy: 4,
    age: 160,
    approved: 1,
    accepted: 2,
    started: 20,
    completed: 23,
    completionNote: "New humidistat fan fitted and tested.",
    signedOff: 30,
    signer: 2,
  },
  {
    status: CLOSED,
    title: "Rehang sticking door",
    description: "Bedroom door catches on the frame and will not latch.",
    type: 6,
    priority: 1,
    contractor: 28,
    agent: 15,
    address: 5,
    createdBy: 7,
    age: 140,
    approved: 3,
    accepted: 5,
    started: 50,
    completed: 52,
    completionNote: "Planed the leading edge and moved the keep; door latches.",
    signedOff: 70,
    signer: 8,
  },
  // Cancelled: no longer needed, before and after approval.
  {
    status: CANCELLED,
    title: "Washing machine repair",
    description: "Landlord-supplied machine will not spin.",
    type: 8,
    priority: 2,
    contractor: null,
    agent: 13,
    address: 6,
    createdBy: 3,
    age: 120,
    cancelled: 5,
    notes: [[5, 3, "Tenant has bought their own machine; job not needed."]],
  },
  {
    status: CANCELLED,
    title: "Replace fence post",
    description: "Rotten fence post at the rear boundary.",
    type: 1,
    priority: 1,
    contractor: 28,
    agent: 14,
    address: 7,
    createdBy: 4,
    age: 110,
    approved: 2,
    cancelled: 30,
  },
  // Archived: a closed job and a cancelled one, put away.
  {
    status: ARCHIVED,
    title: "Clear gutters",
    description: "Gutters full of leaves; overflowing at the back.",
    type: 5,
    priority: 1,
    contractor: 25,
    agent: 15,
    address: 8,
    createdBy: 7,
    age: 166,
    approved: 1,
    accepted: 2,
    started: 24,
    completed: 26,
    completionNote: "All gutters cleared and downpipes flushed.",
    signedOff: 40,
    signer: 2,
    archived: 150,
  },
  {
    status: ARCHIVED,
    title: "Touch up hallway paint",
    description: "Scuffs along the hallway after the move-in.",
    type: 7,
    priority: 1,
    contractor: null,
    agent: 13,
    address: 9,
    createdBy: 3,
    age: 130,
    cancelled: 4,
    archived: 100,
  },
];

/** One step of a job's audit trail. */
type Step = [hours: number, actor: number, action: string, changes: Record<string, unknown> | null];

/** A status step as the lifecycle's channels record it (src/jobs/work/service.ts). */
const move = (from: StatusId, to: StatusId, extra: Record<string, unknown> = {}) => ({
  status: { before: STATUS_NAMES[from], after: STATUS_NAMES[to] },
  ...extra,
});

const RECALL_REASON = "Drains slowly again two days later.";

/** The audit steps of a job, in order; the status each implies ends where `job.status` says. */
function stepsOf(job: WeekJob, at: (h?: number) => string | null): Step[] {
  const worker = userOf(job.contractor);
  const initial = job.status === AWAITING_APPROVAL || job.approved !== undefined ? AWAITING_APPROVAL : OPEN;
  const steps: Step[] = [[0, job.createdBy, "job.created", { status: { before: null, after: STATUS_NAMES[initial] } }]];
  if (job.approved !== undefined) steps.push([job.approved, 2, "job.approval_approved", move(AWAITING_APPROVAL, APPROVED)]);
  if (job.accepted !== undefined)
    steps.push([job.accepted, worker, "job.accepted", { accepted_at: { before: null, after: at(job.accepted) } }]);
  if (job.started !== undefined) steps.push([job.started, worker, "job.started", move(APPROVED, IN_PROGRESS)]);
  if (job.completed !== undefined) steps.push([job.completed, worker, "job.completed", move(IN_PROGRESS, COMPLETED)]);
  if (job.signedOff !== undefined) steps.push([job.signedOff, job.signer ?? 2, "job.signed_off", move(COMPLETED, CLOSED)]);
  if (job.recalled !== undefined) steps.push([job.recalled, 2, "job.recalled", move(COMPLETED, RECALLED, { reason: RECALL_REASON })]);
  if (job.cancelled !== undefined)
    steps.push([job.cancelled, 2, "job.status_changed", move(job.approved !== undefined ? APPROVED : OPEN, CANCELLED)]);
  if (job.archived !== undefined)
    steps.push([job.archived, 2, "job.status_changed", move(job.cancelled !== undefined ? CANCELLED : CLOSED, ARCHIVED)]);
  return steps;
}

/** Appends the week's rows (after the base seed's, whose ids it continues) through `run`. */
export async function seedWeek(run: Run, cipher: FieldCipher, nowMs: number) {
  const iso = (ms: number) => toIsoSeconds(ms);
  for (const [id, name, active] of AGENTS) {
    const email = `${name.toLowerCase().replace(/\W+/g, ".")}@agents.propops.example.com`;
    run("INSERT INTO agents (id, uuid, name, email, active) VALUES (?, ?, ?, ?, ?)", id, crypto.randomUUID(), name, email, active ? 1 : 0);
  }
  for (const [id, name, active] of CONTRACTORS) {
    const email = `${name.toLowerCase().replace(/\W+/g, ".")}@contractors.propops.example.com`;
    run(
      "INSERT INTO contractors (id, uuid, name, email, active) VALUES (?, ?, ?, ?, ?)",
      id,
      crypto.randomUUID(),
      name,
      email,
      active ? 1 : 0,
    );
  }
  // The triggers of migration 0014 copy the contractor's name and active flag in.
  for (const [id, trades] of [...BASE_TRADES, ...CONTRACTORS.map(([cid, , , t]): [number, number[]] => [cid, t])]) {
    for (const type of trades) run("INSERT INTO contractor_job_types (contractor_id, job_type_id) VALUES (?, ?)", id, type);
  }
  for (const [id, name, addressId, active] of TENANTS) {
    const uuid = crypto.randomUUID();
    const email = await cipher.encrypt(
      { table: "tenants", column: "email", rowUuid: uuid },
      `${name.split(" ")[0]?.toLowerCase()}@example.com`,
    );
    const phone = await cipher.encrypt({ table: "tenants", column: "phone", rowUuid: uuid }, `07700 900${String(100 + id)}`);
    run(
      "INSERT INTO tenants (id, uuid, name, email, phone, address_id, active) VALUES (?, ?, ?, ?, ?, ?, ?)",
      id,
      uuid,
      name,
      email,
      phone,
      addressId,
      active ? 1 : 0,
    );
  }
  for (const u of USERS) {
    run(
      "INSERT INTO users (id, uuid, name, email, role, contractor_id, agent_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
      u.id,
      crypto.randomUUID(),
      u.name,
      `${u.name.toLowerCase().replace(/\W+/g, ".")}@propops.example.com`,
      u.role,
      u.contractor,
      u.agent,
    );
  }

  for (const [k, job] of WEEK.entries()) {
    const id = 13 + k;
    const uuid = crypto.randomUUID();
    const created = nowMs - job.age * HOUR;
    const at = (h?: number) => (h === undefined ? null : iso(created + h * HOUR));
    // A recall restarts the SLA clock (src/domain/lifecycle.ts, effect sla_restart).
    const slaStart = job.recalled === undefined ? created : created + job.recalled * HOUR;
    const steps = stepsOf(job, at);
    const last = Math.max(...steps.map(([h]) => h), ...(job.notes ?? []).map(([h]) => h));
    const tenant = TENANTS.find(([, , address, active]) => address === job.address && active)?.[0];
    const tenantName = TENANTS.find(([tid]) => tid === tenant)?.[1] ?? "Tenant";
    const startDay = created + (job.accepted ?? 1) * HOUR;
    const endDays = job.endDays ?? 3;
    const endDate = iso(startDay + endDays * 24 * HOUR).slice(0, 10);
    const budget = 180 + k * 5;
    const enc = (column: string, value: string) => cipher.encrypt({ table: "jobs", column, rowUuid: uuid }, value);
    run(
      `INSERT INTO jobs (id, uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, agent_id, contractor_id,
        created_by, job_total_budget, contractor_budget, vat_percentage, date_works_start_date, date_works_end_date, access_details,
        private_contact_name, private_contact_email, is_recall, sla_started_at, sla_deadline, completed_at, accepted_at, started_at,
        signed_off_at, signed_off_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 20.0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      uuid,
      `JOB-${String(id).padStart(3, "0")}`,
      job.title,
      job.description,
      job.status,
      job.priority,
      job.type,
      job.address,
      job.agent,
      job.contractor,
      job.createdBy,
      // The client-facing budget stays above the contractor's total with VAT (the budget rule), even after the pending rise.
      300 + k * 10,
      budget,
      iso(startDay).slice(0, 10),
      endDate,
      await enc("access_details", `Key safe code ${2000 + k}; tenant at home after 10:00.`),
      await enc("private_contact_name", tenantName),
      await enc("private_contact_email", `${tenantName.split(" ")[0]?.toLowerCase()}@example.com`),
      job.status === RECALLED ? 1 : 0,
      iso(slaStart),
      iso(slaStart + (SLA_HOURS[job.priority] ?? 72) * HOUR),
      // A recall reopens the work, clearing completed_at; closing or archiving keeps it.
      job.status === RECALLED ? null : at(job.completed),
      job.contractor === null ? null : at(job.accepted),
      at(job.started),
      at(job.signedOff),
      job.signedOff === undefined ? null : (job.signer ?? 2),
      iso(created),
      at(last),
    );
    if (tenant !== undefined) run("INSERT INTO job_tenants (job_id, tenant_id) VALUES (?, ?)", id, tenant);
    for (const [h, actor, action, changes] of steps) {
      run(
        "INSERT INTO audit_events (uuid, job_id, job_uuid, actor_user_id, actor_name, action, changes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        crypto.randomUUID(),
        id,
        uuid,
        actor,
        NAMES[actor] ?? "Admin_001",
        action,
        changes === null ? null : JSON.stringify(changes),
        at(h),
      );
    }
    const notes: [number, number, string][] = [...(job.notes ?? [])];
    if (job.completionNote && job.completed !== undefined) notes.push([job.completed, userOf(job.contractor), job.completionNote]);
    for (const [h, author, text] of notes) {
      const noteUuid = crypto.randomUUID();
      const sealed = await encryptNote(cipher, noteUuid, { message: text, text });
      run(
        `INSERT INTO case_notes (uuid, job_id, message, message_text, is_html, is_pinned, source, created_by, created_by_name, created_at, updated_at)
         VALUES (?, ?, ?, ?, 0, 0, 'api', ?, ?, ?, ?)`,
        noteUuid,
        id,
        sealed.message,
        sealed.messageText,
        author,
        NAMES[author] ?? "Staff_001",
        at(h),
        at(h),
      );
    }
    for (const [field, reason] of job.amendments ?? []) {
      // A budget rise of £40 (still within the client-facing budget with VAT), or the end two days later.
      const [current, requested] =
        field === "contractor_budget"
          ? [budget.toFixed(2), (budget + 40).toFixed(2)]
          : [endDate, iso(startDay + (endDays + 2) * 24 * HOUR).slice(0, 10)];
      run(
        `INSERT INTO amendment_requests (uuid, job_id, field_name, current_value, requested_value, reason, status, requested_by, requested_by_name, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
        crypto.randomUUID(),
        id,
        field,
        current,
        requested,
        reason,
        userOf(job.contractor),
        NAMES[userOf(job.contractor)],
        at((job.started ?? 0) + 1),
      );
    }
    if (job.approved !== undefined) {
      run(
        "INSERT INTO approval_decisions (job_id, decision, notes, from_status_id, to_status_id, decided_by, created_at) VALUES (?, 'approve', ?, ?, ?, 2, ?)",
        id,
        "Landlord approved the quote.",
        AWAITING_APPROVAL,
        APPROVED,
        at(job.approved),
      );
    }
    if (job.recalled !== undefined) {
      run(
        "INSERT INTO recalls (uuid, job_id, reason, previous_status_id, raised_by, created_at) VALUES (?, ?, ?, ?, 2, ?)",
        crypto.randomUUID(),
        id,
        RECALL_REASON,
        COMPLETED,
        at(job.recalled),
      );
    }
    // The breach the SLA cron would have recorded (a deadline in the past on an open job).
    const deadline = slaStart + (SLA_HOURS[job.priority] ?? 72) * HOUR;
    const open = job.status !== COMPLETED && job.status !== CLOSED && job.status !== CANCELLED && job.status !== ARCHIVED;
    if (open && deadline < nowMs) {
      run(
        "INSERT INTO sla_breaches (job_id, sla_deadline, created_at, notified_at) VALUES (?, ?, ?, ?)",
        id,
        iso(deadline),
        iso(deadline + 5 * 60_000),
        iso(deadline + 5 * 60_000),
      );
    }
  }
}
