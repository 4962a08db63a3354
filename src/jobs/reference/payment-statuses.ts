import { z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { paymentStatuses } from "../../db/schema";
import { referenceList } from "./reference-list";

export const listPaymentStatuses = referenceList({
  path: "/api/jobs/payment-statuses",
  operationId: "listPaymentStatuses",
  summary: "Payment status options",
  item: z.object({ ID: z.number().int(), name: z.string() }),
  select: (db) => db.select().from(paymentStatuses).orderBy(asc(paymentStatuses.sortOrder)),
  map: (p) => ({ ID: p.id, name: p.name }),
});
