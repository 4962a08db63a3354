import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { timeRanges } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listTimeRanges = referenceList({
  path: "/api/jobs/time-ranges",
  operationId: "listTimeRanges",
  summary: "Available contractor time slots",
  item: z.object({ ID: z.number().int(), name: z.string(), start_time: z.string(), end_time: z.string() }),
  select: (db) => db.select().from(timeRanges).orderBy(asc(timeRanges.startTime)),
  map: (t) => ({ ID: t.id, name: t.name, start_time: t.startTime, end_time: t.endTime }),
});
