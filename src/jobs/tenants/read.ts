import { z } from "@hono/zod-openapi";
import { and, asc, count, eq, sql } from "drizzle-orm";
import { tenants } from "../../db/schema";
import { zId } from "../../domain/values";
import { OK_MESSAGE } from "../../http/envelope";
import { jsonResponse, operation } from "../../http/operation";
import {
  countCap,
  countFields,
  directoryEnvelope,
  directoryQuery,
  maskEmail,
  maskPhone,
  namePrefix,
  zFilterFlag,
} from "../reference/directory";

const Tenant = z.object({
  ID: z.number().int().openapi({ description: "An id for a job's tenants_ids" }),
  uuid: z.string(),
  name: z.string(),
  address_id: z.number().int(),
  active: z.boolean().openapi({ description: "Only active tenants can be put on a job" }),
  email: z.string().nullable().openapi({ description: "Masked (encrypted at rest; never returned in full)", example: "j•••@example.com" }),
  phone: z.string().nullable().openapi({ description: "Masked: the last three digits only", example: "•••• 123" }),
});

/** The key derivation context of a tenant's encrypted contact (src/crypto/rotate.ts re-seals the same columns). */
const tenantContext = (uuid: string, column: "email" | "phone") => ({ table: "tenants", column, rowUuid: uuid });

export const listTenants = operation({
  method: "get",
  path: "/api/jobs/tenants",
  operationId: "listTenants",
  summary: "A property's tenants (address_id), searchable by name",
  description:
    "The tenants living at one address (`address_id`, from GET /api/jobs/addresses), by name: the ids a job's `tenants_ids` " +
    "takes. `search` matches the start of the name. Contact details are encrypted at rest and only shown masked. For the " +
    "managing side (admins, managers, staff, agents); contractors are refused (403). `count` is exact up to " +
    "`offset + limit + 100`, then a lower bound with `count_capped: true`.",
  tag: "Reference",
  permission: "api.jobs.tenants.manage",
  query: directoryQuery({ address_id: zId(), active: zFilterFlag("active tenants") }),
  actions: ["list"],
  responses: { 200: jsonResponse("Tenants", directoryEnvelope(Tenant)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const cap = countCap(query);
    // On tenants_address_name_idx: the address's tenants, by name.
    const where = and(
      eq(tenants.addressId, query.address_id),
      query.active === undefined ? undefined : eq(tenants.active, query.active),
      namePrefix(tenants.name, query.search),
    );
    const [rows, [counted]] = await ctx.read([
      db
        .select({
          id: tenants.id,
          uuid: tenants.uuid,
          name: tenants.name,
          addressId: tenants.addressId,
          active: tenants.active,
          email: tenants.email,
          phone: tenants.phone,
        })
        .from(tenants)
        .where(where)
        .orderBy(sql`${tenants.name} COLLATE NOCASE`, asc(tenants.id))
        .limit(query.limit)
        .offset(query.offset),
      db.select({ n: count() }).from(
        db
          .select({ one: sql`1` })
          .from(tenants)
          .where(where)
          .limit(cap + 1)
          .as("matched"),
      ),
    ]);
    const cipher = await ctx.cipher();
    const data = await Promise.all(
      rows.map(async (t) => {
        const [email, phone] = await Promise.all([
          cipher.decryptOptional(tenantContext(t.uuid, "email"), t.email),
          cipher.decryptOptional(tenantContext(t.uuid, "phone"), t.phone),
        ]);
        return {
          ID: t.id,
          uuid: t.uuid,
          name: t.name,
          address_id: t.addressId ?? query.address_id,
          active: Boolean(t.active),
          email: maskEmail(email),
          phone: maskPhone(phone),
        };
      }),
    );
    return c.json({ success: true as const, data, ...countFields(counted?.n ?? 0, cap), message: OK_MESSAGE });
  },
});
