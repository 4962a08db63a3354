import { z } from "@hono/zod-openapi";
import { and, asc, count } from "drizzle-orm";
import { addresses } from "../../db/schema";
import { zPagination } from "../../domain/values";
import { ok } from "../../http/envelope";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { containsText, searchTerms } from "../manage/search";
import { fullAddress } from "../manage/view";

const Address = z.object({
  ID: z.number().int(),
  line1: z.string(),
  line2: z.string().nullable(),
  town: z.string(),
  postcode: z.string(),
  full_address: z.string(),
});

export const listAddresses = operation({
  method: "get",
  path: "/api/jobs/addresses",
  operationId: "listAddresses",
  summary: "Searchable property addresses",
  description: "`search` matches every word against the address lines, town and postcode (case-insensitive).",
  tag: "Reference",
  permission: "api.jobs.manage.manage",
  query: z.strictObject({
    action: z.literal("list"),
    search: z.string().trim().max(200, "must be at most 200 characters").optional(),
    ...zPagination,
  }),
  actions: ["list"],
  responses: { 200: jsonResponse("Addresses", listEnvelope(Address)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    // search_text is stored lower-cased; containsText takes any length and no pattern syntax.
    const where = and(...searchTerms((query.search ?? "").toLowerCase()).map((w) => containsText(addresses.searchText, w)));
    const [rows, [total]] = await ctx.read([
      ctx.db
        .select()
        .from(addresses)
        .where(where)
        .orderBy(asc(addresses.postcode), asc(addresses.line1))
        .limit(query.limit)
        .offset(query.offset),
      ctx.db.select({ n: count() }).from(addresses).where(where),
    ]);
    return ok(
      c,
      rows.map((a) => ({
        ID: a.id,
        line1: a.line1,
        line2: a.line2,
        town: a.town,
        postcode: a.postcode,
        full_address: fullAddress({ addressLine1: a.line1, addressLine2: a.line2, addressTown: a.town, addressPostcode: a.postcode }),
      })),
      { count: total?.n ?? 0 },
    );
  },
});
