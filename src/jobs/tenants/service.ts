import { and, eq } from "drizzle-orm";
import { useCase } from "../../app/use-case";
import { tenants } from "../../db/schema";
import { byName, type DirectoryInput, type DirectoryPage, directoryPage, maskEmail, maskPhone, namePrefix } from "../reference/directory";

export type TenantsQuery = DirectoryInput & { address_id: number; active?: boolean };

export interface TenantEntry {
  ID: number;
  uuid: string;
  name: string;
  address_id: number;
  active: boolean;
  email: string | null;
  phone: string | null;
}

/** The key derivation context of a tenant's encrypted contact (src/crypto/rotate.ts re-seals the same columns). */
const tenantContext = (uuid: string, column: "email" | "phone") => ({ table: "tenants", column, rowUuid: uuid });

/** One address's tenants by name, their contacts masked. */
export const listTenants = useCase(
  { permission: "api.jobs.tenants.manage" },
  async (scope, query: TenantsQuery): Promise<DirectoryPage<TenantEntry>> => {
    // On tenants_address_name_idx: the address's tenants, by name.
    const where = and(
      eq(tenants.addressId, query.address_id),
      query.active === undefined ? undefined : eq(tenants.active, query.active),
      namePrefix(tenants.name, query.search),
    );
    const rows = scope.db
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
      .orderBy(...byName(tenants.name, tenants.id));
    const page = await directoryPage(scope, query, rows, { from: tenants, where });
    const cipher = await scope.services.cipher();
    const data = await Promise.all(
      page.rows.map(async (t) => {
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
    return { ...page, data };
  },
);
