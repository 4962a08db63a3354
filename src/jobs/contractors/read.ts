import { z } from "@hono/zod-openapi";
import { zId } from "../../domain/values";
import { directoryOperation, zFilterFlag } from "../reference/directory";
import { listContractors } from "./service";

const Contractor = z.object({
  ID: z.number().int().openapi({ description: "The contractor_id to assign on a job" }),
  uuid: z.string(),
  name: z.string(),
  email: z.string().nullable(),
  active: z.boolean().openapi({ description: "Only active contractors can be assigned to a job" }),
  job_types: z
    .array(z.object({ ID: z.number().int(), name: z.string() }))
    .openapi({ description: "The trades the contractor takes (job types, GET /api/jobs/types)" }),
});

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
});
