import { z } from "@hono/zod-openapi";
import type { BatchItem } from "drizzle-orm/batch";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import type { Db } from "../../platform/services";

/**
 * A read-only lookup list for form dropdowns: `GET <path>?action=list`, whole list in one read
 * together with the token check.
 */
export function referenceList<Row, Item extends z.ZodRawShape, const P extends string>(def: {
  path: P;
  operationId: string;
  summary: string;
  item: z.ZodObject<Item>;
  select: (db: Db) => BatchItem<"sqlite"> & PromiseLike<Row[]>;
  map: (row: Row) => z.infer<z.ZodObject<Item>>;
}) {
  return operation({
    method: "get",
    path: def.path,
    operationId: def.operationId,
    summary: def.summary,
    tag: "Reference",
    permission: "api.jobs.manage.manage",
    query: z.strictObject({ action: z.literal("list") }),
    actions: ["list"],
    responses: { 200: jsonResponse(def.summary, listEnvelope(def.item)) },
    handler: async (c) => {
      const ctx = c.var.ctx;
      const [rows] = await ctx.read([def.select(ctx.db)]);
      return ok(c, (rows as Row[]).map(def.map), { count: rows.length });
    },
  });
}
