import { and, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Scope } from "../../app/scope";
import { jobs } from "../../db/schema";
import type { Principal } from "../../domain/caller";
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
  /** The contractor's branch: its jobs come from jobs_contractor_idx, or (listJobsQueries) it is a check on another drive. */
  contractor: boolean;
  /** The contractor whose jobs the branch sees (SQL: a literal, or the token's lookup), on the contractor's branch. */
  contractorId?: SQL;
}

/**
 * A scope whose token check may still be pending (an HTTP request's RequestContext before its first
 * batch): it has the token's hash and answers `resolvedCaller` without looking the token up. Every
 * other scope has its caller at once.
 */
interface MaybeUnresolved {
  readonly resolvedCaller?: Principal;
  tokenHash?(): Promise<string>;
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
export async function visibilityBranches(ctx: Scope & MaybeUnresolved): Promise<VisibilityBranch[]> {
  if (!ctx.tokenHash || ctx.resolvedCaller) {
    const caller = ctx.resolvedCaller ?? ctx.caller;
    const contractor = caller.role === "contractor";
    const contractorId = contractor ? sql`${caller.contractorId ?? -1}` : undefined;
    return [{ applies: undefined, visible: await ctx.jobVisible(), contractor, contractorId }];
  }
  const hash = await ctx.tokenHash();
  const contractorUser = sql`FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ${hash} AND u.role = 'contractor'`;
  return [
    { applies: sql`NOT EXISTS (SELECT 1 ${contractorUser})`, visible: undefined, contractor: false },
    {
      applies: sql`EXISTS (SELECT 1 ${contractorUser})`,
      visible: sql`${jobs.contractorId} = (SELECT u.contractor_id ${contractorUser})`,
      contractor: true,
      contractorId: sql`(SELECT u.contractor_id ${contractorUser})`,
    },
  ];
}

/** `n`, or 0 when the branch does not apply (typed as a number: drizzle embeds it as SQL). */
export const limitIf = (applies: SQL | undefined, n: number): number =>
  (applies ? sql`(CASE WHEN ${applies} THEN ${n} ELSE 0 END)` : n) as unknown as number;

/**
 * How many of a set's newest jobs the drive choice samples: the id of the K-th newest says how dense
 * the set is among recent jobs, the ones a newest-first list reads.
 */
export const DRIVE_SAMPLE = 32;
/**
 * Against a search, the contractor's DRIVE_SAMPLE / 4 newest are compared with the matches'
 * DRIVE_SAMPLE * 2 newest: testing one job against the trigram index (one FTS query) costs far more
 * than looking one match up in jobs, so the contractor's walk must be 8 times sparser to be chosen.
 */
const OWN_VS_MATCHES = [DRIVE_SAMPLE / 4, DRIVE_SAMPLE * 2] as const;

/** The id of the k-th newest job matching `cond`, 0 when fewer match (an index on (column, id) answers in k entries). */
const newestKth = (cond: SQL, k = DRIVE_SAMPLE) =>
  sql`coalesce((SELECT ${jobs.id} FROM ${jobs} WHERE ${cond} ORDER BY ${jobs.id} DESC LIMIT 1 OFFSET ${sql.raw(String(k - 1))}), 0)`;
/** The same for the search's matches, read off the trigram index alone (no job rows). */
const newestKthMatch = (match: string, k: number) =>
  sql`coalesce((SELECT rowid FROM jobs_search WHERE jobs_search MATCH ${match} ORDER BY rowid DESC LIMIT 1 OFFSET ${sql.raw(String(k - 1))}), 0)`;

/**
 * The page of jobs and the bounded count, newest first, per visibility branch (at most one branch
 * answers rows). With a search, the trigram index drives the scan in rowid order (newest first), so
 * a page stops after its rows instead of collecting every match first.
 *
 * A contractor's branch has two drives, and the cheaper one answers (issue 25: a firm of 100 000
 * jobs searching for a rare word walked all its jobs, testing each against the index, for seconds):
 * - its own jobs (jobs_contractor_idx), the filters and the search tested on each;
 * - the drive an unrestricted caller gets (the search's matches, or the filter's index), the
 *   contractor tested on each.
 * Which one: the sparser set among recent jobs, compared by the id of the DRIVE_SAMPLE-th newest
 * job of each (the contractor's, and `probe`'s: a filter an index serves), or against a search, of
 * the contractor's and the matches' (OWN_VS_MATCHES). The choice sits in each statement's LIMIT
 * (`limitIf`, evaluated once before the scan), so the drive not taken reads nothing, and the sample
 * costs at most 72 index entries per statement. Either drive is correct; the choice is only cost.
 */
export async function listJobsQueries(
  ctx: Scope & MaybeUnresolved,
  /** The filters; `indexed: false` asks for terms the planner will not pick an index for (`+column`). */
  filters: (indexed: boolean) => (SQL | undefined)[],
  search: JobSearch | undefined,
  page: { limit: number; offset: number },
  /**
   * What the contractor's jobs are sized against without a search: a filter condition an index on
   * (column, id) serves (`newest`), or a condition true when a filter's set is small enough to drive (`few`).
   */
  probe?: { newest: SQL } | { few: SQL },
) {
  const db = ctx.db;
  const match = search?.match;
  const cap = page.offset + COUNT_WINDOW;
  type Drive = { applies: SQL | undefined; visible: SQL | undefined; own: boolean };
  const drives: Drive[] = (await visibilityBranches(ctx)).flatMap(({ applies, visible, contractor, contractorId }): Drive[] => {
    if (!contractor) return [{ applies, visible, own: false }];
    if ((!match && !probe) || !contractorId) return [{ applies, visible, own: true }];
    const own = sql`${jobs.contractorId} = ${contractorId}`;
    const ownIsSparser = match
      ? sql`(${newestKth(own, OWN_VS_MATCHES[0])} <= ${newestKthMatch(match, OWN_VS_MATCHES[1])})`
      : probe && "few" in probe
        ? sql`(NOT ${probe.few})`
        : sql`(${newestKth(own)} <= ${probe ? newestKth(probe.newest) : sql`0`})`;
    return [
      { applies: and(applies, ownIsSparser), visible, own: true },
      // `+`: the contractor is a test on each row; the planner keeps the unrestricted caller's drive.
      { applies: and(applies, sql`NOT ${ownIsSparser}`), visible: sql`+${jobs.contractorId} = ${contractorId}`, own: false },
    ];
  });
  const branches = drives.map(({ applies, visible, own }) => {
    // Searching, ids are read as the index's rowid (the same value), so "ORDER BY rowid DESC" is the
    // index's own order and a page stops after its rows. The contractor's own drive instead walks its
    // jobs and asks the index about each one (rowid = ? AND MATCH): chosen only when they are few.
    const drive = Boolean(match) && !own;
    // Short words test the index row in scope: the drive's own, or the one the check looks up.
    const row = sql`${jobsSearch}`;
    const where = and(
      visible,
      ...filters(!own),
      drive ? sql`${jobsSearch} MATCH ${match}` : undefined,
      drive ? search?.residual?.(row) : undefined,
      !drive && search && (match || search.residual)
        ? sql`EXISTS (SELECT 1 FROM jobs_search WHERE ${and(
            sql`rowid = ${jobs.id}`,
            match ? sql`jobs_search MATCH ${match}` : undefined,
            search.residual?.(row),
          )})`
        : undefined,
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
