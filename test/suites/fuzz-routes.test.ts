import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJpeg, makePdf } from "../../scripts/lib/media-fixtures";
import type { Operation } from "../../src/http/operation";
import { operations } from "../../src/routes";
import { actor, createJob, type Fixtures, seedFixtures } from "../support/helpers";

/**
 * Property-based fuzz of every route in src/routes.ts: field names come from the route's zod
 * schemas (plus `action` values and unknown fields), values are plausible ones (real ids and
 * uuids) or hostile ones (huge strings, deep nesting, NUL, lone surrogates, RTL overrides,
 * out-of-range numbers, arrays for scalars, SQL/FTS/LIKE syntax), sent as query, JSON, form or
 * multipart with duplicated fields, by an admin who passes auth and CSRF so the input reaches
 * validation and the handlers. Every answer must be below 500, every error in the error envelope,
 * every JSON success match the route's documented schema.
 */

const CASES_PER_ROUTE = 200;
const SEED = 20261130;

interface ZodLike {
  _zod?: { def?: Record<string, unknown> };
}

/** Field names a zod schema knows, through objects, unions, pipes, optionals and defaults. */
function fieldsOf(schema: unknown): string[] {
  const out = new Set<string>();
  const visit = (s: unknown, depth: number) => {
    const def = (s as ZodLike | undefined)?._zod?.def;
    if (!def || depth > 10) return;
    const shape = def.shape as Record<string, unknown> | undefined;
    if (shape) for (const key of Object.keys(shape)) out.add(key);
    for (const option of (def.options as unknown[] | undefined) ?? []) visit(option, depth + 1);
    for (const k of ["in", "out", "innerType", "left", "right", "schema"]) if (def[k]) visit(def[k], depth + 1);
  };
  visit(schema, 0);
  return [...out];
}

/** One field list per member of a top-level union (each `action`), with its `action` literal if any. */
function memberFields(schema: unknown): { fields: string[]; action?: string }[] {
  const def = (schema as ZodLike | undefined)?._zod?.def;
  if (!def) return [];
  const options = (def.options as unknown[] | undefined) ?? [];
  return (options.length > 0 ? options : [schema]).map((member) => {
    const shape = (member as ZodLike)._zod?.def?.shape as Record<string, ZodLike> | undefined;
    const values = shape?.action?._zod?.def?.values as unknown[] | undefined;
    return { fields: fieldsOf(member), action: typeof values?.[0] === "string" ? values[0] : undefined };
  });
}

let fx: Fixtures;
let job: { job_id: number; job_uuid: string; job_ref: string };

const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "abc\u0000def",
    "\ud800",
    "\udfff x",
    "\u202eevil\u202c",
    "\u2066x\u2069",
    "' OR 1=1 --",
    '"; DROP TABLE jobs; --',
    "%",
    "_%_",
    "\\",
    "*",
    "NEAR(a b)",
    'title:"x" AND y OR z*',
    "abc%00def",
    "<script>alert(1)</script>",
    "<img/src=x/onerror=alert(1)>",
    "javascript:alert(1)",
    "../../etc/passwd",
    "1e999",
    "-0",
    "0x10",
    " 5 ",
    "NaN",
    "Infinity",
    "true",
    "null",
    "2024-13-45",
    "9999-12-31T23:59:59Z",
    "00000000-0000-0000-0000-000000000000",
    "😀".repeat(50),
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 49, max: 70_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 49, max: 2000 }).map((n) => `${"ab".repeat(n)}`),
);

const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, 1, 2, 5, 20, 2 ** 31, 2 ** 53 + 1, -(2 ** 53), 1e308, -1e308, 1.5, -0.0001, 100.001),
  fc.integer(),
  fc.double({ noNaN: true }),
);

const nested = fc.integer({ min: 1, max: 60 }).map((depth) => {
  let v: unknown = "leaf";
  // Linear nesting (a shared child in two places would double per level when serialised).
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
});

/** A value for a field: plausible (so handlers run) or hostile. */
function valueFor(field: string, actions: readonly string[] | undefined) {
  const plausible: fc.Arbitrary<unknown>[] = [
    fc.constantFrom(job.job_uuid, job.job_id, String(job.job_id), job.job_ref, crypto.randomUUID(), fx.addressId, fx.contractorId, 1, 2, 3),
  ];
  if (field === "action" && actions?.length) plausible.push(fc.constantFrom(...actions));
  return fc.oneof(
    { weight: 3, arbitrary: fc.oneof(...plausible) },
    { weight: 3, arbitrary: hostileString },
    { weight: 2, arbitrary: hostileNumber },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.array(fc.oneof(hostileString, hostileNumber), { maxLength: 4 }) },
    { weight: 1, arbitrary: nested },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), hostileString, { maxKeys: 3 }) },
  );
}

interface Case {
  fields: [string, unknown][];
  encoding: "json" | "form" | "multipart" | "query";
  duplicate: boolean;
  file: "none" | "jpeg" | "pdf" | "junk" | "html";
}

function caseArbitrary(op: Operation): fc.Arbitrary<Case> {
  const known = [...new Set([...fieldsOf(op.query), ...fieldsOf(op.body), "action"])];
  const field = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  );
  const entry = field.chain((name) => valueFor(name, op.actions).map((v) => [name, v] as [string, unknown]));
  // Half the cases: every known field with a plausible value but one hostile, so handlers run too.
  const plausibleValue = (name: string): unknown => {
    if (name === "action") return op.actions?.[0] ?? "list";
    if (/uuid$/.test(name)) return job.job_uuid;
    if (/(^|_)id$|_ids?$|^id$/.test(name)) return job.job_id;
    if (/date/.test(name)) return "2026-12-01";
    if (/^(is_|send_|has_)/.test(name)) return "true";
    return "Text";
  };
  const members: { fields: string[]; action?: string }[] = [...memberFields(op.query), ...memberFields(op.body)].filter(
    (m) => m.fields.length > 0,
  );
  const oneHostile = fc
    .tuple(
      fc.constantFrom(...(members.length > 0 ? members : [{ fields: known }])),
      fc.nat(),
      fc.oneof(hostileString, hostileNumber, nested, fc.array(hostileString, { maxLength: 3 })),
    )
    .map(([member, n, bad]) => {
      const at = n % member.fields.length;
      return member.fields.map(
        (name, i) =>
          [name, i === at ? bad : name === "action" && member.action ? member.action : plausibleValue(name)] as [string, unknown],
      );
    });
  // A third of the cases start from the route's documented examples (the reference's requests),
  // their ids and uuids pointed at this run's job, with one field hostile or none: valid requests
  // that reach the handlers, and near-valid ones that probe past validation.
  const examples = documentedExamples(op);
  const fromExample = fc
    .tuple(
      fc.constantFrom(...(examples.length > 0 ? examples : [[] as [string, unknown][]])),
      fc.nat(),
      fc.option(fc.oneof(hostileString, hostileNumber, nested, fc.array(hostileString, { maxLength: 3 })), { freq: 2 }),
    )
    .map(([fields, n, bad]) =>
      bad === null || fields.length === 0 ? fields : fields.map(([k, v], i) => [k, i === n % fields.length ? bad : v] as [string, unknown]),
    );
  const encoding = op.mutating ? fc.constantFrom("json", "form", "multipart", "query") : fc.constant("query");
  const generated = fc.record({
    fields: fc.oneof(fc.array(entry, { maxLength: 10 }), oneHostile),
    encoding,
    duplicate: fc.boolean(),
    file: fc.constantFrom("none", "jpeg", "pdf", "junk", "html"),
  });
  // Example cases keep each field once (a duplicated scalar is a 400 before the handler).
  const documented = fc.record({
    fields: fromExample,
    encoding: op.mutating ? fc.constantFrom("json", "form") : fc.constant("query"),
    duplicate: fc.constant(false),
    file: fc.constant("none"),
  });
  return fc.oneof(
    { weight: 2, arbitrary: generated },
    { weight: examples.length > 0 ? 1 : 0, arbitrary: documented },
  ) as fc.Arbitrary<Case>;
}

/** The operation's documented request examples as field lists, with this run's job in place of theirs. */
function documentedExamples(op: Operation): [string, unknown][][] {
  const docs = op.docs;
  const bodies = Object.values(docs?.body ?? {}).map((e) => e.value as Record<string, unknown>);
  const lists = [...bodies, ...(docs?.query ? [docs.query] : [])].map((example) =>
    Object.entries(example)
      .filter(([k]) => k !== "csrf_token")
      .map(([k, v]): [string, unknown] => {
        if (typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(v) && /job/.test(k)) return [k, job.job_uuid];
        if (k === "job_id") return [k, job.job_id];
        if (k === "address_id") return [k, fx.addressId];
        if (k === "contractor_id") return [k, fx.contractorId];
        if (k === "agent_id") return [k, fx.agentId];
        return [k, v];
      }),
  );
  return lists.filter((l) => l.length > 0);
}

const asText = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));

function fileBytes(kind: Case["file"]): Uint8Array | undefined {
  if (kind === "jpeg") return makeJpeg(16, 12);
  if (kind === "pdf") return makePdf();
  if (kind === "junk") return new Uint8Array(300).fill(0xab);
  if (kind === "html") return new TextEncoder().encode("<!doctype html><script>alert(1)</script>");
  return undefined;
}

function buildRequest(op: Operation, c: Case, token: string, csrf: string): Request {
  const headers = new Headers({ Authorization: `Bearer ${token}` });
  if (op.mutating) headers.set("X-CSRF-Token", csrf);
  const url = new URL(`https://propops.test${op.path}`);
  const pairs = c.duplicate ? c.fields.flatMap((f) => [f, f]) : c.fields;
  let body: BodyInit | undefined;
  if (c.encoding === "query") {
    for (const [k, v] of pairs) url.searchParams.append(k, asText(v));
  } else if (c.encoding === "json") {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(Object.fromEntries(c.fields));
  } else if (c.encoding === "form") {
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(pairs.map(([k, v]) => [k, asText(v)])).toString();
  } else {
    const form = new FormData();
    for (const [k, v] of pairs) form.append(k, asText(v));
    const bytes = fileBytes(c.file);
    if (bytes) {
      form.append("file", new Blob([bytes]), "\u202efile.jpg");
      form.append("attachments", new Blob([bytes]), "a.txt");
    }
    body = form;
  }
  return new Request(url, { method: op.method.toUpperCase(), headers, body });
}

const ErrorEnvelopeKeys = ["code", "errors", "message", "request_id", "success"];
// A lifecycle refusal also says where the job is and where this caller may take it (src/domain/lifecycle.ts).
const LifecycleEnvelopeKeys = ["code", "current_status", "errors", "message", "next_statuses", "request_id", "success"];
const LIFECYCLE_CODES = new Set(["TRANSITION_NOT_ALLOWED", "TRANSITION_REQUIRES_EVIDENCE", "APPROVAL_REQUIRED"]);

beforeAll(async () => {
  fx = await seedFixtures();
  const staff = await actor("staff");
  job = await createJob(staff, fx, { agent_id: fx.agentId, contractor_budget: 180 });
});

describe("fuzz: every route, schema-derived and hostile input", () => {
  const figures: { route: string; cases: number; fiveHundreds: number; statuses: Record<number, number> }[] = [];

  afterAll(() => {
    const all: Record<number, number> = {};
    for (const f of figures) for (const [status, n] of Object.entries(f.statuses)) all[Number(status)] = (all[Number(status)] ?? 0) + n;
    const cases = figures.reduce((sum, f) => sum + f.cases, 0);
    const answered = Object.entries(all).filter(([status]) => Number(status) < 400 || Number(status) === 404 || Number(status) === 409);
    console.log(
      `fuzz total: ${figures.length} routes, ${cases} cases, 5xx ${figures.reduce((sum, f) => sum + f.fiveHundreds, 0)}; ` +
        `past validation (2xx, 404, 409): ${answered.reduce((sum, [, n]) => sum + n, 0)}; statuses ${JSON.stringify(all)}`,
    );
  });

  it.each(operations.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const))(
    "%s: no 5xx, errors in the envelope, successes as documented",
    { timeout: 120_000 },
    async (route, op) => {
      // A fresh admin per route: each stays under the per-token rate limit.
      const admin = await actor("admin");
      const cases = fc.sample(caseArbitrary(op), { numRuns: CASES_PER_ROUTE, seed: SEED });
      const problems: string[] = [];
      const statuses: Record<number, number> = {};
      let fiveHundreds = 0;
      for (let i = 0; i < cases.length; i += 8) {
        const chunk = cases.slice(i, i + 8);
        await Promise.all(
          chunk.map(async (c) => {
            const res = await exports.default.fetch(buildRequest(op, c, admin.token, admin.csrf));
            statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            const text = await res.text();
            const describeCase = () => `${res.status} for ${JSON.stringify(c).slice(0, 400)}: ${text.slice(0, 300)}`;
            if (res.status >= 500) {
              fiveHundreds++;
              problems.push(describeCase());
            }
            const isJson = (res.headers.get("content-type") ?? "").includes("application/json");
            if (res.status >= 400) {
              let body: Record<string, unknown> | undefined;
              try {
                body = JSON.parse(text);
              } catch {
                problems.push(`not JSON: ${describeCase()}`);
                return;
              }
              if (
                body?.success !== false ||
                typeof body.message !== "string" ||
                typeof body.code !== "string" ||
                !Array.isArray(body.errors) ||
                Object.keys(body).sort().join() !== (LIFECYCLE_CODES.has(body.code) ? LifecycleEnvelopeKeys : ErrorEnvelopeKeys).join()
              ) {
                problems.push(`not the error envelope: ${describeCase()}`);
              }
            } else if (isJson) {
              const documented = (
                op.responses[res.status] as { content?: Record<string, { schema?: { safeParse(v: unknown): { success: boolean } } }> }
              )?.content?.["application/json"]?.schema;
              if (documented && !documented.safeParse(JSON.parse(text)).success) problems.push(`not as documented: ${describeCase()}`);
            }
          }),
        );
      }
      figures.push({ route, cases: cases.length, fiveHundreds, statuses });
      console.log(`fuzz ${route}: ${cases.length} cases, 5xx ${fiveHundreds}, statuses ${JSON.stringify(statuses)}`);
      expect(problems.slice(0, 5)).toEqual([]);
      expect(cases.length).toBe(CASES_PER_ROUTE);
    },
  );
});
