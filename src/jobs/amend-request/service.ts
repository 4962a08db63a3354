import { and, eq, sql } from "drizzle-orm";
import { amendmentRequests, jobs } from "../../db/schema";
import { badRequest, conflict, notFound } from "../../domain/errors";
import { recordEvent } from "../../domain/events";
import { changeable, jobForChange, jobForChangeQuery, jobForChangeRow, jobNotArchivedSql } from "../../domain/job-access";
import { amendableField } from "../../domain/job-fields";
import { assertCan } from "../../domain/policy";
import { nowIso } from "../../domain/time";
import type { RequestContext } from "../../http/context";
import { optionExists } from "../amendable-fields/catalogue";

const invalidValue = (message: string) => badRequest(`requested_value: ${message}`, [{ field: "requested_value", message }]);

/**
 * Records a proposed change to one job field. The field must be amendable by the caller's role and
 * the value valid for its type. A newer request on the same field supersedes the older pending
 * ones (status `superseded`), in the same batch, so at most one request per field is pending.
 */
export async function submitAmendment(
  ctx: RequestContext,
  input: { job_uuid: string; field_name: string; requested_value: string; reason: string },
) {
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
  const now = nowIso();
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
  return uuid;
}

/**
 * Approves or rejects a pending request (management only). Approval applies the value to the job
 * in the same batch, through the field catalogue; the request's decision and the job's change are
 * both audited. Every statement after the first runs only if the first changed the request, so of
 * two concurrent decisions exactly one takes effect and the other answers 409.
 */
export async function decideAmendment(ctx: RequestContext, uuid: string, decision: "approved" | "rejected", notes: string | null) {
  await ctx.admitWith((caller) =>
    assertCan(caller, "amendment.decide", "Only managers and admins can approve or reject amendment requests"),
  );
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

  const now = nowIso();
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
          changes: { [f.key]: { before: f.read(job), after: parsed.value }, amendment_uuid: { before: null, after: request.uuid } },
        },
        { ifChanged: true },
      ),
    ]);
  }
  if ((results[0] as D1Result).meta.changes === 0) throw conflict("This amendment request has already been decided");
}
