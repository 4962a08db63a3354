import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { jobStatuses } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listStatuses = referenceList({
  path: "/api/jobs/statuses",
  operationId: "listStatuses",
  summary: "All job status options, in workflow order",
  item: z.object({
    ID: z.number().int(),
    name: z.string(),
    sort_order: z.number().int(),
    requires_approval: z.boolean(),
    is_completed: z.boolean(),
    is_closed: z.boolean(),
    is_cancelled: z.boolean(),
    is_archived: z.boolean(),
  }),
  select: (db) => db.select().from(jobStatuses).orderBy(asc(jobStatuses.sortOrder)),
  map: (s) => ({
    ID: s.id,
    name: s.name,
    sort_order: s.sortOrder,
    requires_approval: s.requiresApproval,
    is_completed: s.isCompleted,
    is_closed: s.isClosed,
    is_cancelled: s.isCancelled,
    is_archived: s.isArchived,
  }),
});
