import { or, type SQL, sql } from "drizzle-orm";
import { jobs } from "../../db/schema";

/**
 * Search across title, reference and description. Terms of three or more characters use the
 * `jobs_search` FTS5 trigram index (substring match, case-insensitive, every term must match);
 * shorter terms fall back to LIKE, which the trigram index cannot serve.
 */
export function jobSearchCondition(search: string): SQL | undefined {
  const terms = search.split(/\s+/).filter(Boolean).slice(0, 8);
  if (terms.length === 0) return undefined;
  const long = terms.filter((t) => [...t].length >= 3);
  const short = terms.filter((t) => [...t].length < 3);
  const parts: SQL[] = [];
  if (long.length > 0) {
    const match = long.map((t) => `"${t.replaceAll('"', '""')}"`).join(" AND ");
    parts.push(sql`${jobs.id} IN (SELECT rowid FROM jobs_search WHERE jobs_search MATCH ${match})`);
  }
  for (const t of short) {
    const like = `%${t.replaceAll("\\", "\\\\").replaceAll("%", "\\%").replaceAll("_", "\\_")}%`;
    parts.push(
      sql`(${or(
        sql`${jobs.jobTitle} LIKE ${like} ESCAPE '\\'`,
        sql`${jobs.jobRef} LIKE ${like} ESCAPE '\\'`,
        sql`${jobs.jobDescription} LIKE ${like} ESCAPE '\\'`,
      )})`,
    );
  }
  return sql.join(parts, sql` AND `);
}
