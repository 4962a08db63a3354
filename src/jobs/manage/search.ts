import { type SQL, sql } from "drizzle-orm";
import { integer, type SQLiteColumn, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The FTS5 trigram index over reference, title, description, the job's address (lines, town,
 * postcode with and without its space) and its contractor's and agent's names
 * (migrations/0017_jobs_search_property.sql; none of them encrypted).
 */
export const jobsSearch = sqliteTable("jobs_search", {
  rowid: integer("rowid").notNull(),
  jobsSearch: text("jobs_search"),
});

/**
 * Turns user text into search terms that can never reach SQLite as syntax: control characters
 * (NUL included, which FTS5 reads as the end of its query: "unterminated string") become
 * spaces, so they split terms as whitespace does; at most 8 terms are kept.
 */
export function searchTerms(search: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const cleaned = search.replace(/[\u0000-\u001f\u007f]/g, " ");
  return cleaned.split(/\s+/).filter(Boolean).slice(0, 8);
}

/** The trigram index serves words of this length and more (migrations/0001_jobs_search.sql). */
export const MIN_SEARCH_WORD = 3;

/** One FTS5 string literal: the term in double quotes, inner quotes doubled. Operators inside are text. */
export const ftsPhrase = (term: string) => `"${term.replaceAll('"', '""')}"`;

/**
 * `column` contains `term`, ASCII case-insensitively (as LIKE is). instr() rather than LIKE: the term
 * is a plain bound value with no pattern syntax to escape, and no pattern-length limit (D1 refuses
 * LIKE patterns over 50 bytes: "LIKE or GLOB pattern too complex").
 */
export const containsText = (column: SQLiteColumn, term: string): SQL => sql`instr(lower(${column}), lower(${term})) > 0`;

export interface JobSearch {
  /** The FTS5 MATCH expression for the terms of three or more characters, if any. */
  match: string | undefined;
  /**
   * Substring conditions for shorter terms, which the trigram index cannot serve, on the index row
   * `row` names (the query's own `jobs_search`): the row the MATCH already reads, so a short word
   * costs no lookup of its own (a second cursor on the index read each match's row again).
   */
  residual: ((row: SQL) => SQL) | undefined;
}

/** What a short term is tested against: every searched column of an index row (space-joined: a term has none). */
const searchedText = (row: SQL) =>
  sql`${row}.job_ref || ' ' || ${row}.job_title || ' ' || ${row}.job_description || ' ' || coalesce(${row}.property, '') || ' ' || coalesce(${row}.contractor_name, '') || ' ' || coalesce(${row}.agent_name, '')`;

/**
 * Search across reference, title, description, address, postcode, contractor and agent names
 * (one index, so "boiler victoria" finds boiler jobs at Victoria Terrace). Terms of three or more
 * characters use the `jobs_search` trigram index (substring, case-insensitive, every term must
 * match); shorter terms are a substring test on the index row each match already reads. The list's
 * schema asks for one long term: with none, the test would run on every job.
 */
export function jobSearch(search: string | undefined): JobSearch | undefined {
  const terms = searchTerms(search ?? "");
  if (terms.length === 0) return undefined;
  const long = terms.filter((t) => [...t].length >= MIN_SEARCH_WORD);
  const short = terms.filter((t) => [...t].length < MIN_SEARCH_WORD);
  return {
    match: long.length > 0 ? long.map(ftsPhrase).join(" AND ") : undefined,
    residual:
      short.length > 0
        ? (row) => {
            const text = searchedText(row);
            return sql.join(
              short.map((t) => sql`instr(lower(${text}), lower(${t})) > 0`),
              sql` AND `,
            );
          }
        : undefined,
  };
}
