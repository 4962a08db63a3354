import type { Permission, Role } from "../auth/permissions";

/** The caller of an API request, as resolved from its bearer token. */
export interface Principal {
  tokenId: number;
  userId: number;
  userUuid: string;
  name: string;
  email: string;
  role: Role;
  contractorId: number | null;
  agentId: number | null;
  permissions: Set<Permission>;
  /** The channel when not the HTTP API: "mcp" for the MCP server (recorded on audit events). */
  via?: Channel;
}

export type Channel = "mcp";

/** Who an event is credited to: a user, or a named system actor (cron, media service, email). */
export type Actor = Pick<Principal, "userId" | "name" | "via"> | { userId: null; name: string; via?: Channel };
