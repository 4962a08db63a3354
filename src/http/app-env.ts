import type { Context } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import type { RequestContext } from "./context";

/** A request body as one plain record, whatever its encoding (src/http/body.ts). */
export type BodyRecord = Record<string, unknown>;

/**
 * The Hono environment of every API route, on its own so that operation.ts, idempotency.ts,
 * rate-limit.ts and body.ts can name it without importing one another.
 */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestIdVariables & {
    ctx: RequestContext;
    /** The request body as one record, read once (src/http/body.ts): a promise, shared by its readers. */
    parsedBody?: Promise<BodyRecord>;
  };
};
export type AppContext = Context<AppEnv>;
