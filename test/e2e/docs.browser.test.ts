/**
 * The /docs page in a real browser (Debian's chromium driven by playwright-core) against a local
 * `wrangler dev` with no route to the internet needed: the page loads only same-origin files, lists
 * every operation of /api/openapi.json, and its "Test Request" client sends a real call that the
 * API answers. A screenshot lands in test-output/ and must not be blank.
 *
 * Run: npm run build && node --test test/e2e/docs.browser.test.ts   (chromium at /usr/bin/chromium)
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type LocalApi, ROOT, sharedLocalApi } from "../../scripts/lib/local-api.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = path.join(ROOT, "test-output");

let api: LocalApi | undefined;
let browser: Browser | undefined;
let page: Page;
const offOrigin: string[] = [];
const failed: string[] = [];
const cspViolations: string[] = [];

before(
  async () => {
    assert.ok(existsSync(path.join(ROOT, "public/docs/scalar.js")), "public/docs/scalar.js missing: run npm run build first");
    api = await sharedLocalApi();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const origin = api.url;
    page.on("request", (r) => {
      const url = r.url();
      if (!url.startsWith(`${origin}/`) && !/^(data|blob|about):/.test(url)) offOrigin.push(url);
    });
    page.on("response", (r) => {
      // The browser's own favicon probe is the one 404 a docs page may cause.
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico") && !r.url().includes("/api/jobs/"))
        failed.push(`${r.status()} ${r.url()}`);
    });
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  },
  { timeout: 180_000 },
);

after(async () => {
  await browser?.close();
  await api?.stop();
});

test("/docs is served with a strict CSP and references only same-origin scripts", async () => {
  assert.ok(api);
  const res = await fetch(`${api.url}/docs`);
  assert.equal(res.status, 200);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'(;|$)/);
  assert.match(csp, /default-src 'none'/);
  const html = await res.text();
  const srcs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
  assert.ok(srcs.includes("/docs/scalar.js"), html);
  for (const src of srcs) assert.ok(src.startsWith("/"), `same-origin reference: ${src}`);
  const bundle = await fetch(`${api.url}/docs/scalar.js`);
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get("content-type") ?? "", /javascript/);
});

test("the page lists every operation of /api/openapi.json, with no third-party request", { timeout: 120_000 }, async () => {
  assert.ok(api);
  const doc = (await (await fetch(`${api.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const expected = Object.entries(doc.paths)
    .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
  assert.ok(expected.length >= 30, `operations in the document: ${expected.length}`);

  await page.goto(`${api.url}/docs`);
  // Sidebar entries link to #tag/<tag>/<METHOD><path>, one per operation.
  await page.locator('a[href*="/GET/api/"]').first().waitFor({ timeout: 60_000 });
  const hrefs = await page.locator("a[href^='#tag/']").evaluateAll((links) => links.map((a) => a.getAttribute("href") ?? ""));
  const listed = [
    ...new Set(
      hrefs.flatMap((h) => {
        const m = /^#tag\/[^/]+\/(GET|HEAD|POST|PUT|PATCH|DELETE)(\/.*)$/.exec(h);
        return m ? [`${m[1]} ${m[2]}`] : [];
      }),
    ),
  ].sort();
  assert.deepEqual(listed, expected);
  assert.deepEqual(offOrigin, [], "requests leaving the origin");
  assert.deepEqual(failed, [], "failed same-origin requests");
  assert.deepEqual(cspViolations, [], "CSP violations");
});

/**
 * The client panel's bearer token field. Scalar shows the Authentication section open or folded
 * depending on what else the document holds: unfold it when the field is not there yet.
 */
async function fillToken(token: string) {
  const field = page.getByPlaceholder("Token").first();
  if (!(await field.isVisible())) {
    // The client panel's own section (the page behind it has a folded, disabled one of the same name).
    const section = page.locator("button:not([disabled])", { hasText: /^\s*Authentication/ }).last();
    await section.click();
  }
  await field.fill(token);
}

test("a Test Request sent from the page reaches the API and its answer is shown", { timeout: 120_000 }, async () => {
  assert.ok(api);
  await page.goto(`${api.url}/docs`);
  // The sidebar entry scrolls to the operation (sections further down render lazily).
  await page.locator('a[href$="/GET/api/jobs/statuses"]').first().click();
  const section = page.locator('[id$="/GET/api/jobs/statuses"]').first();
  await section.waitFor({ timeout: 60_000 });
  await section
    .getByRole("button", { name: /Test Request/i })
    .first()
    .click();
  await fillToken(api.token);
  const answered = page.waitForResponse((r) => r.url().startsWith(`${api?.url}/api/jobs/statuses`), { timeout: 30_000 });
  await page.getByRole("button", { name: /^Send/ }).first().click();
  const res = await answered;
  assert.equal(res.status(), 200, await res.text());
  assert.equal(res.request().headers().authorization, `Bearer ${api.token}`);
  const requestId = res.headers()["x-request-id"] ?? "";
  assert.ok(requestId, "the API's request id");
  const body = (await res.json()) as { success: boolean; data: { id: number; name: string }[] };
  assert.equal(body.success, true);
  const first = body.data[0]?.name ?? "";
  assert.ok(first, "statuses listed");
  // The client panel shows the API's answer: its status and a value from its body.
  await page.getByText(first, { exact: false }).last().waitFor({ timeout: 15_000 });
  await page.getByText("200 OK").first().waitFor({ timeout: 15_000 });

  await mkdir(OUTPUT, { recursive: true });
  const file = path.join(OUTPUT, "docs-try-it.png");
  const png = await page.screenshot({ path: file, fullPage: false });
  // Not blank: a rendered page has many distinct pixel values (a white page has one).
  // Decoded by the browser itself (the test's tsconfig has no DOM types: the code is a string).
  const shot = (await page.evaluate(`(async () => {
    const img = new Image();
    img.src = "data:image/png;base64,${png.toString("base64")}";
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const g = canvas.getContext("2d");
    g.drawImage(img, 0, 0);
    const data = g.getImageData(0, 0, img.width, img.height).data;
    let sum = 0, sq = 0;
    const n = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += y;
      sq += y * y;
    }
    const mean = sum / n;
    return { variance: sq / n - mean * mean, width: img.width };
  })()`)) as { variance: number; width: number };
  assert.equal(shot.width, 1280);
  assert.ok(shot.variance > 100, `screenshot ${file} looks blank (luma variance ${shot.variance.toFixed(1)})`);
  assert.deepEqual(offOrigin, [], "requests leaving the origin");
  assert.deepEqual(cspViolations, [], "CSP violations");
});

test("the jobs list's first Send filters nothing: examples are shown, not pre-ticked (a real job comes back)", {
  timeout: 120_000,
}, async () => {
  assert.ok(api);
  // A job to find (the shared database may hold none yet).
  const auth = { Authorization: `Bearer ${api.token}` };
  const csrf = (await (await fetch(`${api.url}/api/security/csrf-token`, { headers: auth })).json()) as { csrf_token: string };
  const created = await fetch(`${api.url}/api/jobs/manage`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json", "X-CSRF-Token": csrf.csrf_token },
    body: JSON.stringify({
      action: "create",
      job_title: "Docs try-it job",
      job_description: "Found by the first Send",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: 9001,
    }),
  });
  assert.equal(created.status, 201, await created.text());

  await page.goto(`${api.url}/docs`);
  await page.locator('a[href$="/GET/api/jobs/manage"]').first().click();
  const section = page.locator('[id$="/GET/api/jobs/manage"]').first();
  await section.waitFor({ timeout: 60_000 });
  await section
    .getByRole("button", { name: /Test Request/i })
    .first()
    .click();
  await fillToken(api.token);
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/jobs/manage", { timeout: 30_000 });
  await page.getByRole("button", { name: /^Send/ }).first().click();
  const res = await answered;
  assert.equal(res.status(), 200, await res.text());
  // Only the required action goes out: no example filter (status_id, search, has_photos…) is active.
  const sent = new URL(res.url()).searchParams;
  assert.deepEqual([...sent.keys()], ["action"], res.url());
  assert.equal(sent.get("action"), "list");
  const body = (await res.json()) as { count: number; data: { job_title: string }[] };
  assert.ok(body.count >= 1, `count ${body.count}`);
  await page.getByText("200 OK").first().waitFor({ timeout: 15_000 });
});
