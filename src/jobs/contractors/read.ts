import { z } from "@hono/zod-openapi";
import { and, asc, count, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { contractorJobTypes, contractors } from "../../db/schema";
import { zId } from "../../domain/values";
import { OK_MESSAGE } from "../../http/envelope";
import { jsonResponse, operation } from "../../http/operation";
import {
  countCap,
  countFields,
  directoryEnvelope,
  directoryQuery,
  namePrefix,
  ownRecordBranches,
  zFilterFlag,
} from "../reference/directory";

const Contractor = z.object({
  ID: z.number().int().openapi({ description: "The contractor_id to assign on a job" }),
  uuid: z.string(),
  name: z.string(),
  email: z.string().nullable(),
  active: z.boolean().openapi({ description: "Only active contractors can be assigned to a job" }),
  job_types: z
    .array(z.object({ ID: z.number().int(), name: z.string() }))
    .openapi({ description: "The trades the contractor takes (job types, GET /api/jobs/types)" }),
});

/**
 * The contractor's trades as one JSON array per row (a correlated subquery: its few rows only).
 * `contractors.id` spelled out: drizzle may render the column unqualified, which inside the
 * subquery would name job_types.id.
 */
const trades = sql<string>`(SELECT json_group_array(json_object('ID', jt.id, 'name', jt.name)) FROM contractor_job_types cj JOIN job_types jt ON jt.id = cj.job_type_id WHERE cj.contractor_id = "contractors"."id")`;

export const listContractors = operation({
  method: "get",
  path: "/api/jobs/contractors",
  operationId: "listContractors",
  summary: "Contractor directory: searchable by name, filtered by trade (job type) and active",
  description:
    "The contractors a job can be assigned to (`contractor_id`), by name. `search` matches the start of the name; " +
    "`job_type_id` keeps those who take that trade; `active=true` those who can be assigned. A contractor caller sees " +
    "only its own record (never another contractor's details). `count` is exact up to `offset + limit + 100`, " +
    "then a lower bound with `count_capped: true`.",
  tag: "Reference",
  permission: "api.jobs.contractors.manage",
  query: directoryQuery({ job_type_id: zId().optional(), active: zFilterFlag("active contractors") }),
  actions: ["list"],
  responses: { 200: jsonResponse("Contractors", directoryEnvelope(Contractor)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const cap = countCap(query);
    const columns = {
      id: contractors.id,
      uuid: contractors.uuid,
      name: contractors.name,
      email: contractors.email,
      active: contractors.active,
      trades,
    };
    const statements: BatchItem<"sqlite">[] = [];
    for (const { limit, own } of await ownRecordBranches(ctx, "contractor")) {
      if (query.job_type_id === undefined) {
        // By name on contractors_name_idx (or contractors_active_name_idx with `active`).
        const where = and(
          own(contractors.id),
          query.active === undefined ? undefined : eq(contractors.active, query.active),
          namePrefix(contractors.name, query.search),
        );
        statements.push(
          db
            .select(columns)
            .from(contractors)
            .where(where)
            .orderBy(sql`${contractors.name} COLLATE NOCASE`, asc(contractors.id))
            .limit(limit(query.limit))
            .offset(query.offset),
          db.select({ n: count() }).from(
            db
              .select({ one: sql`1` })
              .from(contractors)
              .where(where)
              .limit(limit(cap + 1))
              .as("matched"),
          ),
        );
        continue;
      }
      // A trade: walk that job type's entries by name (contractor_job_types_*name_idx), then each
      // contractor by id. CROSS JOIN keeps that order: the planner may not start from contractors.
      const where = and(
        eq(contractorJobTypes.jobTypeId, query.job_type_id),
        eq(contractors.id, contractorJobTypes.contractorId),
        own(contractorJobTypes.contractorId),
        query.active === undefined ? undefined : eq(contractorJobTypes.contractorActive, query.active),
        namePrefix(contractorJobTypes.contractorName, query.search),
      );
      const countWhere = and(
        eq(contractorJobTypes.jobTypeId, query.job_type_id),
        own(contractorJobTypes.contractorId),
        query.active === undefined ? undefined : eq(contractorJobTypes.contractorActive, query.active),
        namePrefix(contractorJobTypes.contractorName, query.search),
      );
      statements.push(
        db
          .select(columns)
          .from(contractorJobTypes)
          .crossJoin(contractors)
          .where(where)
          .orderBy(sql`${contractorJobTypes.contractorName} COLLATE NOCASE`, asc(contractorJobTypes.contractorId))
          .limit(limit(query.limit))
          .offset(query.offset),
        db.select({ n: count() }).from(
          db
            .select({ one: sql`1` })
            .from(contractorJobTypes)
            .where(countWhere)
            .limit(limit(cap + 1))
            .as("matched"),
        ),
      );
    }
    const answers = (await ctx.read(statements as unknown as Parameters<typeof ctx.read>[0])) as unknown as unknown[];
    const rows: { id: number; uuid: string; name: string; email: string | null; active: boolean; trades: string }[] = [];
    let counted = 0;
    for (let i = 0; i < answers.length; i += 2) {
      rows.push(...(answers[i] as typeof rows));
      counted += (answers[i + 1] as { n: number }[])[0]?.n ?? 0;
    }
    return c.json({
      success: true as const,
      data: rows.map((r) => ({
        ID: r.id,
        uuid: r.uuid,
        name: r.name,
        email: r.email,
        active: Boolean(r.active),
        job_types: (JSON.parse(r.trades ?? "[]") as { ID: number; name: string }[]).sort((a, b) => a.name.localeCompare(b.name)),
      })),
      ...countFields(counted, cap),
      message: OK_MESSAGE,
    });
  },
});
