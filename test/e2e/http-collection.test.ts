/**
 * docs/propops.http is generated from the reference's curl examples (scripts/gen-http.ts): it must
 * match what the generator gives today, hold every example, and call only operations the
 * running API documents (method and path in /api/openapi.json).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { COLLECTION, generate, parseExamples, REFERENCE } from "../../scripts/gen-http.ts";
import { type LocalApi, sharedLocalApi } from "../../scripts/lib/local-api.ts";

let api: LocalApi | undefined;
before(
  async () => {
    api = await sharedLocalApi();
  },
  { timeout: 180_000 },
);
after(async () => api?.stop());

test("docs/propops.http is up to date with the reference (npm run gen:http)", () => {
  assert.equal(readFileSync(COLLECTION, "utf8"), generate());
});

test("every curl example of the reference is in the collection, against {{baseUrl}} with the token variable", () => {
  const examples = parseExamples(readFileSync(REFERENCE, "utf8"));
  const reference = readFileSync(REFERENCE, "utf8");
  assert.equal(examples.length, (reference.match(/^curl -X /gm) ?? []).length);
  const text = readFileSync(COLLECTION, "utf8");
  const requests = text.match(/^(GET|POST|PUT|PATCH|DELETE) \{\{baseUrl\}\}\S+$/gm) ?? [];
  assert.equal(requests.length, examples.length + 1, "one request per example, plus the CSRF token request");
  assert.doesNotMatch(text, /<token>|<csrf-token>|propops\.yourcompany\.com/);
});

test("each request targets an operation of the running API's OpenAPI document", async () => {
  assert.ok(api);
  const doc = (await (await fetch(`${api.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const text = readFileSync(COLLECTION, "utf8");
  for (const m of text.matchAll(/^(GET|POST|PUT|PATCH|DELETE) \{\{baseUrl\}\}([^?\s]+)/gm)) {
    const [, method = "", path = ""] = m;
    assert.ok(doc.paths[path]?.[method.toLowerCase()], `${method} ${path} is documented`);
  }
});
