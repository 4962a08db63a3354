import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { fileTypes } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listFileTypes = referenceList({
  path: "/api/jobs/file-types",
  operationId: "listFileTypes",
  summary: "Document file type categories (file_type_id for document uploads)",
  item: z.object({ ID: z.number().int(), name: z.string() }),
  select: (db) => db.select().from(fileTypes).orderBy(asc(fileTypes.name)),
  map: (t) => ({ ID: t.id, name: t.name }),
});
