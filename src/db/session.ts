/**
 * D1 for one request: a Sessions API session (read replication) that also counts what the request
 * costs.
 *
 * - Reads (GET/HEAD) start "first-unconstrained": the nearest replica answers. Other methods start
 *   "first-primary". A client that sends back the `X-D1-Bookmark` it was given continues from that
 *   point, so it reads its own writes even on a replica that lags.
 * - Every answer carries the session's latest bookmark in `X-D1-Bookmark`.
 * - Round trips (statements run alone, or one batch) and D1's `meta.rows_read` / `rows_written` are
 *   summed per request. With `D1_METRICS=on` (tests, benchmarks; never production: rows read would
 *   tell a caller about rows it may not see) they are answered as `X-D1-Round-Trips`,
 *   `X-D1-Rows-Read`, `X-D1-Rows-Written`. `raw()` results carry no meta: their rows are not counted.
 */

export const BOOKMARK_HEADER = "X-D1-Bookmark";

const BOOKMARK_DOC =
  "D1 read replication: the session bookmark. Every answer carries the latest; send it back on the next request to read " +
  "your own writes (and anything newer) even from a replica that lags. Optional: without it reads may be served by any replica.";

/** The header in the OpenAPI document: on every answer, and accepted on every request. */
export const bookmarkResponseHeaders = { [BOOKMARK_HEADER]: { description: BOOKMARK_DOC, schema: { type: "string" as const } } };
export const bookmarkRequestHeader = { [BOOKMARK_HEADER]: { description: BOOKMARK_DOC } };

/** D1 bookmarks are hex groups joined by dashes; anything else is ignored rather than sent to D1. */
const BOOKMARK_RE = /^[0-9a-f]{1,32}(?:-[0-9a-f]{1,64}){0,7}$/i;

export interface D1Usage {
  roundTrips: number;
  rowsRead: number;
  rowsWritten: number;
}

type Meta = { meta?: { rows_read?: number; rows_written?: number } };

export class MeteredD1 {
  readonly usage: D1Usage = { roundTrips: 0, rowsRead: 0, rowsWritten: 0 };
  private readonly session: D1DatabaseSession;

  constructor(
    db: D1Database,
    method: string,
    bookmark: string | null | undefined,
    private readonly metrics = false,
  ) {
    const read = method === "GET" || method === "HEAD";
    const from = bookmark && BOOKMARK_RE.test(bookmark) ? bookmark : undefined;
    this.session = db.withSession(from ?? (read ? "first-unconstrained" : "first-primary"));
  }

  private count(results: Meta | Meta[]) {
    for (const r of Array.isArray(results) ? results : [results]) {
      this.usage.rowsRead += r.meta?.rows_read ?? 0;
      this.usage.rowsWritten += r.meta?.rows_written ?? 0;
    }
  }

  prepare(query: string): D1PreparedStatement {
    return new MeteredStatement(this.session.prepare(query), this) as unknown as D1PreparedStatement;
  }

  async batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    this.usage.roundTrips++;
    const inner = statements.map((s) => (s instanceof MeteredStatement ? s.inner : s));
    const results = await this.session.batch<T>(inner);
    this.count(results);
    return results;
  }

  /** @internal */
  track<R>(promise: Promise<R>, hasMeta: boolean): Promise<R> {
    this.usage.roundTrips++;
    if (!hasMeta) return promise;
    return promise.then((r) => {
      this.count(r as Meta);
      return r;
    });
  }

  getBookmark(): string | null {
    return this.session.getBookmark();
  }

  /** The response headers: the bookmark always, the usage when metrics are on. */
  stamp(headers: Headers) {
    const bookmark = this.getBookmark();
    if (bookmark) headers.set(BOOKMARK_HEADER, bookmark);
    if (!this.metrics) return;
    headers.set("X-D1-Round-Trips", String(this.usage.roundTrips));
    headers.set("X-D1-Rows-Read", String(this.usage.rowsRead));
    headers.set("X-D1-Rows-Written", String(this.usage.rowsWritten));
  }
}

class MeteredStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly d1: MeteredD1,
  ) {}
  bind(...values: unknown[]) {
    return new MeteredStatement(this.inner.bind(...values), this.d1);
  }
  first(col?: string) {
    this.d1.usage.roundTrips++;
    return col === undefined ? this.inner.first() : this.inner.first(col);
  }
  run() {
    return this.d1.track(this.inner.run(), true);
  }
  all() {
    return this.d1.track(this.inner.all(), true);
  }
  raw(options?: { columnNames?: boolean }) {
    return this.d1.track(options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw(), false);
  }
}

/** The request's D1, from its method and `X-D1-Bookmark` header. */
export function requestD1(env: Env, request: Request): MeteredD1 {
  const metrics = (env as { D1_METRICS?: string }).D1_METRICS === "on";
  return new MeteredD1(env.DB, request.method, request.headers.get(BOOKMARK_HEADER), metrics);
}
