/**
 * The operations dashboard in a real browser: Debian's chromium driven by playwright-core, against
 * one local stack (wrangler dev with the Worker and its static assets, the transcoder process, the
 * seeded demo data; see harness.ts). Each test asserts what a person sees and saves screenshots at
 * desktop (1280×800) and phone (390×844) sizes under test-output/browser/.
 *
 * Run: npm run test:browser   (builds the dashboard first; needs /usr/bin/chromium and ffmpeg). About 1–2 min.
 */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { makeJpeg, makePdf } from "../../scripts/lib/media-fixtures.ts";
import { DESKTOP, PHONE, SHOTS, shots } from "./axe.ts";
import { makeClip, type Stack, startStack } from "./harness.ts";

let stack: Stack;
let browser: Browser;
let managerContext: BrowserContext;
let manager: Page;
let clip = "";

async function apiGet<T>(token: string, pathname: string): Promise<T> {
  const res = await fetch(`${stack.url}${pathname}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `${pathname}: ${res.status}`);
  return (await res.json()) as T;
}

async function signIn(context: BrowserContext, token: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${stack.url}/app/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  return page;
}

/**
 * Polls a browser-side expression until it is truthy. page.evaluate runs through the debugging
 * protocol, which the page's CSP (no eval) allows; waitForFunction's string form would need eval.
 * Strings, because this file is type-checked without the DOM library.
 */
async function waitUntil(page: Page, expression: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? "").trim();

async function openJob(page: Page, ref: string) {
  await page.goto(`${stack.url}/app/#/`);
  await page.getByRole("searchbox", { name: "Search" }).fill(ref);
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByTestId("job-count").filter({ hasText: "of 1 jobs" }).waitFor();
  await page.getByRole("link", { name: new RegExp(`^${ref} `) }).click();
  await page.getByRole("heading", { level: 1, name: new RegExp(`^${ref} · `) }).waitFor();
}

before(
  async () => {
    const [started] = await Promise.all([startStack(), mkdir(SHOTS, { recursive: true })]);
    stack = started;
    clip = path.join(stack.tmp, "leak-walkthrough.mp4");
    await makeClip(clip, 3, "1280x720", 3000);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    managerContext = await browser.newContext({ viewport: DESKTOP });
  },
  { timeout: 240_000 },
);

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test("a manager signs in with a token and sees the SLA chart with the seeded breaches, each linking to its job", {
  timeout: 60_000,
}, async () => {
  // The sign-in form refuses a token the API does not know, and says so.
  const stranger = await managerContext.newPage();
  await stranger.goto(`${stack.url}/app/`);
  await stranger.getByLabel("API token").waitFor();
  await shots(stranger, "signin");
  await stranger.getByLabel("API token").fill("pp_00000000000000000000000000000000_notatoken");
  await stranger.getByRole("button", { name: "Sign in" }).click();
  await stranger.locator(".status.error").waitFor();
  assert.match(await text(stranger, ".status.error"), /Could not sign in/);
  assert.equal(await stranger.evaluate(() => sessionStorage.getItem("propops.token")), null);
  await stranger.close();

  manager = await signIn(managerContext, stack.tokens.manager);
  assert.ok(!manager.url().includes(stack.tokens.manager), "the token never appears in the URL");
  const sla = await apiGet<{ data: { jobs_within_sla: number; jobs_overdue: number; jobs_breached: number } }>(
    stack.tokens.manager,
    "/api/jobs/sla-status",
  );
  assert.ok(sla.data.jobs_breached > 0, "the demo seed has breaches");
  const chart = manager.getByRole("img", { name: /^SLA status/ });
  await chart.waitFor();
  assert.equal(
    await chart.getAttribute("aria-label"),
    `SLA status. Within SLA: ${sla.data.jobs_within_sla}, Overdue: ${sla.data.jobs_overdue}, Breached: ${sla.data.jobs_breached}`,
  );
  assert.equal(await manager.locator('[data-state="breached"] .chart-value').textContent(), String(sla.data.jobs_breached));
  // The widget lists the most urgent five, each with its title, property, contractor and time past the deadline.
  assert.equal(await manager.getByTestId("breach-list").getByRole("link").count(), Math.min(5, sla.data.jobs_breached));
  assert.match(await text(manager, '[data-testid="breach-list"] li'), /^JOB-\d+ .+\n?.*, .+ · .+ past its deadline$/s);
  assert.equal(await text(manager, '[data-testid="job-count"]'), "Showing 1–12 of 12 jobs");
  assert.equal(await text(manager, "#pinned-title + .count"), "0 pinned");
  await shots(manager, "home-manager");

  const first = manager.getByTestId("breach-list").getByRole("link").first();
  const ref = (await first.locator("strong").textContent()) ?? "";
  await first.click();
  await manager.getByRole("heading", { level: 1, name: new RegExp(`^${ref} · `) }).waitFor();
  assert.equal(await text(manager, ".job-meta .sla-breached"), "Breached");
});

test("pinning a job from the list puts it in the Pinned Jobs widget; unpinning takes it out", { timeout: 60_000 }, async () => {
  await manager.goto(`${stack.url}/app/#/`);
  await manager.getByRole("table").getByRole("button", { name: "Pin JOB-002", exact: true, pressed: false }).click();
  await manager.locator("#pinned-title + .count", { hasText: "1 pinned" }).waitFor();
  const widget = manager.getByTestId("pinned-list");
  assert.deepEqual(await widget.getByRole("link").allTextContents(), ["JOB-002 · Leaking kitchen tap"]);
  // The list redraws too: its toggle now pressed.
  await manager.getByRole("table").getByRole("button", { name: "Pin JOB-002", exact: true, pressed: true }).waitFor();
  await shots(manager, "pinned");

  // The visible label is part of the accessible name; the star shows the state.
  assert.equal(await widget.getByRole("button", { name: "Pin JOB-002", exact: true }).textContent(), "★ Pin JOB-002");
  await widget.getByRole("button", { name: "Pin JOB-002", exact: true, pressed: true }).click();
  await manager.locator("#pinned-title + .count", { hasText: "0 pinned" }).waitFor();
  await manager.getByRole("table").getByRole("button", { name: "Pin JOB-002", exact: true, pressed: false }).waitFor();
  assert.equal(await manager.getByText("Nothing pinned yet").count(), 1);
  assert.equal(
    await manager.getByRole("table").getByRole("button", { name: "Pin JOB-002", exact: true }).getAttribute("aria-pressed"),
    "false",
  );
});

test("a manager filters and searches, opens a job, sees its private contact and adds an HTML note", { timeout: 60_000 }, async () => {
  await manager.goto(`${stack.url}/app/#/`);
  await manager.getByLabel("Status", { exact: true }).selectOption({ label: "Completed" });
  await manager.getByLabel("photos", { exact: true }).check();
  await manager.getByRole("button", { name: "Search", exact: true }).click();
  await manager.getByTestId("job-count").filter({ hasText: "No jobs match." }).waitFor();
  await manager.getByLabel("photos", { exact: true }).uncheck();
  await manager.getByRole("button", { name: "Search", exact: true }).click();
  await manager.getByTestId("job-count").filter({ hasText: "Showing 1–2 of 2 jobs" }).waitFor();
  assert.deepEqual(await manager.locator("table.jobs tbody td:first-child strong").allTextContents(), ["JOB-009", "JOB-006"]);

  await openJob(manager, "JOB-006");
  assert.match(await text(manager, '[data-testid="private-contact"]'), /Tenant_001.*tenant1@example\.com/s);
  assert.match(await text(manager, ".details"), /Access detailsKey safe code 1005/);
  assert.equal(await text(manager, '[data-testid="note-count"]'), "0 notes");
  await manager.getByLabel("New note").fill("<p>Checked the <b>extractor fan</b>: it needs replacing.</p><script>alert(1)</script>");
  await manager.getByRole("button", { name: "Add note" }).click();
  await manager.getByTestId("note-count").filter({ hasText: "1 note" }).waitFor();
  const note = manager.locator(".note").first();
  assert.match((await note.textContent()) ?? "", /Manager_001.*Checked the extractor fan: it needs replacing\./s);
  assert.equal(await note.locator(".note-body b, .note-body strong").first().textContent(), "extractor fan");
  assert.equal(await note.locator("script").count(), 0);
  // Every form control on the job page has a label (its own <label>, or aria-label).
  const unlabelled = await manager.evaluate(
    `[...document.querySelectorAll("main input, main select, main textarea")].filter((c) => c.labels.length === 0 && !c.getAttribute("aria-label")).map((c) => c.name)`,
  );
  assert.deepEqual(unlabelled, []);
  await shots(manager, "job-note");
});

test("a photo upload shows progress, then its compressed thumbnail under Before", { timeout: 90_000 }, async () => {
  await openJob(manager, "JOB-006");
  await manager.getByLabel("Stage").selectOption("before");
  await manager
    .getByLabel("File", { exact: true })
    .first()
    .setInputFiles({ name: "mould.jpg", mimeType: "image/jpeg", buffer: Buffer.from(makeJpeg(1600, 1200, 95)) });
  // Records what the upload form's status line says while the request runs (the XHR progress).
  await manager.evaluate(`(() => {
    const out = document.querySelector("form.upload .status");
    window.seen = [];
    new MutationObserver(() => window.seen.push(out.textContent)).observe(out, { childList: true, characterData: true, subtree: true });
  })()`);
  await manager.getByRole("button", { name: "Upload" }).first().click();
  const img = manager.locator('[data-group="before"] img[alt="Before photo mould.jpg"]');
  await img.waitFor({ timeout: 60_000 });
  await waitUntil(
    manager,
    `(() => { const el = document.querySelector('[data-group="before"] img'); return Boolean(el?.complete && el.naturalWidth > 0); })()`,
  );
  const seen = (await manager.evaluate("window.seen")) as string[];
  assert.ok(
    seen.some((t) => /^Uploading mould\.jpg: \d+%$/.test(t)),
    `progress shown: ${JSON.stringify(seen)}`,
  );
  assert.equal(await text(manager, '[data-group="before"] h3'), "Before (1)");
  assert.equal(await text(manager, '[data-testid="photo-count"]'), "1 file");
  assert.match(await text(manager, '[data-group="before"] .media-status'), /KB \(from .* KB\)/);
  const natural = (await manager.evaluate(
    `(() => { const el = document.querySelector('[data-group="before"] img'); return [el.naturalWidth, el.naturalHeight]; })()`,
  )) as number[];
  assert.deepEqual(natural, [1600, 1200], "the compressed image keeps its size under the cap");
  await shots(manager, "job-photo");
});

test("an MP4 upload shows processing, then plays its 720p variant with the thumbnail as poster", { timeout: 240_000 }, async () => {
  await openJob(manager, "JOB-006");
  await manager.getByLabel("Stage").selectOption("during");
  await manager
    .getByLabel("File", { exact: true })
    .first()
    .setInputFiles({ name: "leak-walkthrough.mp4", mimeType: "video/mp4", buffer: await readFile(clip) });
  await manager.getByRole("button", { name: "Upload" }).first().click();
  await manager.locator('[data-group="during"] .media-status', { hasText: /Processing video/ }).waitFor({ timeout: 30_000 });
  await shots(manager, "job-video-processing");

  const video = manager.locator('[data-group="during"] video');
  await video.waitFor({ timeout: 180_000 });
  const quality = manager.locator('[data-group="during"] select[name="quality"]');
  assert.equal(await quality.inputValue(), "720p");
  const options = await quality.locator("option").all();
  assert.deepEqual(await Promise.all(options.map((o) => o.getAttribute("value"))), ["720p", "original"]);
  await waitUntil(
    manager,
    `(() => { const v = document.querySelector('[data-group="during"] video'); return Boolean(v && v.readyState >= 2 && v.getAttribute("poster")); })()`,
  );
  const state = (await manager.evaluate(
    `(async () => {
      const v = document.querySelector('[data-group="during"] video');
      v.muted = true;
      await v.play();
      await new Promise((r) => setTimeout(r, 700));
      return { src: v.currentSrc, quality: v.dataset.quality, width: v.videoWidth, height: v.videoHeight, time: v.currentTime, ready: v.readyState };
    })()`,
  )) as { src: string; quality: string; width: number; height: number; time: number; ready: number };
  assert.match(state.src, /^blob:/, "the variant's bytes were fetched with the token");
  assert.equal(state.quality, "720p");
  assert.deepEqual([state.width, state.height], [1280, 720]);
  assert.ok(state.ready >= 2 && state.time > 0, `playing: ${JSON.stringify(state)}`);
  assert.equal(await text(manager, '[data-group="during"] .media-status'), "Playing 720p");
  await shots(manager, "job-video");
  // What a contractor on site sees: the player at phone size, in the viewport (README screenshot).
  await manager.setViewportSize(PHONE);
  await manager.locator('[data-group="during"]').scrollIntoViewIfNeeded();
  await manager.screenshot({ path: path.join(SHOTS, "job-video-phone-view.png") });
  await manager.setViewportSize(DESKTOP);
});

test("documents: upload a PDF with its type, download the same bytes, delete it after confirming", { timeout: 60_000 }, async () => {
  await openJob(manager, "JOB-006");
  const pdf = Buffer.from(makePdf());
  const docs = manager.locator("section", { has: manager.getByRole("heading", { name: "Documents" }) });
  await docs.getByLabel("Document type").selectOption({ index: 0 });
  await docs.getByLabel("File", { exact: true }).setInputFiles({ name: "gas-certificate.pdf", mimeType: "application/pdf", buffer: pdf });
  await docs.getByRole("button", { name: "Upload" }).click();
  await docs.getByText("gas-certificate.pdf", { exact: true }).waitFor();
  const [download] = await Promise.all([
    manager.waitForEvent("download"),
    docs.getByRole("button", { name: "Download gas-certificate.pdf" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "gas-certificate.pdf");
  const saved = path.join(stack.tmp, "downloaded.pdf");
  await download.saveAs(saved);
  assert.deepEqual(await readFile(saved), pdf);
  await shots(manager, "job-documents");

  manager.once("dialog", (d) => void d.accept());
  await docs.getByRole("button", { name: "Delete gas-certificate.pdf" }).click();
  await docs.getByText("No documents.").waitFor();
});

test("workflow: a manager passes an approval gate, recalls a completed job and completes the recall", { timeout: 60_000 }, async () => {
  await openJob(manager, "JOB-004");
  assert.equal(await text(manager, '[data-testid="job-status"]'), "Awaiting Approval");
  await manager.getByLabel("Notes (optional)").fill("Checked on site — proceed.");
  await manager.getByRole("button", { name: "Approve", exact: true }).click();
  await manager.locator(".flash").waitFor();
  assert.match(await text(manager, ".flash"), /approved/i);
  assert.notEqual(await text(manager, '[data-testid="job-status"]'), "Awaiting Approval");
  assert.equal(await manager.getByRole("heading", { name: "Approval gate" }).count(), 0);

  await openJob(manager, "JOB-009");
  assert.equal(await text(manager, '[data-testid="job-status"]'), "Completed");
  await manager.getByLabel("Reason for the recall").fill("Paint flaking within a week.");
  await manager.getByRole("button", { name: "Recall this job" }).click();
  await manager.getByRole("button", { name: "Mark recall completed" }).waitFor();
  assert.match(await text(manager, ".flash"), /recall/i);
  assert.equal(await text(manager, ".job-meta .recall"), "Recall");
  await shots(manager, "job-recalled");
  await manager.getByRole("button", { name: "Mark recall completed" }).click();
  await manager.getByRole("button", { name: "Recall this job" }).waitFor();
  assert.equal(await text(manager, '[data-testid="job-status"]'), "Completed");
  assert.equal(await manager.locator(".job-meta .recall").count(), 0);
  assert.match(await text(manager, "ol.audit"), /Manager_001 (recalled the job|completed the recall)\./);
});

test("a contractor signs in, sees only their jobs without private contacts or controls they may not use, and proposes an amendment", {
  timeout: 60_000,
}, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  try {
    // Keyboard only: Tab from the skip link to the token field, type, Enter.
    const contractor = await context.newPage();
    await contractor.goto(`${stack.url}/app/`);
    await contractor.getByLabel("API token").waitFor();
    await contractor.keyboard.press("Tab");
    await contractor.keyboard.press("Tab");
    assert.equal(await contractor.evaluate("document.activeElement?.name"), "token");
    await contractor.keyboard.type(stack.tokens.contractor);
    await contractor.keyboard.press("Enter");
    await contractor.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    assert.equal(await text(contractor, '[data-testid="job-count"]'), "Showing 1–6 of 6 jobs");
    await shots(contractor, "home-contractor");
    await openJob(contractor, "JOB-001");
    assert.equal(await contractor.getByTestId("private-contact").count(), 0);
    assert.equal(await contractor.getByRole("button", { name: /Recall|Approve|Mark recall/ }).count(), 0);
    // What a contractor may not use is not offered: no remedials section, no "Missing permission".
    assert.equal(await contractor.locator("#rem-title").count(), 0);
    assert.equal(await contractor.getByText(/Missing permission/).count(), 0);

    await contractor.getByLabel("Field", { exact: true }).selectOption("contractor_budget");
    await contractor.getByLabel("Requested value").fill("220");
    await contractor.getByLabel("Reason", { exact: true }).fill("Additional materials required.");
    await contractor.getByRole("button", { name: "Submit proposal" }).click();
    const item = contractor.locator(".amendments li").first();
    await item.waitFor();
    assert.match(
      (await item.textContent()) ?? "",
      /Contractor Budget: £180\.00 → £220\.00 pending.*Additional materials required\..*Contractor_001/s,
    );
    assert.equal(await item.getByRole("button", { name: /Approve/ }).count(), 0, "contractors cannot decide");
    await shots(contractor, "job-contractor");
  } finally {
    await context.close();
  }
});

test("a staff member without management authority who tries to approve sees a clear 403, and the buttons go away", {
  timeout: 60_000,
}, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  try {
    const staff = await signIn(context, stack.tokens.staff);
    await openJob(staff, "JOB-001");
    await staff.getByRole("button", { name: "Approve contractor budget change" }).click();
    const refusal = staff.locator(".amendments .status.forbidden");
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? "", /^You do not have permission to approve the amendment\. .+/);
    assert.equal(await refusal.getAttribute("role"), "alert");
    assert.equal(await staff.getByRole("button", { name: /contractor budget change/ }).count(), 0);
    assert.equal(await text(staff, ".amendments .badge"), "pending", "nothing was decided");
    await shots(staff, "job-staff-403");
    // Remembered for the session: the page drawn again offers no decision either.
    await openJob(staff, "JOB-001");
    assert.equal(await staff.getByRole("button", { name: /contractor budget change/ }).count(), 0);
  } finally {
    await context.close();
  }
});

test("a manager approves the contractor's amendment and the job shows the new budget", { timeout: 60_000 }, async () => {
  await openJob(manager, "JOB-001");
  assert.match(await text(manager, ".details"), /Contractor budget£180\.00/);
  await manager.getByRole("button", { name: "Approve contractor budget change" }).click();
  await manager.locator(".amendments .amend-approved").waitFor();
  assert.match(await text(manager, ".flash"), /approved/i);
  assert.equal(await manager.evaluate("document.activeElement?.classList.contains('flash')"), true, "focus moves to the outcome");
  assert.match(await text(manager, ".details"), /Contractor budget£220\.00/);
  // The trail in sentences with names and pounds, not event keys and raw numbers.
  const trail = await text(manager, "ol.audit");
  assert.match(trail, /Manager_001 approved a proposed change\./);
  assert.match(trail, /Contractor budget: £180\.00 → £220\.00/);
  assert.doesNotMatch(trail, /amendment\.|job\.updated|[0-9a-f]{8}-[0-9a-f]{4}-/);
  await shots(manager, "job-amendment-approved");
});
