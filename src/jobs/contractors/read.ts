import { z } from "@hono/zod-openapi";
import { zId } from "../../domain/values";
import { directory, ex } from "../../http/openapi-samples";
import { directoryEntry, directoryOperation, zFilterFlag } from "../reference/directory";
import { listContractors } from "./service";

const Contractor = directoryEntry(
  { id: "The contractor_id to assign on a job", active: "Only active contractors can be assigned to a job" },
  {
    email: z.string().nullable(),
  },
  {
    job_types: z
      .array(z.object({ ID: z.number().int(), name: z.string() }))
      .openapi({ description: "The trades the contractor takes (job types, GET /api/jobs/types)" }),
  },
);

export const getContractors = directoryOperation({
  path: "/api/jobs/contractors",
  operationId: "listContractors",
  summary: "Contractor directory: searchable by name, filtered by trade (job type) and active",
  description:
    "The contractors a job can be assigned to (`contractor_id`), by name. `search` matches the start of the name; " +
    "`job_type_id` keeps those who take that trade; `active=true` those who can be assigned. A contractor caller sees " +
    "only its own record (never another contractor's details). `count` is exact up to `offset + limit + 100`, " +
    "then a lower bound with `count_capped: true`.",
  extra: { job_type_id: zId().optional(), active: zFilterFlag("active contractors") },
  answer: "Contractors",
  item: Contractor,
  run: listContractors,
  docs: {
    query: { action: "list", search: "Contr", job_type_id: 3, active: "true" },
    responses: {
      200: {
        list: ex("Active gas & heating contractors whose name starts with Contr", {
          ...directory({
            ID: 20,
            uuid: "550e8400-e29b-41d4-a716-446655440020",
            name: "Contractor_001",
            email: "contractor_001@contractors.propops.example.com",
            active: true,
            job_types: [
              { ID: 3, name: "Gas & Heating" },
              { ID: 2, name: "Plumbing" },
            ],
          }),
        }),
      },
    },
    notFound: false,
  },
});
