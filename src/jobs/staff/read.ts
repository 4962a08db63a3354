import { z } from "@hono/zod-openapi";
import { directory, ex } from "../../http/openapi-samples";
import { directoryEntry, directoryOperation, zFilterFlag } from "../reference/directory";
import { listStaff, STAFF_ROLES } from "./service";

const StaffUser = directoryEntry(
  { id: "The user id (as in `created_by`)", active: "false once the account is disabled" },
  {
    email: z.string(),
    role: z.enum(STAFF_ROLES),
  },
  {},
);

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
  docs: {
    query: { action: "list", search: "Man", role: "manager" },
    responses: {
      200: {
        list: ex(
          "Managers whose name starts with Man",
          directory({
            ID: 2,
            uuid: "550e8400-e29b-41d4-a716-446655440002",
            name: "Manager_001",
            email: "manager_001@propops.example.com",
            role: "manager",
            active: true,
          }),
        ),
      },
    },
    notFound: false,
  },
});
