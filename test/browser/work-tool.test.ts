/**
 * The dashboard as the work tool (issue 21), in Debian's chromium through playwright-core, against
 * its own local stack (harness.ts): a manager creates a job from pickers and assigns a contractor;
 * the contractor (a second browser context) accepts, starts and completes it with an "after"
 * photo; the manager signs it off; a third context's stale edit gets the conflict message; search
 * and the name filters find the job. Live appearance is asserted only when the live API is there
 * (POST /api/live not 404); the property search only when the API searches addresses.
 * Screenshots (checked by axe-core at desktop and phone width first) under test-output/browser/.
 *
 * Run: npm run test:browser (both browser files), or after npm run build:dashboard:
 *   node --test --test-force-exit test/browser/work-tool.test.ts
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { makeJpeg } from "../../scripts/lib/media-fixtures.ts";
import { DESKTOP, PHONE, SHOTS, shots } from "./axe.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];
let manager: Page;
let contractor: Page;
let live = false;
let jobRef = "";
let jobUuid = "";

const TITLE = "Boiler not firing";

async function signIn(token: string, viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${stack.url}/app/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  return page;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? "").trim();

async function openJob(page: Page) {
  const target = `${stack.url}/app/#/jobs/${jobUuid}`;
  // The same hash again is no navigation at all: draw the page afresh.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.getByRole("heading", { level: 1, name: new RegExp(`^${jobRef} · `) }).waitFor();
}

async function api<T>(token: string, pathname: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${pathname}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...init.headers } });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
}

/** The live API is `live`'s (issue 21): until it is merged, POST /api/live answers 404 and live checks are skipped. */
async function liveAvailable(): Promise<boolean> {
  const csrf = await api<{ csrf_token: string }>(stack.tokens.manager, "/api/security/csrf-token");
  const res = await api(stack.tokens.manager, "/api/live", {
    method: "POST",
    headers: { "X-CSRF-Token": csrf.body.csrf_token, "Content-Type": "application/json" },
    body: "{}",
  });
  return res.status !== 404;
}

before(
  async () => {
    const [started] = await Promise.all([startStack(), mkdir(SHOTS, { recursive: true })]);
    stack = started;
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    live = await liveAvailable();
  },
  { timeout: 240_000 },
);

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await stack?.stop();
});

test("a manager creates a job from pickers (never an id) and assigns a contractor", { timeout: 120_000 }, async () => {
  manager = await signIn(stack.tokens.manager);
  // The contractor is already looking at their list: with live on, the job appears there unasked.
  contractor = await signIn(stack.tokens.contractor, PHONE);
  const before = await text(contractor, '[data-testid="job-count"]');

  await manager.getByRole("link", { name: "New job" }).click();
  await manager.getByRole("heading", { level: 1, name: "New job" }).waitFor();
  await manager.getByLabel("Title").fill(TITLE);
  await manager.getByLabel("Description").fill("No heating or hot water since Monday; the tenant has a newborn.");
  await manager.getByLabel("Find property").fill("Victoria");
  const property = manager.getByLabel("Property", { exact: true });
  // The search narrows the list to the one property, which is then chosen.
  await waitForOption(manager, property, /7 Victoria Terrace/);
  const deadline = Date.now() + 45_000;
  while (!/7 Victoria Terrace/.test((await property.locator("option:checked").textContent()) ?? "")) {
    assert.ok(Date.now() < deadline, "the property search did not choose 7 Victoria Terrace");
    await manager.waitForTimeout(200);
  }
  await manager.getByLabel("Type").selectOption({ label: "Gas & Heating" });
  await manager.getByLabel("Priority").selectOption({ label: "High" });
  await manager.getByLabel("Starts as").selectOption({ label: "Approved" });
  // No control on the form asks for a number a person would have to look up.
  const idFields = await manager.evaluate(
    `[...document.querySelectorAll("main input")].filter((i) => /_id$/.test(i.name)).map((i) => i.name)`,
  );
  assert.deepEqual(idFields, []);
  await shots(manager, "work-new-job");
  await manager.getByRole("button", { name: "Create the job" }).click();
  const heading = manager.getByRole("heading", { level: 1, name: new RegExp(`^JOB-\\d+ · ${TITLE}$`) });
  await heading.waitFor();
  jobRef = ((await heading.textContent()) ?? "").split(" · ")[0] ?? "";
  jobUuid = /#\/jobs\/([0-9a-f-]{36})/.exec(manager.url())?.[1] ?? "";
  assert.match(jobRef, /^JOB-\d+$/);
  assert.equal(await text(manager, '[data-testid="job-status"]'), "Approved");
  assert.match(await text(manager, ".details"), /Address7 Victoria Terrace, Sample Town, EX7 7AA/);
  assert.match(await text(manager, ".details"), /Contractor—/);

  // Assign from the contractor directory, by name.
  const edit = manager.getByTestId("edit");
  await edit.getByLabel("Find contractor").fill("Contractor_001");
  await waitForOption(manager, edit.getByLabel("Contractor", { exact: true }), /^Contractor_001$/);
  await edit.getByLabel("Contractor", { exact: true }).selectOption({ label: "Contractor_001" });
  await edit.getByRole("button", { name: "Assign" }).click();
  await manager.locator(".flash", { hasText: "Job updated successfully" }).waitFor();
  assert.match(await text(manager, ".details"), /ContractorContractor_001/);
  assert.match(await text(manager, "ol.audit"), /Manager_001 assigned the job to Contractor_001\./);
  assert.match(await text(manager, "ol.audit"), /Manager_001 created the job\./);
  assert.doesNotMatch(await text(manager, "ol.audit"), /job\.[a-z_]+|[0-9a-f]{8}-[0-9a-f]{4}-/);
  await shots(manager, "work-job-assigned");

  if (live) {
    // Bounded generously: a live event crosses a Durable Object and another browser on a loaded machine.
    await contractor.locator(`tr[data-job="${jobUuid}"]`).waitFor({ timeout: 30_000 });
    assert.notEqual(await text(contractor, '[data-testid="job-count"]'), before);
  }
});

/** Waits until a select offers an option matching `label` (pickers fill as the directory answers). */
async function waitForOption(page: Page, select: Locator, label: RegExp, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const options = await select.locator("option").allTextContents();
    if (options.some((o) => label.test(o.trim()))) return;
    assert.ok(Date.now() < deadline, `no option ${label} in ${JSON.stringify(options)}`);
    await page.waitForTimeout(200);
  }
}

test("a stale edit from a third browser gets the conflict message, and nothing is overwritten", { timeout: 90_000 }, async () => {
  const staff = await signIn(stack.tokens.staff);
  await openJob(staff);
  // The staff member starts an edit; the manager saves one first.
  const edit = staff.getByTestId("edit");
  await edit.getByLabel("Contractor budget (£)").fill("350");
  await openJob(manager);
  await manager.getByTestId("edit").getByLabel("Title").fill(`${TITLE} (combi boiler)`);
  await manager.getByRole("button", { name: "Save changes" }).click();
  await manager.locator(".flash", { hasText: "Job updated successfully" }).waitFor();
  assert.match(await text(manager, "h1"), /combi boiler/);
  if (live) {
    // Live: the staff page says the job changed and keeps what was typed.
    await staff.getByTestId("live-notice").getByRole("button", { name: "Show the changes" }).waitFor({ timeout: 30_000 });
    assert.equal(await edit.getByLabel("Contractor budget (£)").inputValue(), "350");
  }
  await edit.getByRole("button", { name: "Save changes" }).click();
  const conflict = staff.getByTestId("conflict");
  await conflict.waitFor();
  assert.match((await conflict.textContent()) ?? "", /Someone else changed this job after you opened it, so your change was not saved/);
  assert.equal(await conflict.getAttribute("role"), "alert");
  await shots(staff, "work-conflict");
  const now = await api<{ data: { job_title: string; contractor_budget: number | null } }>(
    stack.tokens.manager,
    `/api/jobs/manage?action=get&uuid=${jobUuid}`,
  );
  assert.equal(now.body.data.job_title, `${TITLE} (combi boiler)`, "the manager's edit stands");
  assert.equal(now.body.data.contractor_budget, null, "the stale edit was not applied");
  // Reloading shows the other edit; the change made again then saves.
  await conflict.getByRole("button", { name: "Reload the job" }).click();
  await staff.getByRole("heading", { level: 1, name: /combi boiler/ }).waitFor();
  await staff.getByTestId("edit").getByLabel("Contractor budget (£)").fill("350");
  await staff.getByRole("button", { name: "Save changes" }).click();
  await staff.locator(".flash", { hasText: "Job updated successfully" }).waitFor();
  assert.match(await text(staff, ".details"), /Contractor budget£350\.00/);
});

test("the contractor accepts, starts and completes the job with an after photo", { timeout: 120_000 }, async () => {
  await openJob(contractor);
  const steps = contractor.getByTestId("actions");
  // Start needs the acceptance first: the page says so beside the button.
  assert.match((await steps.textContent()) ?? "", /Needs the contractor's acceptance/);
  await shots(contractor, "work-contractor-job");
  await steps.getByRole("button", { name: "Accept the job" }).click();
  await contractor.locator(".flash", { hasText: "Job accepted" }).waitFor();
  await contractor.getByTestId("actions").getByRole("button", { name: "Start work" }).click();
  await contractor.locator(".flash", { hasText: "Work started" }).waitFor();
  assert.equal(await text(contractor, '[data-testid="job-status"]'), "In Progress");

  const complete = contractor.getByTestId("actions");
  assert.match((await complete.textContent()) ?? "", /Needs “after” photos and a completion note/);
  await complete.getByLabel("Completion note").fill("Replaced the ignition electrode; boiler fires and holds pressure.");
  await complete
    .getByLabel("“After” photo")
    .setInputFiles({ name: "boiler-after.jpg", mimeType: "image/jpeg", buffer: Buffer.from(makeJpeg(1200, 900, 90)) });
  await complete.getByRole("button", { name: "Complete the job" }).click();
  await contractor.locator(".flash", { hasText: "Job completed" }).waitFor({ timeout: 60_000 });
  assert.equal(await text(contractor, '[data-testid="job-status"]'), "Completed");
  await contractor.locator('[data-group="after"] img').first().waitFor();
  assert.match(await text(contractor, '[data-testid="actions"]'), /Nothing for you to do now: the job is Completed\./);
  assert.equal(await contractor.getByText(/Missing permission/).count(), 0);
  await shots(contractor, "work-contractor-completed");
});

test("the manager signs the work off", { timeout: 60_000 }, async () => {
  await openJob(manager);
  if (live) assert.equal(await text(manager, '[data-testid="job-status"]'), "Completed");
  await manager.getByTestId("actions").getByRole("button", { name: "Sign off" }).click();
  await manager.locator(".flash", { hasText: "signed off" }).waitFor();
  assert.equal(await text(manager, '[data-testid="job-status"]'), "Closed");
  const trail = await text(manager, "ol.audit");
  for (const line of [
    "Manager_001 signed the work off.",
    "Contractor_001 completed the work.",
    "Contractor_001 started the work.",
    "Contractor_001 accepted the job.",
  ])
    assert.ok(trail.includes(line), `the trail says "${line}": ${trail}`);
  await shots(manager, "work-job-closed");
});

test("the name filters find the job; the views keep their state in the URL", { timeout: 90_000 }, async () => {
  await manager.goto(`${stack.url}/app/#/`);
  await manager.getByLabel("Contractor", { exact: true }).selectOption({ label: "Contractor_001" });
  await manager.getByLabel("Status", { exact: true }).selectOption({ label: "Closed" });
  await manager.getByRole("button", { name: "Search", exact: true }).click();
  await manager
    .getByTestId("job-count")
    .filter({ hasText: /of \d+ jobs/ })
    .waitFor();
  assert.match(manager.url(), /contractor_id=20/);
  await manager.locator(`tr[data-job="${jobUuid}"]`).waitFor();
  // Shareable: the same URL in a fresh page shows the same filtered list; back undoes the filter.
  // (A new tab has no token yet: the link survives signing in.)
  const shared = await manager.context().newPage();
  await shared.goto(manager.url());
  await shared.getByLabel("API token").fill(stack.tokens.manager);
  await shared.getByRole("button", { name: "Sign in" }).click();
  await shared.locator(`tr[data-job="${jobUuid}"]`).waitFor();
  assert.equal(await shared.getByLabel("Contractor", { exact: true }).locator("option:checked").textContent(), "Contractor_001");
  await shared.close();
  // Sorted by SLA due, ascending then descending (the header button says which).
  await manager.getByRole("button", { name: /^SLA due/ }).click();
  await manager.locator('th[aria-sort="ascending"]').waitFor();
  await manager.getByRole("button", { name: /^SLA due/ }).click();
  await manager.locator('th[aria-sort="descending"]').waitFor();
  await manager.goBack();
  await manager.locator('th[aria-sort="ascending"]').waitFor();

  await manager.goto(`${stack.url}/app/#/board`);
  await manager.getByTestId("board").locator("section.column").first().waitFor();
  assert.ok(await manager.locator('[data-status="Approved"]').count());
  await shots(manager, "work-board");
  await manager.goto(`${stack.url}/app/#/`);
  await manager.getByTestId("breach-list").waitFor();
  await shots(manager, "work-home");
});

test("search by street name and by contractor name finds the job", { timeout: 60_000 }, async (t) => {
  // The property search (street, postcode, contractor and agent names) is the live helper's API work.
  const probe = await api<{ data: { uuid: string }[] }>(stack.tokens.manager, "/api/jobs/manage?action=list&search=Victoria");
  if (!probe.body.data.some((j) => j.uuid === jobUuid)) {
    t.skip("the API does not search addresses yet (property search lands with the live branch)");
    return;
  }
  for (const words of ["Victoria", "Contractor_001"]) {
    await manager.goto(`${stack.url}/app/#/?search=${encodeURIComponent(words)}`);
    await manager.locator(`tr[data-job="${jobUuid}"]`).waitFor();
    assert.equal(await manager.getByRole("searchbox", { name: "Search" }).inputValue(), words);
  }
});
