import { and, eq, sql } from "drizzle-orm";
import { useCase } from "../../app/use-case";
import { contractorJobTypes, contractors } from "../../db/schema";
import { byName, type DirectoryInput, type DirectoryPage, directoryPage, entryHead, partyWhere } from "../reference/directory";

export type ContractorsQuery = DirectoryInput & { job_type_id?: number; active?: boolean };

export interface ContractorEntry {
  ID: number;
  uuid: string;
  name: string;
  email: string | null;
  active: boolean;
  job_types: { ID: number; name: string }[];
}

/**
 * The contractor's trades as one JSON array per row (a correlated subquery: its few rows only).
 * `contractors.id` spelled out: drizzle may render the column unqualified, which inside the
 * subquery would name job_types.id.
 */
const trades = sql<string>`(SELECT json_group_array(json_object('ID', jt.id, 'name', jt.name)) FROM contractor_job_types cj JOIN job_types jt ON jt.id = cj.job_type_id WHERE cj.contractor_id = "contractors"."id")`;

const columns = {
  id: contractors.id,
  uuid: contractors.uuid,
  name: contractors.name,
  email: contractors.email,
  active: contractors.active,
  trades,
};

/** The contractor directory by name, optionally of one trade; a contractor caller sees only its own record. */
export const listContractors = useCase(
  { permission: "api.jobs.contractors.manage" },
  async (scope, query: ContractorsQuery): Promise<DirectoryPage<ContractorEntry>> => {
    const db = scope.db;
    const page = await (async () => {
      if (query.job_type_id === undefined) {
        // By name on contractors_name_idx (or contractors_active_name_idx with `active`).
        const where = partyWhere(scope, "contractor", contractors, query);
        const rows = db
          .select(columns)
          .from(contractors)
          .where(where)
          .orderBy(...byName(contractors.name, contractors.id));
        return directoryPage(scope, query, rows, { from: contractors, where });
      }
      // A trade: walk that job type's entries by name (contractor_job_types_*name_idx), then each
      // contractor by id. CROSS JOIN keeps that order: the planner may not start from contractors.
      const ofTrade = partyWhere(
        scope,
        "contractor",
        { id: contractorJobTypes.contractorId, active: contractorJobTypes.contractorActive, name: contractorJobTypes.contractorName },
        query,
        eq(contractorJobTypes.jobTypeId, query.job_type_id),
      );
      const rows = db
        .select(columns)
        .from(contractorJobTypes)
        .crossJoin(contractors)
        .where(and(ofTrade, eq(contractors.id, contractorJobTypes.contractorId)))
        .orderBy(...byName(contractorJobTypes.contractorName, contractorJobTypes.contractorId));
      return directoryPage(scope, query, rows, { from: contractorJobTypes, where: ofTrade });
    })();
    return {
      ...page,
      data: page.rows.map((r) => ({
        ...entryHead(r),
        active: Boolean(r.active),
        job_types: (JSON.parse(r.trades ?? "[]") as { ID: number; name: string }[]).sort((a, b) => a.name.localeCompare(b.name)),
      })),
    };
  },
);
