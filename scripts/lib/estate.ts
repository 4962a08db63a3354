/**
 * A realistic estate as plain SQL (recursive CTEs, no bound parameters), so the same statements fill
 * the local D1 file directly (scripts/gen-estate.ts, node:sqlite) and a test's D1 through env.DB
 * (test/suites/budgets/rows-read.test.ts). Pure: no Node imports, so it also loads inside workerd.
 *
 * Per job: a tenant link, 0–3 case notes (avg 1.5), photos on half the jobs, a document on a quarter,
 * an amendment request on 1 in 20, a recall on 1 in 50, three audit events. 1 job in 5 has "boiler"
 * in its title. Status mix (hashed per job): Open 33 %, In Progress 10 %, Awaiting Approval 3 %,
 * Approved 3 %, Recalled 1 %, Completed 30 %, Closed 12 %, Cancelled 5 %, Archived 3 %.
 * Encrypted columns (jobs' private fields, note bodies, tenant contacts) are left NULL or a
 * placeholder here: the generator seals them in Node afterwards, per row uuid.
 */

export interface EstateSize {
  jobs: number;
  addresses: number;
  agents: number;
  contractors: number;
  tenants: number;
}

export const estateSize = (jobs: number): EstateSize => ({
  jobs,
  addresses: Math.max(10, Math.round(jobs / 20)),
  agents: Math.max(3, Math.round(jobs / 300)),
  contractors: Math.max(3, Math.round(jobs / 250)),
  tenants: Math.max(5, Math.round(jobs / 50)),
});

/** A random v4 uuid in SQL. */
const UUID = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

/** 0..99, a stable hash of the row number and a salt. */
const pct = (col: string, salt: number) => `(((${col} * 2654435761 + ${salt * 40503}) % 1000003) % 100)`;

const series = (n: number) => `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n})`;

/** ISO timestamp `secondsAgo` before `nowSql` (a SQL expression of unix seconds). */
const isoAgo = (nowSql: string, secondsAgo: string) => `strftime('%Y-%m-%dT%H:%M:%SZ', ${nowSql} - (${secondsAgo}), 'unixepoch')`;

/**
 * Row triggers that keep counters (migrations 0007, 0008, 0013): suspended while the estate is written
 * in bulk (one UPDATE per inserted row otherwise), then `ESTATE_FIXUPS` sets the same values in a
 * few set-wise statements and the triggers are put back from their saved SQL.
 */
export const BULK_SUSPENDED_TRIGGERS = [
  "photos_count_ai",
  "documents_count_ai",
  "jobs_sla_open_ai",
  "jobs_sla_open_au",
  "jobs_sla_counts_ai",
  "jobs_sla_counts_au",
  "jobs_sla_pairs_ai",
  "jobs_sla_pairs_au",
];

export const ESTATE_FIXUPS = [
  `UPDATE jobs SET
     photos_count = (SELECT count(*) FROM photos WHERE photos.job_id = jobs.id),
     documents_count = (SELECT count(*) FROM documents WHERE documents.job_id = jobs.id),
     sla_open = coalesce((SELECT NOT (s.is_completed OR s.is_closed OR s.is_cancelled OR s.is_archived) FROM job_statuses s WHERE s.id = jobs.status_id), 0)
       AND sla_deadline IS NOT NULL`,
  "DELETE FROM sla_open_counts",
  `INSERT INTO sla_open_counts (dim, dim_id, n)
     SELECT 'all', 0, count(*) FROM jobs WHERE sla_open = 1
     UNION ALL SELECT 'agent', coalesce(agent_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2
     UNION ALL SELECT 'contractor', coalesce(contractor_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2
     UNION ALL SELECT 'priority', priority_id, count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2`,
  "DELETE FROM sla_open_pair_counts",
  `INSERT INTO sla_open_pair_counts (contractor_id, dim, dim_id, n)
     SELECT coalesce(contractor_id, 0), 'agent', coalesce(agent_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 1, 3
     UNION ALL SELECT coalesce(contractor_id, 0), 'priority', priority_id, count(*) FROM jobs WHERE sla_open = 1 GROUP BY 1, 3`,
];

/** Tables the estate fills, children first (for wiping). */
export const ESTATE_TABLES = [
  "sla_breaches",
  "audit_events",
  "recalls",
  "amendment_requests",
  "documents",
  "photos",
  "note_attachments",
  "case_notes",
  "remedial_links",
  "approval_decisions",
  "job_tenants",
  "jobs",
  "api_tokens",
  "users",
  "tenants",
  "contractors",
  "agents",
  "addresses",
  "sla_open_counts",
  "sla_open_pair_counts",
];

/**
 * The statements, in order. `nowMs` fixes the clock (jobs are spread over the 3 years before it,
 * one every ~15 minutes, the newest last).
 */
export function estateStatements(size: EstateSize, nowMs: number, opts: { lean?: boolean } = {}): string[] {
  const now = `${Math.floor(nowMs / 1000)}`;
  const N = size.jobs;
  const status = `CASE
      WHEN ${pct("i", 1)} < 33 THEN 1 WHEN ${pct("i", 1)} < 43 THEN 4 WHEN ${pct("i", 1)} < 46 THEN 2
      WHEN ${pct("i", 1)} < 49 THEN 3 WHEN ${pct("i", 1)} < 50 THEN 5 WHEN ${pct("i", 1)} < 80 THEN 6
      WHEN ${pct("i", 1)} < 92 THEN 7 WHEN ${pct("i", 1)} < 97 THEN 8 ELSE 9 END`;
  const titles = [
    "'Boiler service'",
    "'Leaking kitchen tap'",
    "'Replace faulty socket'",
    "'Roof tiles slipped'",
    "'Front door lock jammed'",
    "'Boiler pressure dropping'",
    "'Damp in bathroom'",
    "'Blocked drain'",
    "'Fence panel down'",
    "'Smoke alarm replacement'",
  ];
  const descriptions = [
    "'Annual service and flue check requested by the landlord.'",
    "'Tenant reports a constant drip from the mixer tap.'",
    "'Double socket in the lounge is scorched and not working.'",
    "'Several tiles slipped after the storm; water in the loft.'",
    "'Lock barrel sticks; tenant struggles to open the door.'",
    "'Pressure falls overnight; tenant tops it up every morning.'",
    "'Black mould around the window and ceiling.'",
    "'External gully blocked and overflowing.'",
    "'Rear garden fence panel blown down.'",
    "'Alarms past their expiry date; replace and test.'",
  ];
  const pick = (list: string[], idx: string) => `CASE ${idx} ${list.map((v, k) => `WHEN ${k} THEN ${v}`).join(" ")} END`;
  const slaHours = "CASE priority_id WHEN 1 THEN 336 WHEN 2 THEN 72 WHEN 3 THEN 24 ELSE 4 END";
  const all = [
    `INSERT INTO addresses (id, line1, line2, town, postcode, search_text)
     ${series(size.addresses)}
     SELECT i, i || ' ' || ${pick(["'Harbour Road'", "'Mill Lane'", "'Station Road'", "'Church Walk'", "'Park View'", "'Quayside'"], "i % 6")},
            CASE WHEN i % 3 = 0 THEN 'Flat ' || (i % 12 + 1) END,
            ${pick(["'Portside'", "'Sample Town'", "'Northfield'", "'Eastbury'"], "i % 4")},
            'EX' || (i % 90 + 1) || ' ' || (i % 9 + 1) || char(65 + i % 26, 65 + (i / 26) % 26), ''
     FROM s`,
    "UPDATE addresses SET search_text = lower(line1 || ' ' || coalesce(line2 || ' ', '') || town || ' ' || postcode)",
    `INSERT INTO agents (id, uuid, name, email) ${series(size.agents)}
     SELECT i, ${UUID}, printf('Agent_%03d', i), printf('agent_%03d@agents.propops.example.com', i) FROM s`,
    `INSERT INTO contractors (id, uuid, name, email) ${series(size.contractors)}
     SELECT i, ${UUID}, printf('Contractor_%03d', i), printf('contractor_%03d@contractors.propops.example.com', i) FROM s`,
    `INSERT INTO tenants (id, uuid, name) ${series(size.tenants)} SELECT i, ${UUID}, printf('Tenant_%04d', i) FROM s`,
    `INSERT INTO users (id, uuid, name, email, role, contractor_id, agent_id) VALUES
       (1, ${UUID}, 'Admin_001', 'admin_001@propops.example.com', 'admin', NULL, NULL),
       (2, ${UUID}, 'Manager_001', 'manager_001@propops.example.com', 'manager', NULL, NULL),
       (3, ${UUID}, 'Staff_001', 'staff_001@propops.example.com', 'staff', NULL, NULL),
       (4, ${UUID}, 'Agent_001', 'agent_001@propops.example.com', 'agent', NULL, 1),
       (5, ${UUID}, 'Contractor_001', 'contractor_001@propops.example.com', 'contractor', 1, NULL),
       (6, ${UUID}, 'Contractor_002', 'contractor_002@propops.example.com', 'contractor', 2, NULL)`,
    // Jobs: priority first (the deadline needs it), then everything else from the row number.
    `INSERT INTO jobs (id, uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, payment_status_id,
        time_range_id, address_id, agent_id, contractor_id, created_by, job_total_budget, contractor_budget, vat_percentage,
        date_works_start_date, date_works_end_date, works_order_ref, is_recall, sla_started_at, sla_deadline, completed_at,
        created_at, updated_at)
     ${series(N)}, p AS (SELECT i, 1 + ${pct("i", 2)} % 4 AS priority_id, ${N} - i AS age FROM s)
     SELECT i, ${UUID}, printf('JOB-%06d', i), ${pick(titles, "i % 10")} || ' - unit ' || (i % 997 + 1),
            ${pick(descriptions, "i % 10")} || ' Ref ' || i || '.', ${status}, priority_id,
            1 + ${pct("i", 3)} % 10, CASE WHEN ${pct("i", 4)} < 70 THEN 1 + ${pct("i", 4)} % 4 END, CASE WHEN i % 5 > 0 THEN 1 + i % 4 END,
            1 + (i * 13) % ${size.addresses}, CASE WHEN ${pct("i", 5)} < 95 THEN 1 + (i * 31) % ${size.agents} END,
            CASE WHEN ${pct("i", 6)} < 90 THEN 1 + (i * 17) % ${size.contractors} END, 1 + i % 3,
            100 + ${pct("i", 7)} * 25, 60 + ${pct("i", 7)} * 15, 20.0,
            date(${now} - age * 900 + 86400, 'unixepoch'), date(${now} - age * 900 + 86400 * (2 + i % 12), 'unixepoch'),
            CASE WHEN i % 3 = 0 THEN 'WO-' || i END, 0,
            ${isoAgo(now, "age * 900")}, ${isoAgo(now, `age * 900 - 3600 * ${slaHours}`)},
            CASE WHEN ${pct("i", 1)} >= 50 AND ${pct("i", 1)} < 80 THEN ${isoAgo(now, "age * 900 - 86400 * 3")} END,
            ${isoAgo(now, "age * 900")}, ${isoAgo(now, "age * 900")}
     FROM p`,
    `INSERT INTO job_tenants (job_id, tenant_id) SELECT id, 1 + (id * 7) % ${size.tenants} FROM jobs`,
    `INSERT INTO case_notes (uuid, job_id, message, message_text, is_html, is_pinned, source, created_by, created_by_name, created_at, updated_at)
     WITH k(n) AS (VALUES (0), (1), (2))
     SELECT ${UUID}, j.id, '', '', 0, CASE WHEN k.n = 0 AND j.id % 7 = 0 THEN 1 ELSE 0 END, 'api', 1 + (j.id + k.n) % 3,
            CASE (j.id + k.n) % 3 WHEN 0 THEN 'Admin_001' WHEN 1 THEN 'Manager_001' ELSE 'Staff_001' END,
            strftime('%Y-%m-%dT%H:%M:%SZ', j.created_at, '+' || (k.n + 1) || ' hours'), strftime('%Y-%m-%dT%H:%M:%SZ', j.created_at, '+' || (k.n + 1) || ' hours')
     FROM jobs j JOIN k ON k.n < j.id % 4`,
    `INSERT INTO photos (uuid, job_id, photo_type, kind, r2_key, filename, content_type, size, width, height, compressed_key,
        compressed_size, compressed_width, compressed_height, processing_status, processed_at, uploaded_by, created_at)
     WITH k(n) AS (VALUES (0), (1)), src AS (SELECT j.id, j.uuid AS job_uuid, j.created_at, k.n, ${UUID} AS uuid FROM jobs j JOIN k ON k.n <= j.id % 3 WHERE j.id % 2 = 0)
     SELECT uuid, id, CASE n WHEN 0 THEN 'before' ELSE 'after' END, 'image', 'jobs/' || job_uuid || '/photos/' || uuid, 'IMG_' || id || '_' || n || '.jpg',
            'image/jpeg', 2400000 + id % 100000, 4000, 3000, 'jobs/' || job_uuid || '/photos/' || uuid || '.c.jpg', 310000 + id % 9000, 1600, 1200,
            'completed', created_at, 1 + id % 3, created_at
     FROM src`,
    `INSERT INTO documents (uuid, job_id, file_type_id, r2_key, filename, content_type, size, uploaded_by, created_at)
     WITH src AS (SELECT id, uuid AS job_uuid, created_at, ${UUID} AS uuid FROM jobs WHERE id % 4 = 1)
     SELECT uuid, id, 1 + id % 6, 'jobs/' || job_uuid || '/documents/' || uuid, 'quote-' || id || '.pdf', 'application/pdf', 80000 + id % 50000,
            1 + id % 3, created_at FROM src`,
    `INSERT INTO amendment_requests (uuid, job_id, field_name, current_value, requested_value, reason, status, requested_by, requested_by_name, created_at)
     SELECT ${UUID}, id, 'contractor_budget', CAST(contractor_budget AS TEXT), CAST(contractor_budget + 50 AS TEXT), 'Extra parts needed',
            CASE id % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'approved' ELSE 'rejected' END, 5, 'Contractor_001', created_at
     FROM jobs WHERE id % 20 = 0`,
    `INSERT INTO recalls (uuid, job_id, reason, previous_status_id, raised_by, created_at, outcome, closed_by, closed_at)
     SELECT ${UUID}, id, 'Fault came back', 6, 2, strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '+5 days'),
            CASE WHEN status_id = 5 THEN NULL ELSE 'completed' END, CASE WHEN status_id = 5 THEN NULL ELSE 2 END,
            CASE WHEN status_id = 5 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '+8 days') END
     FROM jobs WHERE id % 50 = 0 OR status_id = 5`,
    "UPDATE jobs SET is_recall = 1 WHERE status_id = 5",
    `INSERT INTO audit_events (uuid, job_id, job_uuid, actor_user_id, actor_name, action, changes, created_at)
     WITH k(n) AS (VALUES (0), (1), (2))
     SELECT ${UUID}, j.id, j.uuid, 1 + (j.id + k.n) % 3, CASE (j.id + k.n) % 3 WHEN 0 THEN 'Admin_001' WHEN 1 THEN 'Manager_001' ELSE 'Staff_001' END,
            CASE k.n WHEN 0 THEN 'job.created' WHEN 1 THEN 'job.updated' ELSE 'case_note.created' END,
            CASE k.n WHEN 1 THEN '{"status_id":{"before":1,"after":' || j.status_id || '},"access_details":{"changed":true}}' END,
            strftime('%Y-%m-%dT%H:%M:%SZ', j.created_at, '+' || (k.n * 2) || ' hours')
     FROM jobs j CROSS JOIN k`,
  ];
  // Lean: only what job lists, searches and SLA figures read (a test builds it in seconds).
  const leanSkips = ["INSERT INTO case_notes", "INSERT INTO amendment_requests", "INSERT INTO audit_events"];
  return opts.lean ? all.filter((s) => !leanSkips.some((p) => s.startsWith(p))) : all;
}
