import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { useCase } from "../../app/use-case";
import { users } from "../../db/schema";
import { byName, type DirectoryInput, type DirectoryPage, directoryPage, entryHead, namePrefix } from "../reference/directory";

export const STAFF_ROLES = ["admin", "manager", "staff"] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export type StaffQuery = DirectoryInput & { role?: StaffRole; active?: boolean };

export interface StaffEntry {
  ID: number;
  uuid: string;
  name: string;
  email: string;
  role: StaffRole;
  active: boolean;
}

/** Exactly the partial index's condition (users_staff_name_idx), as literal SQL: a bound list would not match it. */
const isStaff = sql`${users.role} IN ('admin', 'manager', 'staff')`;

/** The agency's admins, managers and staff by name. */
export const listStaff = useCase(
  { permission: "api.jobs.staff.manage" },
  async (scope, query: StaffQuery): Promise<DirectoryPage<StaffEntry>> => {
    const where = and(
      isStaff,
      query.role ? eq(users.role, query.role) : undefined,
      query.active === undefined ? undefined : query.active ? isNull(users.disabledAt) : isNotNull(users.disabledAt),
      namePrefix(users.name, query.search),
    );
    const rows = scope.db
      .select({ id: users.id, uuid: users.uuid, name: users.name, email: users.email, role: users.role, disabledAt: users.disabledAt })
      .from(users)
      .where(where)
      .orderBy(...byName(users.name, users.id));
    const page = await directoryPage(scope, query, rows, { from: users, where });
    return {
      ...page,
      data: page.rows.map((u) => ({
        ...entryHead(u),
        role: u.role as StaffRole,
        active: u.disabledAt === null,
      })),
    };
  },
);
