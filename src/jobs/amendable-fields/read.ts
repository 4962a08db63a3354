import { z } from "@hono/zod-openapi";
import { zUuid } from "../../domain/values";
import { ok } from "../../http/envelope";
import { ex, JOB_UUID, OK } from "../../http/openapi-samples";
import { dataEnvelope } from "../../http/openapi-shapes";
import { jsonResponse, operation } from "../../http/operation";
import { amendableFields } from "./service";

const FieldItem = z
  .object({
    key: z.string().openapi({ example: "contractor_budget" }),
    label: z.string(),
    type: z.enum(["text", "textarea", "number", "money", "date", "choice"]),
    current_value: z.string().nullable().openapi({ description: "As text: money with 2 decimals, choices as the option's value" }),
    required: z.boolean().openapi({
      description:
        'Whether a proposal must carry this field (as the reference shows it; job_description is not). A requested value of "" clears a field whose value may be empty and is refused (400) for one that always holds a value (title, description, priority, type, VAT)',
    }),
    description: z.string(),
    options: z
      .array(z.object({ value: z.string(), label: z.string() }))
      .optional()
      .openapi({ description: "Choice fields only" }),
  })
  .openapi("AmendableField");

export const getAmendableFields = operation({
  method: "get",
  path: "/api/jobs/amendable-fields",
  operationId: "listAmendableFields",
  summary: "The fields the caller may propose changes to on a job, with current values and options",
  description:
    "Role-aware: contractors (`user_type: contractor`) may propose contractor_budget, the works dates and the time slot; " +
    "every other role (`user_type: staff`) a larger set. Encrypted private fields are never amendable. " +
    "Values are text, as an amendment request carries them; choice fields list their options.",
  tag: "Amendable Fields",
  permission: amendableFields.admission.permission,
  query: z.strictObject({ job_uuid: zUuid() }),
  responses: {
    200: jsonResponse(
      "The amendable fields",
      dataEnvelope(
        z.object({
          job_uuid: z.string(),
          job_ref: z.string(),
          user_type: z.enum(["staff", "contractor"]),
          fields: z.array(FieldItem),
        }),
      ),
    ),
  },
  handler: async (c, { query }) => ok(c, await amendableFields(c.var.ctx, query)),
  docs: {
    query: { job_uuid: JOB_UUID },
    responses: {
      200: {
        staff: ex("Fields a staff member may propose changes to", {
          success: true,
          data: {
            job_uuid: JOB_UUID,
            job_ref: "JOB-001",
            user_type: "staff",
            fields: [
              {
                key: "job_title",
                label: "Job Title",
                type: "text",
                current_value: "Boiler Service - Unit 001",
                required: true,
                description: "The title/name of the job",
              },
              {
                key: "job_description",
                label: "Job Description",
                type: "textarea",
                current_value: "Annual boiler service required.",
                required: false,
                description: "Detailed description of the job",
              },
            ],
          },
          message: OK,
        }),
      },
    },
  },
});
