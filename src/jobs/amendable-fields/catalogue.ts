import { asc, eq } from "drizzle-orm";
import { jobTypes, paymentStatuses, priorities, timeRanges } from "../../db/schema";
import type { OptionSource } from "../../domain/job-fields";
import type { Db } from "../../platform/services";

// Which fields are amendable, by whom, and how a value is parsed and applied: the job-field table
// (src/domain/job-fields.ts). Here: where a choice field's options come from.

/** A query for one option list: `{id, name}` rows in display order. */
export function optionQuery(db: Db, source: OptionSource) {
  switch (source) {
    case "priorities":
      return db.select({ id: priorities.id, name: priorities.name }).from(priorities).orderBy(asc(priorities.sortOrder));
    case "job_types":
      return db.select({ id: jobTypes.id, name: jobTypes.name }).from(jobTypes).orderBy(asc(jobTypes.id));
    case "time_ranges":
      return db.select({ id: timeRanges.id, name: timeRanges.name }).from(timeRanges).orderBy(asc(timeRanges.startTime));
    case "payment_statuses":
      return db
        .select({ id: paymentStatuses.id, name: paymentStatuses.name })
        .from(paymentStatuses)
        .orderBy(asc(paymentStatuses.sortOrder));
  }
}

/** Whether a choice value names an existing option. */
export async function optionExists(db: Db, source: OptionSource, id: number) {
  const table = { priorities, job_types: jobTypes, time_ranges: timeRanges, payment_statuses: paymentStatuses }[source];
  const row = await db.select({ id: table.id }).from(table).where(eq(table.id, id)).get();
  return row !== undefined;
}
