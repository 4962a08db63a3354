import { z } from "@hono/zod-openapi";
import { directory, ex } from "../../http/openapi-samples";
import { directoryEntry, directoryOperation, zFilterFlag } from "../reference/directory";
import { listAgents } from "./service";

const Agent = directoryEntry(
  { id: "The agent_id to set on a job", active: "Only active agents can be set on a job" },
  {
    email: z.string().nullable(),
  },
  {},
);

export const getAgents = directoryOperation({
  path: "/api/jobs/agents",
  operationId: "listAgents",
  summary: "Agent directory: searchable by name, filtered by active",
  description:
    "The letting agents a job can name (`agent_id`), by name. `search` matches the start of the name. Staff, managers and " +
    "admins see every agent; an agent user sees only its own agency's record; contractors are refused (403). `count` is exact " +
    "up to `offset + limit + 100`, then a lower bound with `count_capped: true`.",
  extra: { active: zFilterFlag("active agents") },
  answer: "Agents",
  item: Agent,
  run: listAgents,
  docs: {
    query: { action: "list", search: "Agent", active: "true" },
    responses: {
      200: {
        list: ex(
          "Active agents whose name starts with Agent",
          directory({
            ID: 10,
            uuid: "550e8400-e29b-41d4-a716-446655440010",
            name: "Agent_001",
            email: "agent_001@agents.propops.example.com",
            active: true,
          }),
        ),
      },
    },
    notFound: false,
  },
});
