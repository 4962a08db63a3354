import { Column, is, SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

type Nullable<C> = C extends SQLiteColumn<infer K> ? (K["notNull"] extends true ? K["data"] : K["data"] | null) : never;

type Aliased<T> = {
  [K in keyof T]: T[K] extends SQLiteColumn
    ? SQL.Aliased<Nullable<T[K]>>
    : T[K] extends SQL<infer U>
      ? SQL.Aliased<U>
      : T[K] extends SQL.Aliased<infer U>
        ? SQL.Aliased<U>
        : never;
};

/**
 * Gives every selected column a unique SQL alias (its key). D1 answers a batch with one object
 * per row, which drizzle turns back into values by position: two columns both called `name`
 * (statuses.name, agents.name) collapse into one key and shift every value after them. Aliasing
 * keeps them apart; `mapWith` keeps each column's decoding (booleans, for one).
 */
export function aliased<T extends Record<string, SQLiteColumn | SQL | SQL.Aliased>>(fields: T): Aliased<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (is(value, Column)) out[key] = sql`${value}`.mapWith(value).as(key);
    else if (is(value, SQL)) out[key] = value.as(key);
    else out[key] = sql`${(value as SQL.Aliased).sql}`.as(key);
  }
  return out as Aliased<T>;
}
