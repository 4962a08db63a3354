import { z } from "@hono/zod-openapi";
import { directoryOperation, zFilterFlag } from "../reference/directory";
import { listStaff, STAFF_ROLES } from "./service";

const StaffUser = z.object({
  ID: z.number().int().openapi({ description: "The user id (as in `created_by`)" }),
  uuid: z.string(),
  name: z.string(),
  email: z.string(),
  role: z.enum(STAFF_ROLES),
  active: z.boolean().openapi({ description: "false once the account is disabled" }),
});

export const getStaff = directoryOperation({
  path: "/api/jobs/staff",
  operationId: "listStaff",
  summary: "Staff directory: the agency's admins, managers and staff, searchable by name",
  description:
    "The users on the agency's side, by name. `search` matches the start of the name; `role` keeps one role; `active=true` " +
    "leaves out disabled accounts. For admins, managers and staff only (agents and contractors 403). `count` is exact up to " +
    "`offset + limit + 100`, then a lower bound with `count_capped: true`.",
  extra: {
    role: z.enum(STAFF_ROLES, { error: `must be one of: ${STAFF_ROLES.join(", ")}` }).optional(),
    active: zFilterFlag("active accounts"),
  },
  answer: "Staff users",
  item: StaffUser,
  run: listStaff,
});
