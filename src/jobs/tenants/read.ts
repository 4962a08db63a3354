import { z } from "@hono/zod-openapi";
import { zId } from "../../domain/values";
import { directory, ex } from "../../http/openapi-samples";
import { directoryEntry, directoryOperation, zFilterFlag } from "../reference/directory";
import { listTenants } from "./service";

const Tenant = directoryEntry(
  { id: "An id for a job's tenants_ids", active: "Only active tenants can be put on a job" },
  {
    address_id: z.number().int(),
  },
  {
    email: z
      .string()
      .nullable()
      .openapi({ description: "Masked (encrypted at rest; never returned in full)", example: "j•••@example.com" }),
    phone: z.string().nullable().openapi({ description: "Masked: the last three digits only", example: "•••• 123" }),
  },
);

export const getTenants = directoryOperation({
  path: "/api/jobs/tenants",
  operationId: "listTenants",
  summary: "A property's tenants (address_id), searchable by name",
  description:
    "The tenants living at one address (`address_id`, from GET /api/jobs/addresses), by name: the ids a job's `tenants_ids` " +
    "takes. `search` matches the start of the name. Contact details are encrypted at rest and only shown masked. For the " +
    "managing side (admins, managers, staff, agents); contractors are refused (403). `count` is exact up to " +
    "`offset + limit + 100`, then a lower bound with `count_capped: true`.",
  extra: { address_id: zId(), active: zFilterFlag("active tenants") },
  answer: "Tenants",
  item: Tenant,
  run: listTenants,
  docs: {
    query: { action: "list", address_id: 5 },
    responses: {
      200: {
        list: ex(
          "The tenants of address 5, contacts masked",
          directory({
            ID: 7,
            uuid: "550e8400-e29b-41d4-a716-446655440007",
            name: "Tenant One",
            address_id: 5,
            active: true,
            email: "t•••@example.com",
            phone: "•••• 123",
          }),
        ),
      },
    },
    notFound: false,
  },
});
