import { and, eq } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { useCase } from "../../app/use-case";
import { jobs } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { amendableFieldsFor, type OptionSource } from "../../domain/job-fields";
import { userType } from "../../domain/policy";
import { optionQuery } from "./catalogue";

/** The fields the caller's role may propose changes to on a job it sees, with current values (as text) and options. */
export const amendableFields = useCase(
  { permission: "api.jobs.amendable_fields.manage" },
  async (s: Scope, { job_uuid }: { job_uuid: string }) => {
    const db = s.db;
    const [rows, priorities, jobTypes, timeRanges, paymentStatuses] = await s.read([
      db
        .select()
        .from(jobs)
        .where(and(eq(jobs.uuid, job_uuid), await s.jobVisible())),
      optionQuery(db, "priorities"),
      optionQuery(db, "job_types"),
      optionQuery(db, "time_ranges"),
      optionQuery(db, "payment_statuses"),
    ]);
    const job = rows[0];
    if (!job) throw notFound("Job");
    const options: Record<OptionSource, { id: number; name: string }[]> = {
      priorities,
      job_types: jobTypes,
      time_ranges: timeRanges,
      payment_statuses: paymentStatuses,
    };
    const role = s.caller.role;
    const fields = amendableFieldsFor(role).map((f) => ({
      key: f.key,
      label: f.label,
      type: f.type,
      current_value: f.currentText(job),
      required: f.required,
      description: f.description,
      ...(f.options ? { options: options[f.options].map((o) => ({ value: String(o.id), label: o.name })) } : {}),
    }));
    return { job_uuid: job.uuid, job_ref: job.jobRef, user_type: userType(role), fields };
  },
);
