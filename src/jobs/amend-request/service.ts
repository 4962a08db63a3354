import { and, count, desc, eq, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Scope } from "../../app/scope";
import { type Admission, useCase } from "../../app/use-case";
import { amendmentRequests, jobs, users } from "../../db/schema";
import { aliased } from "../../db/select";
import { badRequest, conflict, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable, jobForChange, jobForChangeQuery, jobForChangeRow, jobNotArchivedSql } from "../../domain/job-access";
import { acceptsOverrun, amendableField, BUDGET_FIELDS, budgetCheck, budgetOf, type JobFieldValues } from "../../domain/job-fields";
import { optionExists } from "../amendable-fields/catalogue";

/** Proposing, listing and deciding amendments: one permission (the reference's); deciding is management's. */
const AMEND: Admission = { permission: "api.jobs.amend_request.manage" };

export type AmendmentStatus = "pending" | "approved" | "rejected" | "superseded";

const invalidValue = (message: string) => badRequest(`requested_value: ${message}`, [{ field: "requested_value", message }]);

/**
 * Records a proposed change to one job field. The field must be amendable by the caller's role and
 * the value valid for its type. A newer request on the same field supersedes the older pending
 * ones (status `superseded`), in the same batch, so at most one request per field is pending.
 */
export const requestAmendment = useCase(
  AMEND,
  async (ctx: Scope, input: { job_uuid: string; field_name: string; requested_value: string; reason: string }) => {
    const { job } = await jobForChange(ctx, { uuid: input.job_uuid });
    const caller = ctx.caller;
    const f = amendableField(input.field_name);
    if (!f?.roles.includes(caller.role)) {
      const message = `${input.field_name} is not amendable by your role; see GET /api/jobs/amendable-fields`;
      throw badRequest(`field_name: ${message}`, [{ field: "field_name", message }]);
    }
    const parsed = f.parse(input.requested_value);
    if (!parsed.ok) throw invalidValue(parsed.message);
    if (f.options && typeof parsed.value === "number" && !(await optionExists(ctx.db, f.options, parsed.value))) {
      throw invalidValue(`no ${f.label.toLowerCase()} with id ${parsed.value}`);
    }
    const problem = f.check(job, parsed.value);
    if (problem) throw invalidValue(problem);
    const current = f.currentText(job);
    if (parsed.text === current) throw invalidValue("is already the field's current value");

    const uuid = crypto.randomUUID();
    const now = ctx.services.clock.iso();
    const db = ctx.db;
    await db.batch([
      db
        .update(amendmentRequests)
        .set({ status: "superseded", decidedAt: now, decisionNotes: `Superseded by amendment request ${uuid}` })
        .where(and(eq(amendmentRequests.jobId, job.id), eq(amendmentRequests.fieldName, f.key), eq(amendmentRequests.status, "pending"))),
      db.insert(amendmentRequests).values({
        uuid,
        jobId: job.id,
        fieldName: f.key,
        currentValue: current,
        // Stored as text; "" for a request to clear an optional field.
        requestedValue: parsed.text ?? "",
        reason: input.reason,
        status: "pending",
        requestedBy: caller.userId,
        requestedByName: caller.name,
        requestedAt: now,
      }),
      recordEvent(db, {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: "amendment.requested",
        changes: {
          [f.key]: { before: current, after: parsed.text },
          reason: { before: null, after: input.reason },
          amendment_uuid: { before: null, after: uuid },
        },
      }),
    ]);
    return { uuid };
  },
);

/**
 * Approves or rejects a pending request (management only). Approval applies the value to the job
 * in the same batch, through the field catalogue; the request's decision and the job's change are
 * both audited. Every statement after the first runs only if the first changed the request, so of
 * two concurrent decisions exactly one takes effect and the other answers 409.
 */
export const decideAmendment = useCase(
  { ...AMEND, policy: { rule: "amendment.decide", message: "Only managers and admins can approve or reject amendment requests" } },
  async (
    ctx: Scope,
    {
      uuid,
      status: decision,
      decision_notes: notes = null,
      accept_budget_overrun,
    }: { uuid: string; status: "approved" | "rejected"; decision_notes?: string | null; accept_budget_overrun?: boolean },
  ) => {
    const db = ctx.db;
    // The request and its job in one read (with the token check); deciders see every job.
    const [requests, jobRows] = await ctx.read([
      db.select().from(amendmentRequests).where(eq(amendmentRequests.uuid, uuid)),
      jobForChangeQuery(
        db,
        { id: sql`(SELECT ${amendmentRequests.jobId} FROM ${amendmentRequests} WHERE ${amendmentRequests.uuid} = ${uuid})` },
        sql`1 = 1`,
      ),
    ]);
    const request = requests[0];
    const found = jobForChangeRow(jobRows);
    if (!request || !found) throw notFound("Amendment request");
    const { job } = changeable(found);
    const caller = ctx.caller;
    if (request.status !== "pending") throw conflict(`This amendment request has already been ${request.status}`);

    const now = ctx.services.clock.iso();
    const decide = db
      .update(amendmentRequests)
      .set({ status: decision, decidedBy: caller.userId, decidedAt: now, decisionNotes: notes })
      .where(
        and(
          eq(amendmentRequests.id, request.id),
          eq(amendmentRequests.status, "pending"),
          // Not if the job was archived meanwhile: an approval must reach the job or not happen.
          jobNotArchivedSql(job.id),
        ),
      );
    const decisionAudit = recordEvent(
      db,
      {
        jobId: job.id,
        jobUuid: job.uuid,
        actor: caller,
        action: decision === "approved" ? "amendment.approved" : "amendment.rejected",
        changes: {
          amendment_uuid: { before: null, after: request.uuid },
          status: { before: "pending", after: decision },
          ...(notes ? { decision_notes: { before: null, after: notes } } : {}),
        },
      },
      { ifChanged: true },
    );

    let results: unknown[];
    if (decision === "rejected") {
      results = await db.batch([decide, decisionAudit]);
    } else {
      const f = amendableField(request.fieldName);
      if (!f) throw conflict(`${request.fieldName} is no longer an amendable field; reject the request instead`);
      const parsed = f.parse(request.requestedValue);
      if (!parsed.ok) throw conflict(`The requested value is no longer valid (${parsed.message}); reject the request instead`);
      if (f.options && typeof parsed.value === "number" && !(await optionExists(db, f.options, parsed.value))) {
        throw conflict(`The requested ${f.label.toLowerCase()} no longer exists; reject the request instead`);
      }
      const problem = f.check(job, parsed.value);
      if (problem) throw conflict(`The requested value no longer fits the job: ${f.key} ${problem}`);
      // A budget amendment meets the budget rule as an update does (409 unless the decider accepts the overrun).
      const overrun = (BUDGET_FIELDS as readonly string[]).includes(f.key)
        ? budgetCheck(budgetOf(job, { [f.key]: parsed.value } as JobFieldValues), acceptsOverrun(caller, accept_budget_overrun))
        : undefined;
      results = await db.batch([
        decide,
        decisionAudit,
        db
          .update(jobs)
          .set({ ...f.write(parsed.value), updatedAt: now })
          .where(and(eq(jobs.id, job.id), sql`changes() > 0`)),
        recordEvent(
          db,
          {
            jobId: job.id,
            jobUuid: job.uuid,
            actor: caller,
            action: "job.updated",
            changes: {
              [f.key]: { before: f.read(job), after: parsed.value },
              amendment_uuid: { before: null, after: request.uuid },
              ...overrun,
            },
          },
          { ifChanged: true },
        ),
      ]);
    }
    if ((results[0] as D1Result).meta.changes === 0) throw conflict("This amendment request has already been decided");
    return { uuid, status: decision };
  },
);

const decider = alias(users, "decider");

export interface AmendmentQuery {
  uuid?: string;
  job_uuid?: string;
  status?: AmendmentStatus;
  limit: number;
  offset: number;
}

/** Amendment requests on the jobs the caller sees, newest first: one (by uuid), a job's, or by status. */
export const listAmendments = useCase(AMEND, async (ctx: Scope, query: AmendmentQuery) => {
  const db = ctx.db;
  const visible = await ctx.jobVisible();
  const conditions: (SQL | undefined)[] = [
    visible,
    query.uuid ? eq(amendmentRequests.uuid, query.uuid) : undefined,
    query.job_uuid ? eq(jobs.uuid, query.job_uuid) : undefined,
    query.status ? eq(amendmentRequests.status, query.status) : undefined,
  ];
  const where = and(...conditions);
  const [rows, [total], jobRows] = await ctx.read([
    db
      .select(
        aliased({
          uuid: amendmentRequests.uuid,
          job_uuid: jobs.uuid,
          job_ref: jobs.jobRef,
          field_name: amendmentRequests.fieldName,
          current_value: amendmentRequests.currentValue,
          requested_value: amendmentRequests.requestedValue,
          reason: amendmentRequests.reason,
          status: amendmentRequests.status,
          requested_by: amendmentRequests.requestedByName,
          requested_at: amendmentRequests.requestedAt,
          decided_by: sql<string | null>`${decider.name}`, // left join
          decided_at: amendmentRequests.decidedAt,
          decision_notes: amendmentRequests.decisionNotes,
        }),
      )
      .from(amendmentRequests)
      .innerJoin(jobs, eq(jobs.id, amendmentRequests.jobId))
      .leftJoin(decider, eq(decider.id, amendmentRequests.decidedBy))
      .where(where)
      .orderBy(desc(amendmentRequests.id))
      .limit(query.limit)
      .offset(query.offset),
    db.select({ n: count() }).from(amendmentRequests).innerJoin(jobs, eq(jobs.id, amendmentRequests.jobId)).where(where),
    // Tells an unknown job apart from a job without requests.
    db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.uuid, query.job_uuid ?? ""), visible)),
  ]);
  if (query.job_uuid && jobRows.length === 0) throw notFound("Job");
  if (query.uuid && rows.length === 0) throw notFound("Amendment request");
  return { data: rows, count: total?.n ?? 0 };
});
