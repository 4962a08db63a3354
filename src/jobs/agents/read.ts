import { z } from "@hono/zod-openapi";
import { and, asc, count, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { agents } from "../../db/schema";
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

const Agent = z.object({
  ID: z.number().int().openapi({ description: "The agent_id to set on a job" }),
  uuid: z.string(),
  name: z.string(),
  email: z.string().nullable(),
  active: z.boolean().openapi({ description: "Only active agents can be set on a job" }),
});

export const listAgents = operation({
  method: "get",
  path: "/api/jobs/agents",
  operationId: "listAgents",
  summary: "Agent directory: searchable by name, filtered by active",
  description:
    "The letting agents a job can name (`agent_id`), by name. `search` matches the start of the name. Staff, managers and " +
    "admins see every agent; an agent user sees only its own agency's record; contractors are refused (403). `count` is exact " +
    "up to `offset + limit + 100`, then a lower bound with `count_capped: true`.",
  tag: "Reference",
  permission: "api.jobs.agents.manage",
  query: directoryQuery({ active: zFilterFlag("active agents") }),
  actions: ["list"],
  responses: { 200: jsonResponse("Agents", directoryEnvelope(Agent)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const cap = countCap(query);
    const statements: BatchItem<"sqlite">[] = [];
    for (const { limit, own } of await ownRecordBranches(ctx, "agent")) {
      // By name on agents_name_idx (agents_active_name_idx with `active`).
      const where = and(
        own(agents.id),
        query.active === undefined ? undefined : eq(agents.active, query.active),
        namePrefix(agents.name, query.search),
      );
      statements.push(
        db
          .select({ id: agents.id, uuid: agents.uuid, name: agents.name, email: agents.email, active: agents.active })
          .from(agents)
          .where(where)
          .orderBy(sql`${agents.name} COLLATE NOCASE`, asc(agents.id))
          .limit(limit(query.limit))
          .offset(query.offset),
        db.select({ n: count() }).from(
          db
            .select({ one: sql`1` })
            .from(agents)
            .where(where)
            .limit(limit(cap + 1))
            .as("matched"),
        ),
      );
    }
    const answers = (await ctx.read(statements as unknown as Parameters<typeof ctx.read>[0])) as unknown as unknown[];
    const rows: (typeof agents.$inferSelect)[] = [];
    let counted = 0;
    for (let i = 0; i < answers.length; i += 2) {
      rows.push(...(answers[i] as typeof rows));
      counted += (answers[i + 1] as { n: number }[])[0]?.n ?? 0;
    }
    return c.json({
      success: true as const,
      data: rows.map((a) => ({ ID: a.id, uuid: a.uuid, name: a.name, email: a.email, active: Boolean(a.active) })),
      ...countFields(counted, cap),
      message: OK_MESSAGE,
    });
  },
});
