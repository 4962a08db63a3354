/**
 * The OpenAPI document as the running Worker serves it: linted with Spectral's `spectral:oas`
 * ruleset (.spectral.yaml) and Redocly's recommended rules (zero errors and zero warnings each), and checked for what an integrator
 * relies on: tags with descriptions, servers, contact, the package version, examples on every
 * JSON request and response, the error statuses with their codes, and the documented headers.
 * The document is kept in test-output/openapi.json for inspection.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type LocalApi, ROOT, sharedLocalApi } from "../../scripts/lib/local-api.ts";

const exec = promisify(execFile);
const OUTPUT = path.join(ROOT, "test-output");

interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, Media>;
}
interface Operation {
  operationId: string;
  tags: string[];
  description?: string;
  parameters?: { name: string; in: string; schema: { example?: unknown } }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, Response>;
}
interface Doc {
  info: { version: string; contact?: { name?: string; email?: string } };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

let api: LocalApi | undefined;
let doc: Doc;
let file = "";

before(
  async () => {
    api = await sharedLocalApi();
    const res = await fetch(`${api.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Doc;
    await mkdir(OUTPUT, { recursive: true });
    file = path.join(OUTPUT, "openapi.json");
    await writeFile(file, JSON.stringify(doc, null, 2));
  },
  { timeout: 180_000 },
);
after(async () => api?.stop());

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([m, op]) => ({ key: `${m.toUpperCase()} ${p}`, op })));

/** The API proper (/health is unauthenticated and unlimited). */
const apiOperations = () => operations().filter(({ key }) => key.split(" ")[1]?.startsWith("/api/"));

test("/health is documented without security, with its 503", () => {
  const op = doc.paths["/health"]?.get as (Operation & { security?: unknown[] }) | undefined;
  assert.deepEqual(op?.security, []);
  assert.ok(op?.responses["503"]);
});

test("spectral:oas finds no error and no warning", { timeout: 120_000 }, async () => {
  const spectral = path.join(ROOT, "node_modules/.bin/spectral");
  let stdout = "";
  try {
    ({ stdout } = await exec(spectral, ["lint", file, "--ruleset", path.join(ROOT, ".spectral.yaml"), "--format", "json", "--quiet"], {
      cwd: ROOT,
      maxBuffer: 32 * 1024 * 1024,
    }));
  } catch (err) {
    // Spectral exits 1 when it reports errors; the JSON on stdout says which.
    stdout = (err as { stdout?: string }).stdout ?? "";
    if (!stdout.trim()) throw err;
  }
  const results = JSON.parse(stdout || "[]") as { code: string; severity: number; message: string; path: string[] }[];
  // severity 0 = error, 1 = warning (2 info, 3 hint are not counted).
  const problems = results.filter((r) => r.severity <= 1).map((r) => `${r.code} ${r.path.join(".")}: ${r.message}`);
  assert.deepEqual(problems, []);
});

test("Redocly's recommended rules find no error and no warning", { timeout: 120_000 }, async () => {
  const redocly = path.join(ROOT, "node_modules/.bin/redocly");
  let out = "";
  try {
    const res = await exec(redocly, ["lint", file, "--format", "json"], { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 });
    out = res.stdout;
  } catch (err) {
    // Redocly exits 1 when it reports errors; the JSON on stdout says which.
    out = (err as { stdout?: string }).stdout ?? "";
    if (!out.trim()) throw err;
  }
  const report = JSON.parse(out) as { problems: { ruleId: string; severity: string; message: string }[] };
  const problems = report.problems.filter((p) => p.severity === "error" || p.severity === "warn").map((p) => `${p.ruleId}: ${p.message}`);
  assert.deepEqual(problems, []);
});

test("info, servers and tags: version from package.json, contact, a description for every tag in use", async () => {
  const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
  assert.equal(doc.info.version, pkg.version);
  assert.ok(doc.info.contact?.email);
  assert.equal(doc.servers?.[0]?.url, api?.url);
  const tags = new Map((doc.tags ?? []).map((t) => [t.name, t.description ?? ""]));
  for (const section of ["Jobs", "Case Notes", "Photos", "Documents", "Recalls", "Amendments", "SLA Status", "Approval Gate"]) {
    assert.ok(tags.get(section), `tag ${section}`);
  }
  for (const { key, op } of operations()) {
    assert.equal(op.tags.length, 1, key);
    assert.ok(tags.get(op.tags[0] ?? ""), `${key}: tag ${op.tags[0]} is declared with a description`);
  }
});

test("every JSON request body, JSON response and query carries an example", () => {
  const missing: string[] = [];
  for (const { key, op } of operations()) {
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      if (!media.examples && media.example === undefined) missing.push(`${key} request ${type}`);
    }
    for (const [status, res] of Object.entries(op.responses)) {
      const json = res.content?.["application/json"];
      if (json && !json.examples && json.example === undefined) missing.push(`${key} ${status}`);
    }
    const query = (op.parameters ?? []).filter((p) => p.in === "query");
    // Optional parameters give theirs in the description ("Example: `status_id=1`"), so a docs page
    // does not send them as active filters; required ones as the schema's example.
    const exampled = (p: (typeof query)[number]) =>
      p.schema.example !== undefined || /Example: `/.test((p as { description?: string }).description ?? "");
    if (query.length > 0 && !query.some(exampled)) missing.push(`${key} query`);
  }
  assert.deepEqual(missing, []);
});

test("errors: each status lists its codes with an example per code; 401, 429 and 500 everywhere; uploads document 413/415/503", () => {
  for (const { key, op } of apiOperations()) {
    for (const status of ["400", "401", "403", "429", "500"]) assert.ok(op.responses[status], `${key} documents ${status}`);
    for (const [status, res] of Object.entries(op.responses)) {
      if (Number(status) < 400) continue;
      const examples = res.content?.["application/json"]?.examples ?? {};
      const codes = Object.keys(examples);
      assert.ok(codes.length > 0, `${key} ${status} has examples`);
      for (const code of codes) assert.match(res.description, new RegExp(`\`${code}\``), `${key} ${status} names ${code}`);
    }
  }
  const upload = doc.paths["/api/jobs/photos"]?.post;
  for (const status of ["413", "415", "503"]) assert.ok(upload?.responses[status], `upload documents ${status}`);
  assert.ok(doc.paths["/api/jobs/recall"]?.post?.responses["409"], "recall documents 409");
  assert.equal(doc.paths["/api/jobs/statuses"]?.get?.responses["404"], undefined, "a reference list never answers 404");
  assert.ok(doc.paths["/api/jobs/manage"]?.post?.responses["403"]?.description.includes("`CSRF_INVALID`"));
});

test("headers: request id and rate limit on every response, Retry-After on 429, ETag on the job read", () => {
  for (const { key, op } of apiOperations()) {
    for (const [status, res] of Object.entries(op.responses)) {
      for (const h of ["X-Request-Id", "RateLimit", "RateLimit-Policy"]) assert.ok(res.headers?.[h], `${key} ${status} documents ${h}`);
    }
    assert.ok(op.responses["429"]?.headers?.["Retry-After"], `${key} 429 documents Retry-After`);
  }
  assert.ok(doc.paths["/api/jobs/manage"]?.get?.responses["200"]?.headers?.ETag);
});
