import { and, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { jobs } from "../../db/schema";
import type { RequestContext } from "../../http/context";
import { type JobSearch, jobsSearch } from "./search";
import { jobColumns, selectJobs } from "./view";

/**
 * How far past the page the jobs list counts: `count` is exact up to `offset + COUNT_WINDOW`
 * matches; beyond that it says that many and `count_capped` is true. Counting every match read
 * every matching row (100 000 rows for an unfiltered list at 100 000 jobs, docs/scaling.md).
 */
export const COUNT_WINDOW = 500;

/** One way of seeing jobs: `applies` is constant for the request, `visible` limits the jobs. */
export interface VisibilityBranch {
  applies: SQL | undefined;
  visible: SQL | undefined;
  /** The contractor's branch: its few jobs come from jobs_contractor_idx, whatever else filters. */
  contractor: boolean;
}

/**
 * The visibility rule as branches an index can serve. `ctx.jobVisible()` is one condition,
 * `(caller is no contractor OR contractor_id = the caller's)`: right, but the OR hides contractor_id
 * from the planner, so a contractor's list walked every job. Before the caller is resolved (a read
 * checks its token inside its own batch) there are two branches, run as two statements of the
 * batch; each gets `limitIf(applies, n)` as its LIMIT, which SQLite evaluates once before the loop
 * (a WHERE term with a subquery is re-tested on every row instead), so the branch that does not
 * apply reads nothing and the contractor's runs on jobs_contractor_idx.
 */
export async function visibilityBranches(ctx: RequestContext): Promise<VisibilityBranch[]> {
  const caller = ctx.resolvedCaller;
  if (caller) return [{ applies: undefined, visible: await ctx.jobVisible(), contractor: caller.role === "contractor" }];
  const hash = await ctx.tokenHash();
  const contractorUser = sql`FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ${hash} AND u.role = 'contractor'`;
  return [
    { applies: sql`NOT EXISTS (SELECT 1 ${contractorUser})`, visible: undefined, contractor: false },
    {
      applies: sql`EXISTS (SELECT 1 ${contractorUser})`,
      visible: sql`${jobs.contractorId} = (SELECT u.contractor_id ${contractorUser})`,
      contractor: true,
    },
  ];
}

/** `n`, or 0 when the branch does not apply (typed as a number: drizzle embeds it as SQL). */
export const limitIf = (applies: SQL | undefined, n: number): number =>
  (applies ? sql`(CASE WHEN ${applies} THEN ${n} ELSE 0 END)` : n) as unknown as number;

/**
 * The page of jobs and the bounded count, newest first, per visibility branch (at most one branch
 * answers rows). With a search, the trigram index drives the scan in rowid order (newest first), so
 * a page stops after its rows instead of collecting every match first.
 */
export async function listJobsQueries(
  ctx: RequestContext,
  /** The filters; `indexed: false` asks for terms the planner will not pick an index for (`+column`). */
  filters: (indexed: boolean) => (SQL | undefined)[],
  search: JobSearch | undefined,
  page: { limit: number; offset: number },
) {
  const db = ctx.db;
  const match = search?.match;
  // Searching, ids are read as the index's rowid (the same value), so "ORDER BY rowid DESC" is the
  // index's own order and a page stops after its rows. The contractor's branch instead walks its own
  // jobs and asks the index about each one (rowid = ? AND MATCH).
  const cap = page.offset + COUNT_WINDOW;
  const branches = (await visibilityBranches(ctx)).map(({ applies, visible, contractor }) => {
    const drive = Boolean(match) && !contractor;
    const where = and(
      visible,
      ...filters(!contractor),
      search?.residual,
      drive ? sql`${jobsSearch} MATCH ${match}` : undefined,
      match && !drive ? sql`EXISTS (SELECT 1 FROM jobs_search WHERE jobs_search MATCH ${match} AND rowid = ${jobs.id})` : undefined,
    );
    const ids = () =>
      db
        .select({ id: drive ? jobsSearch.rowid : jobs.id })
        .from(jobs)
        .$dynamic();
    const join = eq(jobsSearch.rowid, jobs.id);
    // The page's ids first (the offset skipped on the index alone), then their columns and joined
    // names for those rows only: joining first would look up every skipped row's names too.
    const pageIds = (drive ? ids().innerJoin(jobsSearch, join) : ids())
      .where(where)
      .orderBy(desc(drive ? jobsSearch.rowid : jobs.id))
      .limit(limitIf(applies, page.limit))
      .offset(page.offset);
    return {
      rows: selectJobs(db, jobColumns).where(inArray(jobs.id, pageIds)).orderBy(desc(jobs.id)),
      count: db.select({ n: count() }).from(
        (drive ? ids().innerJoin(jobsSearch, join) : ids())
          .where(where)
          .limit(limitIf(applies, cap + 1))
          .as("matched"),
      ),
    };
  });
  return { cap, branches };
}
