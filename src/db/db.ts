import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./schema";

/** The typed D1 handle (drizzle over the request's session); built only by src/platform/services.ts. */
export type Db = DrizzleD1Database<typeof schema>;
