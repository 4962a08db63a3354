/**
 * The integrity checker of the proof under faults (test/suites/faults.test.ts): compares every object in
 * the MEDIA bucket with every D1 row that names a stored key, and reports
 *
 * - orphans: objects no row names;
 * - dangling rows: a row naming a key that is not in the bucket (or whose job or note is gone);
 * - dangling events: audit (outbox) events about a photo, document or case note that does not
 *   exist and was never deleted (a rollback that left its event behind), and webhook deliveries
 *   whose audit event is gone;
 * - unsettled media: photos and videos neither `completed` nor `failed` with a non-empty reason.
 *
 * Rows that name keys: `photos` (r2_key, compressed_key, every `variants[*].key`, thumbnail_key),
 * `documents.r2_key`, `note_attachments.r2_key` (src/db/schema.ts).
 *
 * Transient keys (decided here): while a photo or video is `pending` or `processing`, objects under
 * its own folder (`jobs/<job>/photos/<uuid>/`) that its row does not name yet are the work in
 * flight (a compressed copy or video outputs written before the row records them), not orphans;
 * they are listed as `transient`. Once the row is settled (`completed` or `failed`) nothing under
 * its folder may be unnamed. Call with `{ drained: false }` while queues still hold work: then
 * pending/processing media are not reported as unsettled (their transient keys still are listed).
 */

export interface IntegrityReport {
  objects: number;
  rows: number;
  orphans: string[];
  dangling: { table: string; uuid: string; column: string; key: string | null; reason: string }[];
  danglingEvents: { id: number; action: string; subject: string; reason: string }[];
  unsettled: { uuid: string; kind: string; status: string; error: string | null }[];
  transient: string[];
}

interface PhotoRow {
  uuid: string;
  kind: string;
  r2_key: string;
  compressed_key: string | null;
  variants: string | null;
  thumbnail_key: string | null;
  processing_status: string;
  processing_error: string | null;
  job_ok: number;
}

async function allObjects(bucket: R2Bucket): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ cursor, limit: 1000 });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

export async function checkIntegrity(env: Pick<Env, "DB" | "MEDIA">, opts: { drained?: boolean } = {}): Promise<IntegrityReport> {
  const drained = opts.drained ?? true;
  const db = env.DB;
  const objects = new Set(await allObjects(env.MEDIA));
  const named = new Set<string>();
  const report: IntegrityReport = {
    objects: objects.size,
    rows: 0,
    orphans: [],
    dangling: [],
    danglingEvents: [],
    unsettled: [],
    transient: [],
  };
  const name = (table: string, uuid: string, column: string, key: string | null, jobOk = true) => {
    if (key === null) return;
    named.add(key);
    if (!objects.has(key)) report.dangling.push({ table, uuid, column, key, reason: "object missing" });
    if (!jobOk) report.dangling.push({ table, uuid, column, key, reason: "job missing" });
  };

  const { results: photoRows } = await db
    .prepare(
      `SELECT p.uuid, p.kind, p.r2_key, p.compressed_key, p.variants, p.thumbnail_key, p.processing_status, p.processing_error,
              EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.job_id) AS job_ok
       FROM photos p`,
    )
    .all<PhotoRow>();
  const inFlight: string[] = [];
  for (const p of photoRows) {
    report.rows++;
    name("photos", p.uuid, "r2_key", p.r2_key, p.job_ok === 1);
    name("photos", p.uuid, "compressed_key", p.compressed_key);
    name("photos", p.uuid, "thumbnail_key", p.thumbnail_key);
    if (p.variants) {
      let variants: Record<string, { key?: string }> = {};
      try {
        variants = JSON.parse(p.variants);
      } catch {
        report.dangling.push({ table: "photos", uuid: p.uuid, column: "variants", key: null, reason: "variants is not JSON" });
      }
      for (const [rung, v] of Object.entries(variants)) name("photos", p.uuid, `variants.${rung}`, v.key ?? null);
    }
    const settled = p.processing_status === "completed" || (p.processing_status === "failed" && (p.processing_error ?? "").trim() !== "");
    if (p.processing_status === "pending" || p.processing_status === "processing") {
      inFlight.push(p.r2_key.slice(0, p.r2_key.lastIndexOf("/") + 1));
    }
    if (!settled) {
      if (drained || p.processing_status === "failed") {
        report.unsettled.push({ uuid: p.uuid, kind: p.kind, status: p.processing_status, error: p.processing_error });
      }
    }
  }

  for (const [table, parent] of [
    ["documents", null],
    ["note_attachments", "EXISTS (SELECT 1 FROM case_notes n WHERE n.id = t.note_id)"],
  ] as const) {
    const { results } = await db
      .prepare(
        `SELECT t.uuid, t.r2_key, EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.job_id) AS job_ok, ${parent ?? "1"} AS parent_ok FROM ${table} t`,
      )
      .all<{ uuid: string; r2_key: string; job_ok: number; parent_ok: number }>();
    for (const r of results) {
      report.rows++;
      name(table, r.uuid, "r2_key", r.r2_key, r.job_ok === 1);
      if (r.parent_ok !== 1) report.dangling.push({ table, uuid: r.uuid, column: "note_id", key: r.r2_key, reason: "note missing" });
    }
  }

  for (const key of [...objects].sort()) {
    if (named.has(key)) continue;
    if (inFlight.some((prefix) => key.startsWith(prefix))) report.transient.push(key);
    else report.orphans.push(key);
  }

  // The outbox: an event about a record that does not exist must have a deletion event beside it
  // (the record's own, or its job's); otherwise a rollback left the event of a write that never was.
  const subjects = [
    { field: "photo_uuid", table: "photos", deleted: "photo.deleted" },
    { field: "document_uuid", table: "documents", deleted: "document.deleted" },
    { field: "note_uuid", table: "case_notes", deleted: "case_note.deleted" },
  ];
  for (const s of subjects) {
    const { results } = await db
      .prepare(
        `SELECT e.id, e.action, json_extract(e.changes, '$.${s.field}') AS subject
         FROM audit_events e
         WHERE json_valid(e.changes) AND json_extract(e.changes, '$.${s.field}') IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ${s.table} r WHERE r.uuid = json_extract(e.changes, '$.${s.field}'))
           AND NOT EXISTS (SELECT 1 FROM audit_events d WHERE d.action = ? AND json_extract(d.changes, '$.${s.field}') = json_extract(e.changes, '$.${s.field}'))
           AND NOT EXISTS (SELECT 1 FROM audit_events d WHERE d.action = 'job.deleted' AND d.job_uuid = e.job_uuid)
           -- A reply deleted with its parent note: the parent's deletion event names the parent only.
           AND NOT (e.action = 'case_note.reply_received')`,
      )
      .bind(s.deleted)
      .all<{ id: number; action: string; subject: string }>();
    for (const r of results) report.danglingEvents.push({ ...r, reason: `${s.table} row missing, never deleted` });
  }
  const { results: deliveries } = await db
    .prepare(
      `SELECT w.id, w.event_type AS action, CAST(w.audit_event_id AS TEXT) AS subject FROM webhook_deliveries w
       WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id = w.audit_event_id)`,
    )
    .all<{ id: number; action: string; subject: string }>();
  for (const r of deliveries) report.danglingEvents.push({ ...r, reason: "webhook delivery of a missing audit event" });

  return report;
}

/** The report's counts, for a summary line. */
export const counts = (r: IntegrityReport) => ({
  objects: r.objects,
  rows: r.rows,
  orphans: r.orphans.length,
  dangling: r.dangling.length,
  danglingEvents: r.danglingEvents.length,
  unsettled: r.unsettled.length,
  transient: r.transient.length,
});
