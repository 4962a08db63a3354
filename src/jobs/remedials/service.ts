import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { jobStatuses, jobs, remedialLinks } from "../../db/schema";
import { aliased } from "../../db/select";
import { badRequest, conflict, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable, jobStateQuery } from "../../domain/job-access";

/** Every remedials operation, reading or linking, needs the one permission the reference names. */
const REMEDIALS: Admission = { permission: "api.jobs.remedials.manage" };

/** A job's id by uuid, as SQL: lets the checks run in the same batch as the job's lookup. */
const idOf = (uuid: string) => sql`(SELECT ${jobs.id} FROM ${jobs} WHERE ${jobs.uuid} = ${uuid})`;

/**
 * True when `ancestor` is `job` itself or anywhere up its chain of remedial parents: linking
 * `ancestor` under `job` would then close a cycle. One recursive query.
 */
const isAncestorOrSelf = (ancestor: SQL | number, job: SQL | number) => sql`EXISTS (
  WITH RECURSIVE chain(id) AS (
    SELECT ${job}
    UNION
    SELECT rl.parent_job_id FROM remedial_links rl JOIN chain ON rl.remedial_job_id = chain.id
  )
  SELECT 1 FROM chain WHERE id = ${ancestor})`;

/**
 * Links `remedialUuid` as a remedial of `parentUuid`. A job has at most one remedial parent and the
 * links never form a cycle; both are checked again inside the insert, so a concurrent link cannot
 * slip past the checks made on the rows read.
 */
export const linkRemedial = useCase(
  REMEDIALS,
  async (ctx: Scope, { job_uuid: parentUuid, remedials_job_uuid: remedialUuid }: { job_uuid: string; remedials_job_uuid: string }) => {
    if (parentUuid === remedialUuid) {
      throw badRequest("remedials_job_uuid: a job cannot be its own remedial", [
        { field: "remedials_job_uuid", message: "must differ from job_uuid" },
      ]);
    }
    const visible = await ctx.jobVisible();
    const db = ctx.db;
    // Both jobs, the remedial's current parent and the cycle check, in one round trip (with the token check).
    const [parentRows, remedialRows, existing, cycle] = await ctx.read([
      jobStateQuery(ctx.db, parentUuid, visible),
      jobStateQuery(ctx.db, remedialUuid, visible),
      db
        .select({ parentRef: jobs.jobRef })
        .from(remedialLinks)
        .innerJoin(jobs, eq(jobs.id, remedialLinks.parentJobId))
        .where(eq(remedialLinks.remedialJobId, idOf(remedialUuid))),
      db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.uuid, parentUuid), isAncestorOrSelf(idOf(remedialUuid), idOf(parentUuid)))),
    ]);
    const parent = changeable(parentRows);
    const remedial = changeable(remedialRows, "Remedial job");
    const current = existing[0];
    if (current) throw conflict(`${remedial.jobRef} is already a remedial of ${current.parentRef}; unlink it first`);
    if (cycle.length > 0) throw conflict(`Linking ${remedial.jobRef} under ${parent.jobRef} would make a remedial cycle`);

    const caller = ctx.caller;
    const now = ctx.services.clock.iso();
    const results = await db.batch([
      // Columns in table order: id, parent_job_id, remedial_job_id, linked_by, created_at.
      db.insert(remedialLinks).select(
        sql`SELECT NULL, ${parent.id}, ${remedial.id}, ${caller.userId}, ${now}
          WHERE NOT EXISTS (SELECT 1 FROM remedial_links WHERE remedial_job_id = ${remedial.id})
            AND NOT ${isAncestorOrSelf(remedial.id, parent.id)}`,
      ),
      recordEvent(
        db,
        {
          jobId: remedial.id,
          jobUuid: remedial.uuid,
          actor: caller,
          action: "job.remedial_linked",
          changes: { remedial_parent: { before: null, after: parent.jobRef } },
        },
        { ifChanged: true },
      ),
      recordEvent(
        db,
        {
          jobId: parent.id,
          jobUuid: parent.uuid,
          actor: caller,
          action: "job.remedial_added",
          changes: { remedial_job: { before: null, after: remedial.jobRef } },
        },
        { ifChanged: true },
      ),
    ]);
    if ((results[0] as D1Result).meta.changes === 0) {
      throw conflict("The remedial links changed while linking; read them again and retry");
    }
  },
);

/** Removes the job's link to its remedial parent; a job without one answers 404. */
export const unlinkRemedial = useCase(REMEDIALS, async (ctx: Scope, { job_uuid: jobUuid }: { job_uuid: string }) => {
  const visible = await ctx.jobVisible();
  const db = ctx.db;
  const [jobRows, links] = await ctx.read([
    jobStateQuery(ctx.db, jobUuid, visible),
    db
      .select(aliased({ parentId: remedialLinks.parentJobId, parentUuid: jobs.uuid, parentRef: jobs.jobRef }))
      .from(remedialLinks)
      .innerJoin(jobs, eq(jobs.id, remedialLinks.parentJobId))
      .where(eq(remedialLinks.remedialJobId, idOf(jobUuid))),
  ]);
  const job = changeable(jobRows);
  const link = links[0];
  if (!link) throw notFound("Remedial link");

  const caller = ctx.caller;
  const results = await db.batch([
    db.delete(remedialLinks).where(and(eq(remedialLinks.remedialJobId, job.id), eq(remedialLinks.parentJobId, link.parentId))),
    recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: "job.remedial_unlinked",
        changes: { remedial_parent: { before: link.parentRef, after: null } },
      },
      { ifChanged: true },
    ),
    recordEvent(
      db,
      {
        jobId: link.parentId,
        jobUuid: link.parentUuid,
        actor: caller,
        action: "job.remedial_removed",
        changes: { remedial_job: { before: job.jobRef, after: null } },
      },
      { ifChanged: true },
    ),
  ]);
  if ((results[0] as D1Result).meta.changes === 0) {
    throw conflict("The remedial link changed while unlinking; read it again and retry");
  }
});

/** A remedial as the list shows it, in the reference's names. */
const remedialItem = aliased({
  ID: jobs.id,
  uuid: jobs.uuid,
  job_ref: jobs.jobRef,
  job_title: jobs.jobTitle,
  status_name: jobStatuses.name,
  created_on: jobs.createdAt,
});

/** The jobs linked as remedials of a visible job, oldest link first, in the reference's shape. */
export const listRemedials = useCase(REMEDIALS, async (ctx: Scope, { job_uuid: jobUuid }: { job_uuid: string }) => {
  const visible = await ctx.jobVisible();
  const [parents, rows] = await ctx.read([
    jobStateQuery(ctx.db, jobUuid, visible),
    ctx.db
      .select(remedialItem)
      .from(remedialLinks)
      .innerJoin(jobs, eq(jobs.id, remedialLinks.remedialJobId))
      .innerJoin(jobStatuses, eq(jobStatuses.id, jobs.statusId))
      .where(and(eq(remedialLinks.parentJobId, idOf(jobUuid)), visible))
      .orderBy(asc(remedialLinks.id)),
  ]);
  if (parents.length === 0) throw notFound("Job");
  return rows;
});
