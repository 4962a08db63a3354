import { hoursOverdue, openStatusRawSql, toIsoSeconds } from "../domain/sla";
import type { MimeMessage } from "../email/mime";
import type { SendResult } from "../email/send";
import type { Services } from "../platform/services";

/** Sends one message; the default goes through the `send_email` binding and never throws. */
export type MailSender = (message: MimeMessage) => Promise<SendResult[]>;

export interface SlaCheckOptions {
  /** Breaches recorded per D1 statement. */
  batchSize?: number;
  /** Batches per run: a run records at most batchSize × maxBatches breaches; the next run continues. */
  maxBatches?: number;
  send?: MailSender;
}

export interface SlaCheckResult {
  /** Breaches newly recorded by this run (and so notified by it). */
  recorded: number;
  /** Breaches whose notice an interrupted run left unresolved, notified by this run. */
  retried: number;
  /** Of the recorded and retried, breaches whose notice reached at least one recipient. */
  notified: number;
  /** Of the recorded and retried, breaches with at least one failed recipient (or none to send to). */
  failed: number;
  /** True when the run stopped at its cap with possibly more to record. */
  capped: boolean;
}

// 100 × 5 = 500 breaches per run: with the agent and a few managers each, the emails stay well inside
// a Worker invocation's subrequest limit; every 5 minutes the cron picks up where a capped run stopped.
export const SLA_CHECK_DEFAULTS = { batchSize: 100, maxBatches: 5 } as const;
/** Emails in flight at once: a Worker may hold 6 connections open. */
const SEND_CONCURRENCY = 6;
const ACTOR_NAME = "SLA monitor";

// Open jobs (not completed/closed/cancelled/archived) past their deadline (strictly) with no breach row
// for that deadline yet. ?1 = now (ISO, seconds), ?2 = limit. CROSS JOIN fixes the join order so the
// statuses drive the scan (jobs_status_idx): the rows read are the open jobs, not the closed history the
// deadline index would walk. The total order lets the two statements below select the same rows.
export const DUE_JOBS_SQL = `SELECT j.id AS job_id, j.uuid AS job_uuid, j.sla_deadline AS sla_deadline
  FROM job_statuses s CROSS JOIN jobs j ON j.status_id = s.id
  WHERE ${openStatusRawSql("s")}
    AND j.sla_deadline IS NOT NULL AND j.sla_deadline < ?1
    AND NOT EXISTS (SELECT 1 FROM sla_breaches b WHERE b.job_id = j.id AND b.sla_deadline = j.sla_deadline)
  ORDER BY j.sla_deadline, j.id
  LIMIT ?2`;
const DUE = `WITH due AS (${DUE_JOBS_SQL})`;

// A random v4-shaped uuid per audit row, made in SQL so the audit insert can select its rows itself.
const UUID_SQL = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

// Both statements run in one D1 batch (one transaction, which no other run can interleave), so the
// audit rows are for exactly the jobs whose breach rows are inserted. The unique (job_id, sla_deadline)
// index with DO NOTHING is the last guard: a breach is recorded, audited and notified once.
const INSERT_AUDITS = `${DUE}
INSERT INTO audit_events (uuid, job_id, job_uuid, actor_user_id, actor_name, action, changes, created_at)
SELECT ${UUID_SQL}, job_id, job_uuid, NULL, '${ACTOR_NAME}', 'sla.breached',
  json_object('sla_deadline', sla_deadline, 'hours_overdue', (unixepoch(?1) - unixepoch(sla_deadline)) / 3600), ?1
FROM due`;

const INSERT_BREACHES = `${DUE}
INSERT INTO sla_breaches (job_id, sla_deadline, created_at)
SELECT job_id, sla_deadline, ?1 FROM due WHERE true
ON CONFLICT (job_id, sla_deadline) DO NOTHING
RETURNING id`;

const BREACH_DETAILS = `SELECT b.id AS breach_id, b.sla_deadline, j.uuid, j.job_ref, j.job_title, p.name AS priority_name,
  a.email AS agent_email
FROM sla_breaches b
JOIN jobs j ON j.id = b.job_id
JOIN priorities p ON p.id = j.priority_id
LEFT JOIN agents a ON a.id = j.agent_id
WHERE b.id IN (SELECT value FROM json_each(?1))
ORDER BY b.sla_deadline, b.id`;

const MANAGERS = `SELECT email FROM users WHERE role = 'manager' AND disabled_at IS NULL ORDER BY id`;

interface BreachRow {
  breach_id: number;
  sla_deadline: string;
  uuid: string;
  job_ref: string;
  job_title: string;
  priority_name: string;
  agent_email: string | null;
}

// A notice still unresolved (neither notified_at nor notify_error) this long after its breach was
// recorded belongs to a run that died before finishing: a run's work is capped and takes minutes at most.
const STALE_NOTICE_MS = 30 * 60_000;

// Claims such notices for a retry, open jobs only (through the same indexes as DUE). The claim marks
// notify_error, so a concurrent run cannot claim them too and a second interruption is not retried again.
// ?1 = stale before, ?2 = marker, ?3 = limit.
const CLAIM_STALE = `UPDATE sla_breaches SET notify_error = ?2
WHERE notified_at IS NULL AND notify_error IS NULL AND id IN (
  SELECT b.id FROM job_statuses s CROSS JOIN jobs j ON j.status_id = s.id
  JOIN sla_breaches b ON b.job_id = j.id AND b.sla_deadline = j.sla_deadline
  WHERE ${openStatusRawSql("s")}
    AND b.notified_at IS NULL AND b.notify_error IS NULL AND b.created_at < ?1
  LIMIT ?3)
RETURNING id`;

/**
 * The cron run: records each job that has newly crossed its SLA deadline once (per deadline), writes
 * its `sla.breached` audit event, and emails the job's agent and every active manager. Work is bounded
 * per run; whatever is left is found by the next run. A failed notice is recorded on its breach row
 * (`notify_error`) and does not stop the others; it is not retried, since a retry would repeat the
 * notice to the recipients it did reach. Only a notice a crashed run never resolved is retried, once.
 */
export async function runSlaCheck(services: Services, now: Date, options: SlaCheckOptions = {}): Promise<SlaCheckResult> {
  const env = services.env;
  const batchSize = options.batchSize ?? SLA_CHECK_DEFAULTS.batchSize;
  const maxBatches = options.maxBatches ?? SLA_CHECK_DEFAULTS.maxBatches;
  const send: MailSender = options.send ?? ((m) => services.mailer.send(m));
  const nowIso = toIsoSeconds(now);
  const result: SlaCheckResult = { recorded: 0, retried: 0, notified: 0, failed: 0, capped: false };
  let managers: string[] | undefined;

  // Details of the breaches, the notices, and their outcome on each breach row.
  const notifyAll = async (ids: number[]) => {
    const details = env.DB.prepare(BREACH_DETAILS).bind(JSON.stringify(ids));
    let rows: BreachRow[];
    if (managers === undefined) {
      const [d, m] = await env.DB.batch<unknown>([details, env.DB.prepare(MANAGERS)]);
      rows = (d?.results ?? []) as BreachRow[];
      managers = ((m?.results ?? []) as { email: string }[]).map((r) => r.email);
    } else {
      rows = (await details.all<BreachRow>()).results;
    }
    const to = managers;
    const outcomes = await mapPool(rows, SEND_CONCURRENCY, (row) => notify(services, send, row, recipientsFor(row, to), now));
    const updates = outcomes.map((o) =>
      env.DB.prepare("UPDATE sla_breaches SET notified_at = ?, notify_error = ? WHERE id = ?").bind(o.notifiedAt, o.error, o.breachId),
    );
    if (updates.length > 0) await env.DB.batch(updates);
    result.notified += outcomes.filter((o) => o.notifiedAt !== null).length;
    result.failed += outcomes.filter((o) => o.error !== null).length;
  };

  const stale = await env.DB.prepare(CLAIM_STALE)
    .bind(toIsoSeconds(now.getTime() - STALE_NOTICE_MS), `notice interrupted; retried at ${nowIso}`, batchSize)
    .all<{ id: number }>();
  if (stale.results.length > 0) {
    result.retried = stale.results.length;
    await notifyAll(stale.results.map((r) => r.id));
  }

  for (let batch = 0; batch < maxBatches; batch++) {
    const [, inserted] = await env.DB.batch<{ id: number }>([
      env.DB.prepare(INSERT_AUDITS).bind(nowIso, batchSize),
      env.DB.prepare(INSERT_BREACHES).bind(nowIso, batchSize),
    ]);
    const ids = (inserted?.results ?? []).map((r) => r.id);
    if (ids.length === 0) break;
    result.recorded += ids.length;
    await notifyAll(ids);
    if (ids.length < batchSize) break;
    if (batch === maxBatches - 1) result.capped = true;
  }
  // One summary line for the cron's logs; no addresses or job content.
  console.log(
    `sla-check ${nowIso}: recorded ${result.recorded}, retried ${result.retried}, notified ${result.notified}, failed ${result.failed}${result.capped ? ", capped" : ""}`,
  );
  return result;
}

/** The agent's address and the managers', each once (case-insensitively). */
function recipientsFor(row: BreachRow, managers: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const address of [row.agent_email, ...managers]) {
    const a = address?.trim();
    if (!a || seen.has(a.toLowerCase())) continue;
    seen.add(a.toLowerCase());
    out.push(a);
  }
  return out;
}

interface Outcome {
  breachId: number;
  notifiedAt: string | null;
  error: string | null;
}

/** One message per recipient, so a bad address fails alone and nobody sees the others' addresses. */
async function notify(services: Services, send: MailSender, row: BreachRow, to: string[], now: Date): Promise<Outcome> {
  if (to.length === 0) return { breachId: row.breach_id, notifiedAt: null, error: "no recipients: no agent email and no active manager" };
  const message = breachMessage(services.env, row, now);
  const results: SendResult[] = [];
  // In turn: the pool over breaches already keeps SEND_CONCURRENCY messages in flight.
  for (const address of to) {
    try {
      results.push((await send({ ...message, to: [address] }))[0] ?? { to: address, ok: false, error: "no result" });
    } catch (err) {
      // A custom sender may throw; the default never does.
      results.push({ to: address, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const failures = results.filter((r) => !r.ok);
  return {
    breachId: row.breach_id,
    notifiedAt: failures.length < results.length ? services.clock.iso() : null,
    error:
      failures.length > 0
        ? failures
            .map((f) => `${f.to}: ${f.error ?? "failed"}`)
            .join("; ")
            .slice(0, 1000)
        : null,
  };
}

const oneLine = (s: string, max: number) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);

/** The notice for one breach (recipients filled in by the caller). */
export function breachMessage(env: Pick<Env, "EMAIL_FROM" | "EMAIL_DOMAIN">, row: BreachRow, now: Date): Omit<MimeMessage, "to"> {
  const hours = hoursOverdue(row.sla_deadline, now);
  const title = oneLine(row.job_title, 120);
  const lines: [string, string][] = [
    ["Job", `${row.job_ref} ${title}`],
    ["Priority", row.priority_name],
    ["SLA deadline", row.sla_deadline],
    ["Hours overdue", String(hours)],
    ["Job UUID", row.uuid],
  ];
  const intro = `The SLA deadline of ${row.job_ref} has passed and the job is still open.`;
  const outro = "This notice is sent once per deadline by the PropOps SLA monitor.";
  return {
    from: env.EMAIL_FROM,
    fromName: "PropOps SLA monitor",
    subject: `SLA breached: ${row.job_ref} ${title}`,
    text: [intro, "", ...lines.map(([k, v]) => `${k}: ${v}`), "", outro, ""].join("\n"),
    html: `<p>${escapeHtml(intro)}</p><table>${lines
      .map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
      .join("")}</table><p>${escapeHtml(outro)}</p>`,
    messageId: `<sla-${row.uuid}-${Math.floor(Date.parse(row.sla_deadline) / 1000)}@${env.EMAIL_DOMAIN}>`,
    // RFC 3834: an automatic notice; auto-responders should not answer it.
    headers: { "Auto-Submitted": "auto-generated" },
    date: now,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
