import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { jobTypes } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listTypes = referenceList({
  path: "/api/jobs/types",
  operationId: "listJobTypes",
  summary: "All job type categories",
  item: z.object({ ID: z.number().int(), name: z.string() }),
  select: (db) => db.select().from(jobTypes).orderBy(asc(jobTypes.name)),
  map: (t) => ({ ID: t.id, name: t.name }),
});
