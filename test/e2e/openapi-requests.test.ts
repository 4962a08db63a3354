/**
 * The reference's own requests validate against our OpenAPI document (ajv, JSON Schema 2020-12,
 * strict): every curl example of docs/api-reference.txt, its query parameters and its JSON or form
 * body (the `csrf_token` field included). Every body with a file field (photos, documents, case-note attachments) is described as multipart only, and no optional
 * query parameter carries an example value a docs page would send as an active filter.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parseExamples, REFERENCE } from "../../scripts/gen-http.ts";
import { type LocalApi, sharedLocalApi } from "../../scripts/lib/local-api.ts";

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
let api: LocalApi | undefined;
let paths: Record<string, Record<string, Operation>>;

before(
  async () => {
    api = await sharedLocalApi();
    paths = ((await (await fetch(`${api.url}/api/openapi.json`)).json()) as { paths: typeof paths }).paths;
  },
  { timeout: 180_000 },
);
after(async () => api?.stop());

function validator() {
  const ajv = new Ajv2020({ strict: true, allErrors: true, coerceTypes: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addFormat("binary", true);
  ajv.addKeyword("example");
  return ajv;
}

const examples = parseExamples(readFileSync(REFERENCE, "utf8"));

test("the reference has request examples to check", () => {
  assert.ok(examples.length >= 15, `only ${examples.length} examples parsed`);
  assert.ok(examples.filter((e) => e.body !== undefined).length >= 8);
});

test("every request example of the reference validates against our request schemas", () => {
  const ajv = validator();
  const failures: string[] = [];
  for (const ex of examples) {
    const url = new URL(ex.url);
    const op = paths[url.pathname]?.[ex.method.toLowerCase()];
    if (!op) {
      failures.push(`${ex.method} ${url.pathname}: not in the document`);
      continue;
    }
    for (const [name, value] of url.searchParams) {
      const param = op.parameters?.find((p) => p.in === "query" && p.name === name);
      if (!param) {
        failures.push(`${ex.method} ${url.pathname}: query parameter ${name} is not declared`);
        continue;
      }
      // A query value is text: validate what it means (a number where the schema wants one).
      const typed = /^(integer|number)$/.test(String(param.schema.type)) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      const check = ajv.compile(param.schema);
      if (!check(typed)) failures.push(`${ex.method} ${ex.url}: ${name}=${value}: ${ajv.errorsText(check.errors)}`);
    }
    if (ex.body === undefined) continue;
    const type = ex.headers.find(([h]) => h.toLowerCase() === "content-type")?.[1] ?? "application/x-www-form-urlencoded";
    const media = op.requestBody?.content[type];
    if (!media) {
      failures.push(`${ex.method} ${url.pathname}: no ${type} body in the document`);
      continue;
    }
    const body = type === "application/json" ? JSON.parse(ex.body) : Object.fromEntries(new URLSearchParams(ex.body));
    const check = ajv.compile(media.schema);
    if (!check(body)) failures.push(`${ex.method} ${url.pathname} (${type}): ${ajv.errorsText(check.errors)}`);
  }
  assert.deepEqual(failures, []);
});

test("a body the API refuses is refused by the schema too (unknown field, wrong type)", () => {
  const ajv = validator();
  const recall = ajv.compile(paths["/api/jobs/recall"]?.post?.requestBody?.content["application/json"]?.schema ?? {});
  assert.equal(recall({ job_uuid: "550e8400-e29b-41d4-a716-446655440001", csrf_token: "x" }), true);
  assert.equal(recall({ job_uuid: "550e8400-e29b-41d4-a716-446655440001", surprise: 1 }), false);
  assert.equal(recall({ job_uuid: 5 }), false);
});

test("uploads are multipart only; optional query parameters carry no example value", () => {
  for (const path of ["/api/jobs/photos", "/api/jobs/documents", "/api/jobs/case-notes"]) {
    assert.deepEqual(Object.keys(paths[path]?.post?.requestBody?.content ?? {}), ["multipart/form-data"], path);
  }
  // Every operation with a file field anywhere in its body (a JSON body cannot carry one).
  const withFile: string[] = [];
  for (const [path, ops] of Object.entries(paths))
    for (const [method, op] of Object.entries(ops)) {
      const content = op.requestBody?.content ?? {};
      if (!JSON.stringify(content).includes('"format":"binary"')) continue;
      // A tus chunk is the bytes themselves (no fields to carry them in): its own media type only.
      if (path.startsWith("/api/uploads")) {
        assert.deepEqual(Object.keys(content), ["application/offset+octet-stream"], `${method} ${path}`);
        continue;
      }
      withFile.push(`${method} ${path}`);
      assert.deepEqual(Object.keys(content), ["multipart/form-data"], `${method} ${path}`);
    }
  assert.deepEqual(withFile.sort(), ["post /api/jobs/case-notes", "post /api/jobs/documents", "post /api/jobs/photos"]);
  const prefilled: string[] = [];
  const undescribed: string[] = [];
  for (const [path, ops] of Object.entries(paths))
    for (const [method, op] of Object.entries(ops))
      for (const p of op.parameters ?? []) {
        if (p.in === "query" && !p.required && "example" in p.schema) prefilled.push(`${method} ${path} ${p.name}`);
        // An example, default or enum value a docs page would fill in is shown but not sent (Scalar's x-disabled).
        const shown = (p as { examples?: Record<string, { "x-disabled"?: boolean }> }).examples;
        const fillable = "default" in p.schema || Array.isArray(p.schema.enum) || shown;
        if (p.in === "query" && !p.required && fillable && !Object.values(shown ?? {}).every((e) => e["x-disabled"] === true))
          prefilled.push(`${method} ${path} ${p.name} (x-disabled)`);
        if (p.in === "query" && !p.required && fillable && !shown) prefilled.push(`${method} ${path} ${p.name} (no disabled example)`);
        if (!(p as { description?: string }).description) undescribed.push(`${method} ${path} ${p.name}`);
      }
  assert.deepEqual(prefilled, []);
  assert.deepEqual(undescribed, []);
});
