import { useCase } from "../../app/use-case";
import { agents } from "../../db/schema";
import { byName, type DirectoryInput, type DirectoryPage, directoryPage, entryHead, partyWhere } from "../reference/directory";

export type AgentsQuery = DirectoryInput & { active?: boolean };

export interface AgentEntry {
  ID: number;
  uuid: string;
  name: string;
  email: string | null;
  active: boolean;
}

/** The agent directory by name; an agent user sees only its own agency. */
export const listAgents = useCase(
  { permission: "api.jobs.agents.manage" },
  async (scope, query: AgentsQuery): Promise<DirectoryPage<AgentEntry>> => {
    // By name on agents_name_idx (agents_active_name_idx with `active`).
    const where = partyWhere(scope, "agent", agents, query);
    const rows = scope.db
      .select({ id: agents.id, uuid: agents.uuid, name: agents.name, email: agents.email, active: agents.active })
      .from(agents)
      .where(where)
      .orderBy(...byName(agents.name, agents.id));
    const page = await directoryPage(scope, query, rows, { from: agents, where });
    return { ...page, data: page.rows.map((a) => ({ ...entryHead(a), active: Boolean(a.active) })) };
  },
);
