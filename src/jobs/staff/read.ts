import { z } from "@hono/zod-openapi";
import { and, asc, count, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { users } from "../../db/schema";
import { OK_MESSAGE } from "../../http/envelope";
import { jsonResponse, operation } from "../../http/operation";
import { countCap, countFields, directoryEnvelope, directoryQuery, namePrefix, zFilterFlag } from "../reference/directory";

const STAFF_ROLES = ["admin", "manager", "staff"] as const;

const StaffUser = z.object({
  ID: z.number().int().openapi({ description: "The user id (as in `created_by`)" }),
  uuid: z.string(),
  name: z.string(),
  email: z.string(),
  role: z.enum(STAFF_ROLES),
  active: z.boolean().openapi({ description: "false once the account is disabled" }),
});

/** Exactly the partial index's condition (users_staff_name_idx), as literal SQL: a bound list would not match it. */
const isStaff = sql`${users.role} IN ('admin', 'manager', 'staff')`;

export const listStaff = operation({
  method: "get",
  path: "/api/jobs/staff",
  operationId: "listStaff",
  summary: "Staff directory: the agency's admins, managers and staff, searchable by name",
  description:
    "The users on the agency's side, by name. `search` matches the start of the name; `role` keeps one role; `active=true` " +
    "leaves out disabled accounts. For admins, managers and staff only (agents and contractors 403). `count` is exact up to " +
    "`offset + limit + 100`, then a lower bound with `count_capped: true`.",
  tag: "Reference",
  permission: "api.jobs.staff.manage",
  query: directoryQuery({
    role: z.enum(STAFF_ROLES, { error: `must be one of: ${STAFF_ROLES.join(", ")}` }).optional(),
    active: zFilterFlag("active accounts"),
  }),
  actions: ["list"],
  responses: { 200: jsonResponse("Staff users", directoryEnvelope(StaffUser)) },
  handler: async (c, { query }) => {
    const ctx = c.var.ctx;
    const db = ctx.db;
    const cap = countCap(query);
    const where = and(
      isStaff,
      query.role ? eq(users.role, query.role) : undefined,
      query.active === undefined ? undefined : query.active ? isNull(users.disabledAt) : isNotNull(users.disabledAt),
      namePrefix(users.name, query.search),
    );
    const [rows, [counted]] = await ctx.read([
      db
        .select({ id: users.id, uuid: users.uuid, name: users.name, email: users.email, role: users.role, disabledAt: users.disabledAt })
        .from(users)
        .where(where)
        .orderBy(sql`${users.name} COLLATE NOCASE`, asc(users.id))
        .limit(query.limit)
        .offset(query.offset),
      db.select({ n: count() }).from(
        db
          .select({ one: sql`1` })
          .from(users)
          .where(where)
          .limit(cap + 1)
          .as("matched"),
      ),
    ]);
    return c.json({
      success: true as const,
      data: rows.map((u) => ({
        ID: u.id,
        uuid: u.uuid,
        name: u.name,
        email: u.email,
        role: u.role as (typeof STAFF_ROLES)[number],
        active: u.disabledAt === null,
      })),
      ...countFields(counted?.n ?? 0, cap),
      message: OK_MESSAGE,
    });
  },
});
