import { z } from "@hono/zod-openapi";
import type { UseCase } from "../../app/use-case";
import { zPagination } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, reference } from "../../http/openapi-samples";
import { listEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import {
  REFERENCE_LOOKUPS as L,
  type Lookup,
  type LookupInput,
  listAddresses,
  listFileTypes,
  listJobTypes,
  listPaymentStatuses,
  listPriorities,
  listStatuses,
  listTimeRanges,
  lookupItem,
} from "./service";

const listQuery = z.strictObject({ action: z.literal("list") });
const searchQuery = z.strictObject({
  action: z.literal("list"),
  search: z.string().trim().max(200, "must be at most 200 characters").optional(),
  ...zPagination,
});

/** `GET <path>?action=list` for one row of the lookup table: its schema, its use case, the list envelope. */
function lookupOperation<F extends Parameters<typeof lookupItem>[0]["fields"], D extends z.ZodRawShape, const P extends string, O>(
  l: Lookup<F, D, P>,
  run: UseCase<LookupInput, { items: O[]; count: number }>,
) {
  return operation({
    method: "get",
    path: l.path,
    operationId: l.operationId,
    summary: l.summary,
    ...(l.description ? { description: l.description } : {}),
    tag: "Reference Endpoints",
    docs: {
      query: l.example.query ?? { action: "list" },
      responses: { 200: { list: ex(l.example.title, reference(l.example.item)) } },
      notFound: false,
    },
    permission: run.admission.permission,
    query: l.search ? searchQuery : listQuery,
    actions: ["list"],
    responses: { 200: jsonResponse(l.answer ?? l.summary, listEnvelope(lookupItem(l))) },
    handler: async (c, { query }) => {
      const { action: _list, ...input } = query;
      const { items, count } = await run(c.var.ctx, input);
      return ok(c, items, { count });
    },
  });
}

export const getStatuses = lookupOperation(L.statuses, listStatuses);
export const getJobTypes = lookupOperation(L.types, listJobTypes);
export const getPriorities = lookupOperation(L.priorities, listPriorities);
export const getPaymentStatuses = lookupOperation(L.paymentStatuses, listPaymentStatuses);
export const getTimeRanges = lookupOperation(L.timeRanges, listTimeRanges);
export const getAddresses = lookupOperation(L.addresses, listAddresses);
export const getFileTypes = lookupOperation(L.fileTypes, listFileTypes);
