import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { priorities } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listPriorities = referenceList({
  path: "/api/jobs/priorities",
  operationId: "listPriorities",
  summary: "All priority levels, with their SLA hours",
  item: z.object({
    ID: z.number().int(),
    name: z.string(),
    sort_order: z.number().int(),
    sla_hours: z.number().int().nullable().openapi({ description: "Hours from creation (or recall) to the SLA deadline; null = no SLA" }),
  }),
  select: (db) => db.select().from(priorities).orderBy(asc(priorities.sortOrder)),
  map: (p) => ({ ID: p.id, name: p.name, sort_order: p.sortOrder, sla_hours: p.slaHours }),
});
