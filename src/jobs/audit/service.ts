import { and, count, desc, eq, inArray } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { auditEvents, jobs } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { can } from "../../domain/policy";

export interface AuditEntry {
  uuid: string;
  action: string;
  actor_name: string;
  actor_user_id: number | null;
  changes: Record<string, unknown>;
  created_at: string;
  via: string | null;
}

/**
 * A job's audit trail, newest first. Whoever may list jobs may read their history; the trail
 * outlives its job for management (`audit.read_deleted`), for others a deleted job is unknown.
 */
export const readAuditTrail = useCase(
  { permission: "api.jobs.manage.list" },
  async (s: Scope, query: { job_uuid: string; limit: number; offset: number }) => {
    const byJob = eq(auditEvents.jobUuid, query.job_uuid);
    // Events are read in the same round trip as the visibility check; they are answered only if it passes.
    const [visibleJob, anyJob, rows, [total]] = await s.read([
      s.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.uuid, query.job_uuid), await s.jobVisible())),
      s.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.uuid, query.job_uuid)),
      s.db.select().from(auditEvents).where(byJob).orderBy(desc(auditEvents.id)).limit(query.limit).offset(query.offset),
      s.db.select({ n: count() }).from(auditEvents).where(byJob),
    ]);
    const n = total?.n ?? 0;
    const deletedButKnown = anyJob.length === 0 && n > 0 && can(s.caller, "audit.read_deleted");
    if (visibleJob.length === 0 && !deletedButKnown) throw notFound("Job");
    const data: AuditEntry[] = rows.map((r) => ({
      uuid: r.uuid,
      action: r.action,
      actor_name: r.actorName,
      actor_user_id: r.actorUserId,
      changes: r.changes ? (JSON.parse(r.changes) as Record<string, unknown>) : {},
      created_at: r.createdAt,
      via: r.via,
    }));
    await hideForeignJobs(s, data);
    return { data, count: n };
  },
);

type Change = { before?: unknown; after?: unknown; changed?: true };

/**
 * A remedial link names the other job by its reference. A caller who may not see that job (a
 * contractor, for another contractor's job) gets `{changed: true}` in its place, as for an
 * encrypted field: the trail never tells them which job it was. One more query, only for a
 * contractor whose page names other jobs.
 */
async function hideForeignJobs(s: Scope, data: AuditEntry[]) {
  if (s.caller.role !== "contractor") return;
  const named = (change: unknown) =>
    [(change as Change)?.before, (change as Change)?.after].filter((v): v is string => typeof v === "string");
  const links = data.flatMap((e) => Object.entries(e.changes).filter(([key]) => key.startsWith("remedial")));
  const refs = [...new Set(links.flatMap(([, change]) => named(change)))];
  if (refs.length === 0) return;
  const visible = new Set(
    (
      await s.db
        .select({ ref: jobs.jobRef })
        .from(jobs)
        .where(and(inArray(jobs.jobRef, refs), await s.jobVisible()))
    ).map((r) => r.ref),
  );
  for (const event of data)
    for (const [key, change] of Object.entries(event.changes))
      if (key.startsWith("remedial") && named(change).some((ref) => !visible.has(ref))) event.changes[key] = { changed: true };
}
