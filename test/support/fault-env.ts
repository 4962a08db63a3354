/**
 * Fault injection for the proof under faults (test/suites/faults.test.ts): an `Env` whose R2 bucket, D1
 * database or media queue producer throws on chosen calls, everything else passing through to the
 * real local bindings. Hand it to the Worker's own `fetch` / `queue` (src/index.ts) or to
 * `createServices`: the code under test runs unchanged, only the infrastructure fails.
 *
 * A rule names a binding, a method and optionally a predicate on what the call touches (the R2 key,
 * the SQL text of a statement or of every statement of a batch, the queue message); it fires on its
 * `nth` matching call (1 = the first) and then `times` times in a row (Infinity = every call).
 * `fired(rule)` says how often it did, so a test can prove its fault was really injected. A rule
 * with `after: true` lets the call go through and throws once it has answered: the work is done
 * (a D1 batch committed) but the caller never learns it, as when the Worker dies right then.
 */

export type Binding = "MEDIA" | "DB" | "MEDIA_QUEUE";

export interface FaultRule {
  binding: Binding;
  /** R2: put, get, head, delete, list; D1: batch, run, all, raw, first; queue: send. */
  method: string;
  /** The key (R2), SQL text (D1; a batch's statements joined by ";\n") or message body (queue). */
  match?: (subject: unknown) => boolean;
  nth?: number;
  times?: number;
  /** Throw after the real call succeeded (D1 only) instead of before it. */
  after?: boolean;
  message?: string;
}

interface RuleState {
  rule: FaultRule;
  seen: number;
  fired: number;
}

export interface FaultEnv {
  env: Env;
  /** How many times the rule threw. */
  fired(rule: FaultRule): number;
}

export class InjectedFault extends Error {}

type Check = (method: string, subject: unknown, after?: boolean) => void;

/** Runs `call` between the checks of the rules that fire before it and of those that fire after it. */
async function around<T>(check: Check, method: string, subject: unknown, call: () => Promise<T>): Promise<T> {
  check(method, subject);
  const result = await call();
  check(method, subject, true);
  return result;
}

/** SQL of a statement made through a faulty D1 (drizzle prepares, binds, then runs or batches). */
class FaultStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    readonly sql: string,
    private readonly check: Check,
  ) {}
  bind(...values: unknown[]) {
    return new FaultStatement(this.inner.bind(...values), this.sql, this.check);
  }
  // Like D1's own, these fail asynchronously (a rejected promise).
  async first(column?: string) {
    return around(this.check, "first", this.sql, () => (column === undefined ? this.inner.first() : this.inner.first(column)));
  }
  async run() {
    return around(this.check, "run", this.sql, () => this.inner.run());
  }
  async all() {
    return around(this.check, "all", this.sql, () => this.inner.all());
  }
  async raw(options?: { columnNames?: boolean }) {
    return around(this.check, "raw", this.sql, () => this.inner.raw(options as { columnNames: true }));
  }
}

const unwrap = (s: unknown) => (s instanceof FaultStatement ? s.inner : (s as D1PreparedStatement));

export function faultyEnv(base: Env, rules: FaultRule[]): FaultEnv {
  const states: RuleState[] = rules.map((rule) => ({ rule, seen: 0, fired: 0 }));
  const check = (binding: Binding, method: string, subject: unknown, after = false) => {
    for (const s of states) {
      const { rule } = s;
      if ((rule.after ?? false) !== after) continue;
      if (rule.binding !== binding || rule.method !== method || (rule.match && !rule.match(subject))) continue;
      s.seen++;
      const from = rule.nth ?? 1;
      const times = rule.times ?? 1;
      if (s.seen >= from && s.seen < from + times) {
        s.fired++;
        throw new InjectedFault(rule.message ?? `injected fault: ${binding}.${method}`);
      }
    }
  };

  const wrapD1 = (db: D1Database | D1DatabaseSession): D1Database => {
    const c: Check = (method, subject, after) => check("DB", method, subject, after);
    return {
      prepare: (query: string) => new FaultStatement(db.prepare(query), query, c) as unknown as D1PreparedStatement,
      batch: async (statements: D1PreparedStatement[]) =>
        around(
          c,
          "batch",
          statements.map((s) => (s instanceof FaultStatement ? s.sql : "")),
          () => db.batch(statements.map(unwrap)),
        ),
      exec: (query: string) => (db as D1Database).exec(query),
      dump: () => (db as D1Database).dump(),
      withSession: (constraint?: string) =>
        wrapD1((db as D1Database).withSession(constraint as D1SessionConstraint)) as unknown as D1DatabaseSession,
      getBookmark: () => (db as D1DatabaseSession).getBookmark?.() ?? null,
    } as unknown as D1Database;
  };

  const media = new Proxy(base.MEDIA, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver === media ? target : receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        // R2's methods fail asynchronously (a rejected promise), never by throwing at the call.
        try {
          check("MEDIA", String(prop), args[0]);
        } catch (err) {
          return Promise.reject(err);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const queue = {
    send: async (body: unknown, options?: QueueSendOptions) => {
      check("MEDIA_QUEUE", "send", body);
      return base.MEDIA_QUEUE.send(body, options);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      for (const m of messages) check("MEDIA_QUEUE", "send", m.body);
      return base.MEDIA_QUEUE.sendBatch(messages, options);
    },
  };
  const db = wrapD1(base.DB);

  const env = new Proxy(base, {
    get(target, prop) {
      if (prop === "MEDIA") return media;
      if (prop === "DB") return db;
      if (prop === "MEDIA_QUEUE") return queue;
      return Reflect.get(target, prop);
    },
  });
  return {
    env,
    fired: (rule) => states.find((s) => s.rule === rule)?.fired ?? 0,
  };
}

/** SQL matchers: a statement (or any statement of a batch) that writes or reads `table`. */
export const sqlTouches =
  (verb: "insert into" | "update" | "delete from", table: string) =>
  (subject: unknown): boolean => {
    const texts = Array.isArray(subject) ? subject : [subject];
    const needle = `${verb} "${table}"`;
    return texts.some((t) => typeof t === "string" && t.toLowerCase().includes(needle));
  };

/** R2 key matcher. */
export const keyMatches =
  (re: RegExp) =>
  (subject: unknown): boolean =>
    typeof subject === "string" && re.test(subject);
